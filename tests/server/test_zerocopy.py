"""The ASGI ``http.response.zerocopysend`` extension of ``ZeroCopyProtocol`` (the uvicorn seam,
server/zerocopy.py), against uvicorn + uvloop on a real socket, served from a thread.

What must hold: the extension is offered on plain TCP; the bytes on the wire are exactly
the file range asked for, in Content-Length or chunked framing (RFC 9112 §6.2, §7.1);
an omitted offset reads from the file position and moves it on, an omitted count reads
to the end; a file shorter than announced, a client that goes away and a shutdown
mid-body all end with the connection closed and the server still serving; the next
request on a kept-alive connection works; davbind's GET uses the extension.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from davbind.server import zerocopy
from davbind.server.app import App, build_services
from davbind.server.http import ZEROCOPY
from davbind.server.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Served as Live

MIB = 1024 * 1024
DATA = random.Random(5).randbytes(3 * MIB + 123)
BIG = 48 * MIB  # more than loopback socket buffers hold (about 4 + 6 MiB)


class FileApp:
    """An ASGI app that answers from one file through the extension, as asked by the
    path and query; ``events`` records what each request saw and how its send ended."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.events: list[tuple[str, Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.events.append(("extensions", scope.get("extensions")))
        query = {k: int(v[0]) for k, v in parse_qs(scope["query_string"].decode()).items()}
        kind = scope["path"]
        with self.path.open("rb") as fh:
            if kind == "/bytes":  # a plain body, which uvloop may still hold when it returns
                body = fh.read()
                await self._start(send, len(body))
                await send({"type": "http.response.body", "body": body})
                return
            if kind == "/chunked":  # no Content-Length: uvicorn frames the body in chunks
                await send({"type": "http.response.start", "status": 200, "headers": []})
                half = self.size // 2
                await send({"type": ZEROCOPY, "file": fh.fileno(), "offset": 0, "count": half,
                            "more_body": True})  # fmt: skip
                await send({"type": ZEROCOPY, "file": fh.fileno(), "offset": half,
                            "more_body": False})  # fmt: skip
                return
            if kind == "/position":  # file object, no offset: the file position counts
                fh.seek(query["o"])
                n = query["n"]
                await self._start(send, 2 * n)
                for more in (True, False):
                    await send({"type": ZEROCOPY, "file": fh, "count": n, "more_body": more})
                self.events.append(("position", fh.tell()))
                return
            offset = query.get("o", 0)
            count = query.get("n", self.size - offset)
            await self._start(send, count + query.get("extra", 0))
            message: dict[str, Any] = {"type": ZEROCOPY, "file": fh.fileno(), "more_body": False}
            if kind == "/range":
                message.update(offset=offset, count=count + query.get("extra", 0))
            try:
                await send(message)
            except BaseException as exc:
                self.events.append(("send", type(exc).__name__))
                raise
            self.events.append(("send", "returned"))

    @staticmethod
    async def _start(send: Any, length: int) -> None:
        headers = [(b"content-length", str(length).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})


@pytest.fixture
def make_live(tmp_path: Path) -> Iterator[Callable[..., tuple[Live, FileApp, bytes]]]:
    started: list[Live] = []

    def make(data: bytes = DATA, **config: Any) -> tuple[Live, FileApp, bytes]:
        path = tmp_path / f"f{len(started)}.bin"
        path.write_bytes(data)
        app = FileApp(path)
        live = Live(app, **config)
        started.append(live)
        return live, app, data

    yield make
    for live in started:
        live.stop()


class _SendfileCalls:
    """Bytes each thread copied with ``sendfile``: a test counts its own server's thread
    only (a server of an earlier test may still be finishing a copy)."""

    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def bytes_by(self, thread: threading.Thread) -> int:
        return sum(n for ident, n in self.calls if ident == thread.ident)


def _sendfile_calls(monkeypatch: pytest.MonkeyPatch) -> _SendfileCalls:
    counts = _SendfileCalls()
    real = os.sendfile

    def counting(out: int, fd: int, offset: int | None, count: int) -> int:
        n = real(out, fd, offset, count)
        counts.calls.append((threading.get_ident(), n))
        return n

    monkeypatch.setattr(zerocopy.os, "sendfile", counting)
    return counts


def test_offered_on_plain_tcp_and_bytes_exact_with_keep_alive(make_live, monkeypatch):
    calls = _sendfile_calls(monkeypatch)
    live, app, data = make_live()
    with httpx.Client(base_url=live.url, limits=httpx.Limits(max_connections=1)) as c:
        peers = set()
        for path, want in (
            ("/whole", data),
            (f"/range?o=1000&n={MIB}", data[1000 : 1000 + MIB]),
            ("/whole", data),
            (f"/range?o={len(data) - 7}&n=7", data[-7:]),
        ):
            r = c.get(path)
            assert r.status_code == 200 and r.content == want, path
            assert r.headers["content-length"] == str(len(want))
            peers.add(r.extensions["network_stream"].get_extra_info("client_addr"))
    assert len(peers) == 1  # one kept-alive connection throughout
    assert app.events[0] == ("extensions", {ZEROCOPY: {}})
    # the last bytes reach the client before the server thread records their sendfile
    # (it appends after the call returns): give it a moment, then the count is exact
    want = 2 * len(data) + MIB + 7
    deadline = time.monotonic() + 5
    while calls.bytes_by(live.thread) < want and time.monotonic() < deadline:
        time.sleep(0.01)
    assert calls.bytes_by(live.thread) == want


def test_no_offset_reads_from_the_file_position_and_moves_it(make_live):
    live, app, data = make_live()
    r = httpx.get(f"{live.url}/position?o=12345&n=100000")
    assert r.status_code == 200 and r.content == data[12345 : 12345 + 200000]
    # the app records the position after its last send returns, which may be after the
    # client has read the whole body: give the server thread a moment
    deadline = time.monotonic() + 5
    while len(app.events) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("position", 12345 + 200000) in app.events


def test_chunked_framing_when_there_is_no_content_length(make_live):
    live, _, data = make_live()
    r = httpx.get(f"{live.url}/chunked")
    assert r.headers["transfer-encoding"] == "chunked"
    assert r.content == data


def test_pipelined_answers_leave_in_order(make_live):
    live, _, data = make_live()
    requests = b"GET /bytes HTTP/1.1\r\nHost: x\r\n\r\nGET /whole HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        s.connect(("127.0.0.1", live.port))
        s.settimeout(10)
        s.sendall(requests)  # the second answer starts while the first may still be held
        time.sleep(0.2)
        parts, size, got = [], 0, b""
        while not got.endswith(data):
            chunk = s.recv(MIB)
            assert chunk, "connection closed"
            parts.append(chunk)
            size += len(chunk)
            if size >= 2 * len(data):
                got = b"".join(parts)
    first, _, rest = got.partition(b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    assert rest[: len(data)] == data
    second, _, body = rest[len(data) :].partition(b"\r\n\r\n")
    assert second.startswith(b"HTTP/1.1 200") and body[: len(data)] == data


def test_head_sends_no_body_and_the_connection_stays_usable(make_live):
    live, _, data = make_live()
    with httpx.Client(base_url=live.url) as c:
        h = c.head("/whole")
        assert h.headers["content-length"] == str(len(data)) and h.content == b""
        assert c.get("/range?o=0&n=10").content == data[:10]


def _raw_get(port: int, target: str, rcvbuf: int = 0) -> socket.socket:
    s = socket.socket()
    if rcvbuf:  # small, so the server's copy has to wait for the client
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(("127.0.0.1", port))
    s.settimeout(10)
    s.sendall(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return s


def _read_all(s: socket.socket) -> bytes:
    parts = []
    while chunk := s.recv(MIB):
        parts.append(chunk)
    return b"".join(parts)


def test_a_file_shorter_than_announced_closes_the_connection(make_live):
    live, app, data = make_live()
    with _raw_get(live.port, "/range?o=0&extra=10") as s:
        got = _read_all(s)  # ends: the server closed the connection, it did not hang
    head, _, body = got.partition(b"\r\n\r\n")
    assert f"content-length: {len(data) + 10}".encode() in head
    assert body == data
    deadline = time.monotonic() + 5  # the app records it after the close reached us
    while ("send", "returned") not in app.events and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("send", "returned") in app.events
    assert httpx.get(f"{live.url}/range?o=5&n=5").content == data[5:10]


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_a_client_that_goes_away_mid_body(make_live, reset):
    live, app, data = make_live(random.Random(1).randbytes(BIG))
    with _raw_get(live.port, "/whole", rcvbuf=64 * 1024) as s:
        assert len(s.recv(65536)) > 0
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    deadline = time.monotonic() + 10
    while ("send", "returned") not in app.events:
        assert time.monotonic() < deadline, app.events
        time.sleep(0.02)
    r = httpx.get(f"{live.url}/range?o={BIG - MIB}&n={MIB}")
    assert r.content == data[-MIB:]


def test_shutdown_cancels_a_stalled_transfer_and_closes_it(make_live):
    live, app, _ = make_live(random.Random(2).randbytes(BIG), timeout_graceful_shutdown=1)
    with _raw_get(live.port, "/whole", rcvbuf=64 * 1024) as s:
        s.recv(65536)  # then stall: the copy waits for the socket
        time.sleep(0.2)
        live.stop(timeout=10)
        assert not live.thread.is_alive()
        assert ("send", "CancelledError") in app.events
        s.settimeout(5)
        received = 0
        while chunk := s.recv(MIB):  # the connection was closed, not left open
            received += len(chunk)
        assert received < BIG


def test_davbind_get_uses_the_extension(tmp_path, monkeypatch):
    calls = _sendfile_calls(monkeypatch)
    settings = Settings(data_dir=str(tmp_path / "data")).resolved()
    app = App(build_services(settings))
    live = Live(app)
    body = random.Random(3).randbytes(5 * MIB + 1)
    try:
        with httpx.Client(base_url=live.url) as c:
            assert c.put("/big.bin", content=body).status_code == 201
            r = c.get("/big.bin")
            assert r.content == body
            assert c.get("/big.bin").content == body  # sent again, not kept by respcache
            assert r.headers["content-length"] == str(len(body))
            assert r.headers["etag"] == c.head("/big.bin").headers["etag"]
            part = c.get("/big.bin", headers={"Range": "bytes=1000-2999999"})
            assert part.status_code == 206 and part.content == body[1000:3000000]
            small = c.get("/big.bin", headers={"Range": "bytes=0-99"})  # small: read at once
            assert small.content == body[:100]
    finally:
        live.stop()
        app.services.store.close()
    assert calls.bytes_by(live.thread) == 2 * len(body) + 3000000 - 1000


def test_sendfile_loop_reports_a_short_file(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 1000)
    a, b = socket.socketpair()
    a.setblocking(False)

    async def run() -> None:
        with path.open("rb") as fh:
            await zerocopy.copy(asyncio.get_running_loop(), a.fileno(), fh.fileno(), 10, 5000,
                                lambda: False)  # fmt: skip

    with a, b, pytest.raises(zerocopy.ShortFile, match="4010 bytes early"):
        asyncio.run(run())
