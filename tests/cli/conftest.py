"""The CLI tests share the client tests' servers and fixtures: one ``davbind serve`` per
session, WsgiDAV per test (defined once, in tests/client/conftest.py)."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def _load_client_conftest() -> dict[str, object]:
    path = Path(__file__).parents[1] / "client" / "conftest.py"
    spec = importlib.util.spec_from_file_location("davbind_client_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if not k.startswith("__")}


globals().update(_load_client_conftest())
