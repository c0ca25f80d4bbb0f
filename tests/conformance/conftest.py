"""Fixtures of the conformance-checker tests: a faulty in-process davbind, real servers.

``faulty`` is one :class:`FaultyServer` for the session (``faulty.py``, its faults in
``faults.py``), switched from fault to fault by the tests; ``davbind_url`` is a
``davbind serve`` subprocess and ``wsgidav`` starts WsgiDAV, both from
``tests/client/servers.py``; ``davbind_users`` starts one with accounts.  Helper modules are
loaded by path (test directories are not packages, ``--import-mode=importlib``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

HERE = Path(__file__).parent


def load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


faulty_mod = load("davbind_test_faulty", HERE / "faulty.py")
load("davbind_test_faults", HERE / "faults.py")  # registers every fault in faulty_mod
servers = load("davbind_test_servers", HERE.parent / "client" / "servers.py")


@pytest.fixture(scope="session")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = faulty_mod.FaultyServer(tmp_path_factory.mktemp("faulty") / "data").start()
    try:
        yield server
    finally:
        server.set_fault(None)
        server.stop()


@pytest.fixture(scope="session")
def davbind_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with servers.davbind_server(tmp_path_factory.mktemp("davbind")) as url:
        yield url


@pytest.fixture
def wsgidav(tmp_path: Path) -> Callable[..., Any]:
    """``with wsgidav() as (url, root):`` — WsgiDAV over a fresh directory."""

    def start(**kwargs: Any) -> Any:
        return servers.wsgidav_server(tmp_path, **kwargs)

    return start


@pytest.fixture
def davbind_factory(tmp_path: Path) -> Callable[..., Any]:
    """``with davbind_factory(("--no-loops",)) as url:`` — a server with its own flags."""

    def start(extra_args: tuple[str, ...] = ()) -> Any:
        return servers.davbind_server(tmp_path, extra_args)

    return start


def add_users(data: Path, users: dict[str, str]) -> None:
    """``davbind user add NAME --password-stdin`` for each user, on ``data``."""
    for name, password in users.items():
        cmd = [sys.executable, "-m", "davbind.cli.main", "user", "add", name,
               "--password-stdin", "--data", str(data)]  # fmt: skip
        subprocess.run(cmd, input=password + "\n", text=True, check=True, capture_output=True)


@pytest.fixture(scope="module")
def davbind_users(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """``with davbind_users({"alice": "pw"}, extra_args) as url:`` — a server whose data
    directory has these accounts (and their homes) before it starts."""

    @contextlib.contextmanager
    def start(users: dict[str, str], extra_args: tuple[str, ...] = ()) -> Iterator[str]:
        tmp = tmp_path_factory.mktemp("davbind-users")
        add_users(tmp / "data", users)
        with servers.davbind_server(tmp, extra_args, data=tmp / "data") as url:
            yield url

    return start


@pytest.fixture(scope="session")
def check_cmd() -> list[str]:
    """The ``davbind check`` command line (the module directly until main.py has it)."""
    from davbind.cli.main import cli

    if "check" in cli.commands:
        return [sys.executable, "-m", "davbind.cli.main", "check"]
    return [sys.executable, "-c",
            "from davbind.cli.check_cmd import check; check(prog_name='davbind check')"]
