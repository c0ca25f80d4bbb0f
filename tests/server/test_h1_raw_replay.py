"""Requests repeated byte for byte are replayed without being parsed (``server.h1``).

A worker remembers which exact request bytes, read whole at a message boundary, gave
which response-cache key; a later read of the same bytes is answered from the cache
(still checked against the store, so never stale) before the HTTP parser sees it.  What
must hold: the answer is the handler's; a change is seen at once; bytes that arrive split,
pipelined, or with anything that keeps a request out of the cache go the long way; the
keep-alive timeout still closes an idle connection.
"""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Live, raw_exchange

GET = b"GET /f HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t\r\n\r\n"
PROPFIND = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getetag/><D:getcontentlength/></D:prop></D:propfind>"
)


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    srv = Live(tmp_path / "data", keep_alive=1.0)
    try:
        yield srv
    finally:
        srv.stop()


def _answers(data: bytes) -> list[tuple[bytes, bytes]]:
    """(status line, body) of each answer in ``data`` (Content-Length framing)."""
    out = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        length = next(
            int(v.split(b":")[1]) for v in lines if v.lower().startswith(b"content-length:")
        )
        out.append((lines[0], rest[:length]))
        data = rest[length:]
    return out


class Conn:
    """One keep-alive connection sending raw bytes."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""

    def ask(
        self, *pieces: bytes, answers: int = 1, pause: float = 0.0
    ) -> list[tuple[bytes, bytes]]:
        for piece in pieces:
            self.sock.sendall(piece)
            time.sleep(pause)
        while len(_answers_complete := self._complete()) < answers:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed"
            self.buf += chunk
        self.buf = b""
        return _answers_complete

    def _complete(self) -> list[tuple[bytes, bytes]]:
        try:
            return _answers(self.buf)
        except (StopIteration, ValueError):
            return []

    def warm(self, request: bytes, live: Live) -> list[tuple[bytes, bytes]]:
        """Ask until the answer is kept and the request remembered by its bytes (the
        first answer may not be kept: rendering it wrote the render cache back)."""
        for _ in range(5):
            answer = self.ask(request)
            if request in live.cache.raw_keys:
                return answer
        raise AssertionError("the request was never remembered by its bytes")

    def close(self) -> None:
        self.sock.close()


def test_a_repeated_request_is_replayed_from_its_bytes(live: Live) -> None:
    assert live.http.put("/f", content=b"one").status_code == 201
    conn = Conn(live.port)
    try:
        first = conn.warm(GET, live)
        assert first == [(b"HTTP/1.1 200 OK", b"one")]
        hits = live.cache.hits
        for _ in range(5):
            assert conn.ask(GET) == first
        assert live.cache.hits == hits + 5
        # a change through another connection is seen by the very next replay
        assert live.http.put("/f", content=b"two").status_code == 204
        assert conn.ask(GET) == [(b"HTTP/1.1 200 OK", b"two")]
        assert live.http.delete("/f").status_code == 204
        assert conn.ask(GET)[0][0] == b"HTTP/1.1 404 Not Found"
    finally:
        conn.close()


def test_a_propfind_with_its_body_is_remembered_whole(live: Live) -> None:
    assert live.http.put("/f", content=b"x" * 10).status_code == 201
    request = (
        b"PROPFIND /f HTTP/1.1\r\nHost: 127.0.0.1\r\nDepth: 0\r\n"
        b"Content-Type: application/xml\r\nContent-Length: %d\r\n\r\n%s"
    ) % (len(PROPFIND), PROPFIND)
    conn = Conn(live.port)
    try:
        first = conn.warm(request, live)
        assert first[0][0] == b"HTTP/1.1 207 Multi-Status"
        hits = live.cache.hits
        assert conn.ask(request) == first
        assert live.cache.hits == hits + 1
        assert live.http.put("/f", content=b"y" * 20).status_code == 204
        assert b"<D:getcontentlength>20<" in conn.ask(request)[0][1]
    finally:
        conn.close()


def test_split_and_pipelined_bytes_are_parsed(live: Live) -> None:
    assert live.http.put("/f", content=b"one").status_code == 201
    conn = Conn(live.port)
    try:
        conn.warm(GET, live)
        live.cache.raw_keys.clear()
        # split over two reads: answered, but not remembered by bytes
        assert conn.ask(GET[:10], GET[10:], pause=0.05) == [(b"HTTP/1.1 200 OK", b"one")]
        assert live.cache.raw_keys == {}
        # two requests in one read: both answered, in order, neither remembered
        assert live.http.put("/g", content=b"gee").status_code == 201
        both = GET + GET.replace(b"/f", b"/g")
        conn.ask(both, answers=2)
        assert conn.ask(both, answers=2) == [(b"HTTP/1.1 200 OK", b"one"),
                                             (b"HTTP/1.1 200 OK", b"gee")]  # fmt: skip
        assert live.cache.raw_keys == {}
    finally:
        conn.close()


@pytest.mark.parametrize("extra", [b"Connection: close\r\n", b"Range: bytes=0-0\r\n",
                                   b"If-None-Match: \"x\"\r\n", b"Authorization: Basic eDp5\r\n"])
def test_requests_kept_out_of_the_cache_are_never_remembered(live: Live, extra: bytes) -> None:
    assert live.http.put("/f", content=b"one").status_code == 201
    request = GET.replace(b"\r\n\r\n", b"\r\n" + extra + b"\r\n")
    for _ in range(3):
        raw_exchange(live.port, request, 1)
    assert request not in live.cache.raw_keys


def test_the_keep_alive_timeout_still_closes_an_idle_connection(live: Live) -> None:
    """Replays push the timeout back (the connection stays open while they last) and an
    idle connection is closed one timeout (1 s here) after the last of them."""
    assert live.http.put("/f", content=b"one").status_code == 201
    conn = Conn(live.port)
    try:
        conn.warm(GET, live)
        deadline = time.monotonic() + 2.0  # twice the timeout, replays every 0.1 s
        while time.monotonic() < deadline:
            assert conn.ask(GET) == [(b"HTTP/1.1 200 OK", b"one")]
            time.sleep(0.1)
        last = time.monotonic()
        conn.sock.settimeout(5)
        assert conn.sock.recv(10) == b""  # closed by the server
        waited = time.monotonic() - last
        assert 0.8 < waited < 3.0, waited
    finally:
        conn.close()
