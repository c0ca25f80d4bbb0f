"""Real servers for the client tests: ``davbind serve`` and WsgiDAV, each its own process.

Loaded by path from ``tests/client/conftest.py`` and ``tests/cli/conftest.py`` (test
directories are not packages).  Every server listens on a free loopback port, keeps its
data under the test's temporary directory, logs to a file there, and is stopped (SIGTERM,
then SIGKILL of its process group) when the ``with`` block ends.

WsgiDAV is the peer without bindings: no ``DAV:resource-id``, no 208.  With
``refuse_infinity`` a small WSGI middleware answers every Depth-infinity PROPFIND with
403 ``propfind-finite-depth`` (RFC 4918 §9.1), as Apache's mod_dav does by default.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx

READY_TIMEOUT = 20.0

WSGIDAV_SCRIPT = r"""
import json, sys
from cheroot import wsgi
from wsgidav.wsgidav_app import WsgiDAVApp

cfg = json.loads(sys.argv[1])
users = cfg["users"]
config = {
    "host": "127.0.0.1",
    "port": cfg["port"],
    "provider_mapping": {"/": cfg["root"]},
    "verbose": 1,
    "logging": {"enable_loggers": []},
    "http_authenticator": {
        "domain_controller": None,
        "accept_basic": True,
        "accept_digest": True,
        "default_to_digest": cfg["digest"],
        "trusted_auth_header": None,
    },
    "simple_dc": {"user_mapping": {"*": users if users else True}},
    "dir_browser": {"enable": False},
    "lock_storage": True,
    "property_manager": True,
}
app = WsgiDAVApp(config)

FINITE = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
          b'<D:propfind-finite-depth/></D:error>')

def refuse_infinity(environ, start_response):
    if (environ["REQUEST_METHOD"] == "PROPFIND"
            and environ.get("HTTP_DEPTH", "infinity").lower() == "infinity"):
        start_response("403 Forbidden", [("Content-Type", "application/xml"),
                                         ("Content-Length", str(len(FINITE)))])
        return [FINITE]
    return app(environ, start_response)

server = wsgi.Server(("127.0.0.1", cfg["port"]),
                     refuse_infinity if cfg["refuse_infinity"] else app)
try:
    server.start()
except KeyboardInterrupt:
    server.stop()
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            httpx.request("OPTIONS", url, timeout=2.0)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"server at {url} did not answer:\n{log.read_text()}")


@contextlib.contextmanager
def _run(cmd: Sequence[str], url: str, log: Path, cwd: Path) -> Iterator[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=cwd, env=env, start_new_session=True,
        )  # fmt: skip
    try:
        _wait(proc, url, log)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@contextlib.contextmanager
def davbind_server(
    tmp: Path, extra_args: Sequence[str] = (), *, data: Path | None = None
) -> Iterator[str]:
    """``davbind serve`` on a fresh data directory (or on ``data``, prepared by the
    caller, e.g. with ``davbind user add``); yields ``http://127.0.0.1:PORT/``.
    Binding loops are allowed: the client, CLI and checker tests exercise them (the
    default that refuses them is tested in tests/server/test_permissions.py)."""
    port = free_port()
    data = data if data is not None else tmp / f"davbind-{port}"
    cmd = [sys.executable, "-m", "davbind.cli.main", "serve", "--host", "127.0.0.1",
           "--port", str(port), "--data", str(data), "--allow-loops", *extra_args]  # fmt: skip
    with _run(cmd, f"http://127.0.0.1:{port}/", tmp / f"davbind-{port}.log", tmp) as url:
        yield url


@contextlib.contextmanager
def wsgidav_server(
    tmp: Path,
    *,
    users: dict[str, str] | None = None,
    digest: bool = False,
    refuse_infinity: bool = False,
) -> Iterator[tuple[str, Path]]:
    """WsgiDAV over a directory; yields (URL, the directory it serves)."""
    port = free_port()
    root = tmp / f"wsgidav-{port}"
    root.mkdir()
    cfg = {
        "port": port, "root": str(root), "digest": digest, "refuse_infinity": refuse_infinity,
        "users": {u: {"password": p} for u, p in (users or {}).items()},
    }  # fmt: skip
    cmd = [sys.executable, "-c", WSGIDAV_SCRIPT, json.dumps(cfg)]
    with _run(cmd, f"http://127.0.0.1:{port}/", tmp / f"wsgidav-{port}.log", tmp) as url:
        yield url, root
