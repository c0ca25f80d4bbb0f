"""The connection limits of ``server/connection_limits.py`` (``GuardedProtocol``), over
raw sockets against a real uvicorn in a thread of the test process.  A tiny ASGI app
stands in for davbind's (the seam does not care which app runs behind it); short limits
keep each test quick.  The test command also runs these against the lowest uvicorn
``pyproject.toml`` allows."""

from __future__ import annotations

import asyncio
import re
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from davbind.server.connection_limits import ConnectionLimits, GuardedProtocol, refused_method
from davbind.server.settings import SettingsError, load_settings

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Served

LIMITS = ConnectionLimits(header_timeout=1.0, max_header_bytes=4096, max_header_fields=20,
                          max_connections=4)  # fmt: skip


class App:
    """Answers 200 with the request target; ``/hold`` waits until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.seen: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "http"
        self.seen.append(f"{scope['method']} {scope['path']}")
        while not self.release.is_set() and scope["path"] == "/hold":
            await asyncio.sleep(0.01)
        body = f"{scope['method']} {scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})


class Server(Served):
    def __init__(self, limits: ConnectionLimits, keep_alive: float = 5.0) -> None:
        self.app = App()
        protocol = type("Limited", (GuardedProtocol,), {"limits": limits})
        super().__init__(self.app, http=protocol, timeout_keep_alive=keep_alive)

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def stop(self, timeout: float = 10) -> None:
        self.app.release.set()
        super().stop(timeout)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    started: list[Server] = []

    def start(limits: ConnectionLimits = LIMITS, keep_alive: float = 5.0) -> Server:
        started.append(Server(limits, keep_alive))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def statuses(data: bytes) -> list[int]:
    return [int(code) for code in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)]


def exchange(server: Server, payload: bytes) -> bytes:
    with server.connect() as s:
        s.sendall(payload)
        return read_all(s)


# -- methods and targets ---------------------------------------------------------------


def test_an_unknown_method_is_501_and_a_malformed_one_400(serve):
    server = serve()
    answer = exchange(server, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(answer) == [501]
    assert b"FOO is not implemented" in answer and b"connection: close" in answer
    assert statuses(exchange(server, b"G(T / HTTP/1.1\r\nHost: x\r\n\r\n")) == [400]
    assert server.app.seen == []


def test_a_method_split_across_reads_is_still_named(serve):
    server = serve()
    with server.connect() as s:
        s.sendall(b"\r\nFO")
        time.sleep(0.2)
        s.sendall(b"O / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert statuses(read_all(s)) == [501]


def test_unknown_method_after_an_answered_request_on_the_same_connection(serve):
    server = serve()
    with server.connect() as s:
        s.sendall(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
        s.sendall(b"FOO /b HTTP/1.1\r\nHost: x\r\n\r\n")
        assert statuses(read_all(s)) == [501]


@pytest.mark.parametrize("method", [b"GETX", b"A" * 100])
def test_refused_method_reads_the_token(method):
    refusal = refused_method(method + b" / HTTP/1.1\r\n")
    assert refusal is not None and refusal.status == 501
    refusal = refused_method(b"G@T / HTTP/1.1\r\n")
    assert refusal is not None and refusal.status == 400
    assert refused_method(b"\r\nFO") is None  # the method's end is still to come


def test_a_fragment_is_400_and_never_reaches_the_app(serve):
    server = serve()
    answer = exchange(server, b"DELETE /a#frag HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(answer) == [400] and b"fragment" in answer
    assert server.app.seen == []


def test_a_refusal_pipelined_behind_a_request_waits_for_its_answer(serve):
    server = serve()
    with server.connect() as s:
        s.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"DELETE /a#frag HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /never HTTP/1.1\r\nHost: x\r\n\r\n")  # fmt: skip
        time.sleep(0.3)
        s.setblocking(False)
        with pytest.raises(BlockingIOError):
            s.recv(1)  # the 400 must not overtake the answer still being made
        s.setblocking(True)
        server.app.release.set()
        answer = read_all(s)
    assert statuses(answer) == [200, 400]
    assert answer.index(b"GET /hold") < answer.index(b"400 Bad Request")
    assert server.app.seen == ["GET /hold"]


# -- head size and field count ------------------------------------------------------------


def test_a_head_at_the_limit_passes_and_one_byte_more_is_431(serve):
    server = serve()
    line = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: "
    # url "/" (1) + "Host: x\r\n" (9) + "X-Pad: ...\r\n" (9 + n) is what is counted
    fits = line + b"a" * (4096 - 1 - 9 - 9) + b"\r\n\r\n"
    with server.connect() as s:
        s.sendall(fits)
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    answer = exchange(server, line + b"a" * (4096 - 1 - 9 - 9 + 1) + b"\r\n\r\n")
    assert statuses(answer) == [431]


def test_a_head_still_arriving_is_refused_once_it_exceeds_the_limit(serve):
    server = serve()
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
        for _ in range(8):  # 8 KiB of a head that never ends
            s.sendall(b"a" * 1024)
            time.sleep(0.01)
        start = time.monotonic()
        answer = read_all(s)
    assert statuses(answer) == [431]
    assert time.monotonic() - start < 0.5  # not the head deadline (1 s)


def test_too_many_header_fields_is_431(serve):
    server = serve()
    fields = b"".join(b"X-%d: v\r\n" % i for i in range(21))
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields + b"\r\n")
    assert statuses(answer) == [431] and b"more than 20 header fields" in answer
    ok = b"".join(b"X-%d: v\r\n" % i for i in range(19))
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + ok + b"\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")


# -- deadlines -----------------------------------------------------------------------------


def test_a_silent_connection_gets_408_after_the_head_deadline(serve):
    server = serve()
    with server.connect() as s:
        start = time.monotonic()
        answer = read_all(s)
        waited = time.monotonic() - start
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert 0.9 < waited < 2.5


def test_a_trickled_head_gets_408_although_bytes_keep_coming(serve):
    server = serve()
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\n")
        start = time.monotonic()
        s.settimeout(0.1)
        answer = b""
        while time.monotonic() - start < 3:
            try:
                s.sendall(b"X: y\r\n")
                answer += s.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if b"\r\n\r\n" in answer:
                break
    assert statuses(answer) == [408]
    assert time.monotonic() - start < 2.5


def test_a_kept_alive_connection_is_closed_silently_when_idle(serve):
    server = serve(keep_alive=0.5)
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        first = s.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        start = time.monotonic()
        assert read_all(s) == b""
        assert time.monotonic() - start < 1.5


def test_the_deadline_restarts_for_each_request(serve):
    server = serve()
    with server.connect() as s:
        for _ in range(3):  # 3 x 0.6 s on one connection: longer than one deadline
            time.sleep(0.6)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            assert s.recv(65536).startswith(b"HTTP/1.1 200")


# -- connections per worker ----------------------------------------------------------------


def test_a_new_connection_evicts_the_longest_waiting_one(serve):
    server = serve()
    idle = [server.connect() for _ in range(4)]
    time.sleep(0.1)
    with server.connect() as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(65536).startswith(b"HTTP/1.1 200")
    oldest = read_all(idle[0])
    assert statuses(oldest) == [408] and b"make room" in oldest
    for sock in idle[1:]:
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(1)  # still open, nothing said
    for sock in idle:
        sock.close()


def test_when_every_connection_is_busy_the_newcomer_gets_503(serve):
    server = serve()
    busy = [server.connect() for _ in range(4)]
    for sock in busy:
        sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
    deadline = time.monotonic() + 5
    while len(server.app.seen) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    answer = exchange(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert statuses(answer) == [503] and b"retry-after: 1" in answer
    server.app.release.set()
    for sock in busy:
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        sock.close()


def test_limits_fit_the_open_files_limit():
    assert ConnectionLimits(max_connections=1000).fitted(1024).max_connections == 462
    assert ConnectionLimits(max_connections=1000).fitted(100_000).max_connections == 1000


@pytest.mark.parametrize("name", ["header_timeout", "keepalive_timeout", "max_header_bytes",
                                  "max_header_fields", "max_connections"])  # fmt: skip
def test_the_settings_are_positive_whole_numbers(name, monkeypatch):
    monkeypatch.setenv(f"DAVBIND_{name.upper()}", "7")
    assert getattr(load_settings(None, {}), name) == 7
    monkeypatch.setenv(f"DAVBIND_{name.upper()}", "0")
    with pytest.raises(SettingsError, match=f"DAVBIND_{name.upper()}"):
        load_settings(None, {})
