"""A real uvicorn server with davbind's app and ``ZeroCopyProtocol``, served from a thread
of the test process (so tests can look inside the app), and raw-socket helpers.  Test
modules put this directory on ``sys.path`` and import it."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from davbind.server.app import App, build_services
from davbind.server.settings import Settings
from davbind.server.zerocopy import ZeroCopyProtocol


class Served:
    """``app`` behind uvicorn with ``ZeroCopyProtocol`` (or ``http``) on a free loopback
    port, served from a thread (``config`` goes to ``uvicorn.Config``; lifespan off
    unless given)."""

    def __init__(self, app: Any, http: type[Any] = ZeroCopyProtocol, **config: Any) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(
            app, http=http, loop="uvloop", log_level="warning",
            **{"lifespan": "off", **config},
        ))  # fmt: skip
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)  # fmt: skip
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)

    def stop(self, timeout: float = 10) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=timeout)


class Live(Served):
    """davbind's app over ``data_dir``, served, with an httpx client for it."""

    def __init__(self, data_dir: Path, keep_alive: float = 5.0, **options: int) -> None:
        self.settings = Settings(data_dir=str(data_dir), **options).resolved()
        self.app = App(build_services(self.settings))
        super().__init__(self.app, lifespan="on", timeout_keep_alive=keep_alive)
        self.http = httpx.Client(base_url=self.url)

    def stop(self, timeout: float = 10) -> None:
        self.http.close()
        super().stop(timeout)
        self.app.services.threads.close()
        self.app.services.store.close()


def raw_exchange(port: int, payload: bytes, expect_responses: int) -> bytes:
    """Send raw bytes, read until ``expect_responses`` complete answers arrived."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(payload)
        data = b""
        while data.count(b"HTTP/1.1 ") < expect_responses or not _complete(data):
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        return data


def _complete(data: bytes) -> bool:
    """Every answer in ``data`` has its whole Content-Length body."""
    rest = data
    while rest:
        head, sep, after = rest.partition(b"\r\n\r\n")
        if not sep:
            return False
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        if len(after) < length:
            return False
        rest = after[length:]
    return True


