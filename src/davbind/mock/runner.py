"""Running a mock under uvicorn: :class:`MockServer` for tests, helpers for the CLI.

What it holds: :class:`MockServer`, a context manager that serves a scenario on a free
loopback port from a background thread::

    with MockServer("propstat-208") as m:
        httpx.request("PROPFIND", m.url + "/Coll/", headers={"Depth": "infinity"})
        assert not m.unmet and not m.unexpected

The rules kept here: the listening socket is bound before uvicorn starts, so the port is
known (and connections queue) from the moment :meth:`MockServer.start` returns; uvicorn
never installs signal handlers off the main thread, so a test's Ctrl-C still works.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import uvicorn

from davbind.mock.app import MockApp
from davbind.mock.ledger import Report, Unexpected, Unmet
from davbind.mock.library import find_scenario
from davbind.mock.model import Scenario

START_TIMEOUT = 10.0


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket for ``host``:``port`` (0 picks a free port).

    It listens before uvicorn starts, so early connections wait in the backlog.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(2048)
    return sock


def base_url(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def uvicorn_server(app: MockApp, *, loop: str = "auto") -> uvicorn.Server:
    config = uvicorn.Config(app, log_level="warning", loop=loop, lifespan="on",
                            timeout_graceful_shutdown=5)
    return uvicorn.Server(config)


class MockServer:
    """A scenario served from a background thread; see the module docstring."""

    def __init__(
        self,
        scenario: Scenario | str | Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        log: Callable[[str], None] | None = None,
        replay: bool = False,
    ) -> None:
        self.scenario = scenario if isinstance(scenario, Scenario) else find_scenario(scenario)
        self.app = MockApp(self.scenario, log=log, replay=replay)
        self._host = host
        self._port = port
        self._url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash); valid once started."""
        if not self._url:
            raise RuntimeError("MockServer is not started")
        return self._url

    @property
    def unmet(self) -> tuple[Unmet, ...]:
        return self.app.ledger.unmet()

    @property
    def unexpected(self) -> tuple[Unexpected, ...]:
        return self.app.ledger.unexpected()

    def report(self) -> Report:
        return self.app.ledger.report()

    def hits(self, index: int) -> int:
        """How often expectation ``index`` (1-based) was met."""
        return self.app.ledger.hits(index)

    def wait_until_done(self, timeout: float = 10.0) -> bool:
        """Wait until nothing is unmet (and a request was served); False on timeout."""
        deadline = time.monotonic() + timeout
        while not self.app.ledger.done():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def start(self) -> MockServer:
        sock = listen_socket(self._host, self._port)
        self._url = base_url(sock)
        server = uvicorn_server(self.app, loop="asyncio")
        self._server = server

        def run() -> None:
            try:
                server.run(sockets=[sock])
            except BaseException as exc:  # reported by start()
                self._error = exc
            finally:
                sock.close()

        self._thread = threading.Thread(target=run, name=f"mock:{self.scenario.name}",
                                        daemon=True)
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT
        while not server.started:
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"mock server did not start: {self._error!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("mock server did not start in time")
            time.sleep(0.005)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=START_TIMEOUT)
            self._thread = None

    def __enter__(self) -> MockServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
