"""Fixtures for the CLI tests: one ``davbind serve`` per session, WsgiDAV per test.

Tests that write take a fresh collection of their own (``space``), so they can share the
session's server without seeing each other's files.
"""

from __future__ import annotations

import importlib.util
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from davbind.client import Client


def _load_servers() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "davbind_test_servers", Path(__file__).parents[1] / "client" / "servers.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


servers = _load_servers()


@pytest.fixture(scope="session")
def davbind_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with servers.davbind_server(tmp_path_factory.mktemp("davbind")) as url:
        yield url


@pytest.fixture
def client(davbind_url: str) -> Iterator[Client]:
    with Client(davbind_url) as c:
        yield c


@pytest.fixture
def space(client: Client) -> str:
    """A fresh, empty collection path on the session server, e.g. ``/t-1a2b3c4d/``."""
    path = f"/t-{uuid.uuid4().hex[:8]}/"
    client.mkcol(path)
    return path


@pytest.fixture
def wsgidav(tmp_path: Path) -> Callable[..., object]:
    """``with wsgidav(users=..., digest=..., refuse_infinity=...) as (url, root):``."""

    def start(**kwargs: object) -> object:
        return servers.wsgidav_server(tmp_path, **kwargs)

    return start


@pytest.fixture
def davbind_factory(tmp_path: Path) -> Callable[..., object]:
    """``with davbind_factory(extra_args) as url:`` — a server with its own settings."""

    def start(extra_args: tuple[str, ...] = ()) -> object:
        return servers.davbind_server(tmp_path, extra_args)

    return start
