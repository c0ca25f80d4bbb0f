"""The whole-response cache (``server.respcache``) and its replay in the connection
protocol (``server.h1``), against a real uvicorn server on a socket.

What must hold: a replayed answer is byte for byte the handler's answer apart from the
Date header; nothing stale is ever served (writes through this server, through another
store instance on the same files, i.e. another worker process); conditional and ranged
requests and PROPFIND while locks exist are never replayed; pipelined requests are
answered in order; odd requests (big or 100-continue bodies) still work.
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from davbind.server import respcache
from davbind.server.app import App, build_services
from davbind.server.h1 import DavHttpProtocol
from davbind.server.settings import Settings

PROPFIND0 = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getetag/><D:getcontentlength/><D:lockdiscovery/></D:prop></D:propfind>"
)


class Live:
    """davbind's app behind uvicorn with ``DavHttpProtocol``, served from a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.settings = Settings(data_dir=str(data_dir)).resolved()
        self.app = App(build_services(self.settings))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, http=DavHttpProtocol, loop="uvloop",
                                log_level="warning", lifespan="off")  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)  # fmt: skip
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.01)
        self.http = httpx.Client(base_url=self.url)

    @property
    def cache(self) -> respcache.ResponseCache:
        cache = self.app.services.responses
        assert cache is not None
        return cache

    def stop(self) -> None:
        self.http.close()
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.app.services.store.close()


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    srv = Live(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()


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


def without_date(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [(k, v) for k, v in response.headers.multi_items() if k != "date"]
    return response.status_code, headers, response.content


# --- the key --------------------------------------------------------------------------


def test_key_ignores_transport_headers_and_refuses_conditional_requests() -> None:
    base = [(b"host", b"h"), (b"depth", b"0")]
    key = respcache.request_key("PROPFIND", b"/a", base, b"x")
    noisy = [*base, (b"user-agent", b"ua"), (b"accept-encoding", b"gzip")]
    assert key is not None and respcache.request_key("PROPFIND", b"/a", noisy, b"x") == key
    assert respcache.request_key("PROPFIND", b"/a", base, b"y") != key
    assert respcache.request_key("PROPFIND", b"/a", [(b"depth", b"1")], b"x") != key
    for name in (b"if", b"if-none-match", b"if-modified-since", b"range", b"authorization"):
        assert respcache.request_key("GET", b"/a", [*base, (name, b"v")], b"") is None
    assert respcache.request_key("PUT", b"/a", base, b"") is None
    assert respcache.request_key("PROPFIND", b"/a", base, b"x" * 70_000) is None


# --- replay ---------------------------------------------------------------------------


def test_replayed_get_is_the_handlers_answer(live: Live) -> None:
    assert live.http.put("/f", content=b"one" * 1000).status_code == 201
    first = live.http.get("/f")
    hits = live.cache.hits
    second = live.http.get("/f")
    assert live.cache.hits == hits + 1, "the second GET was not replayed"
    assert without_date(second) == without_date(first)
    assert second.content == b"one" * 1000
    head = live.http.head("/f")
    head2 = live.http.head("/f")
    assert without_date(head2) == without_date(head)
    assert head2.headers["content-length"] == "3000" and head2.content == b""


def test_no_stale_answer_after_a_write_here(live: Live) -> None:
    live.http.put("/f", content=b"old")
    live.http.get("/f")
    assert live.http.get("/f").content == b"old"
    live.http.put("/f", content=b"new content")
    assert live.http.get("/f").content == b"new content"
    live.http.request("PROPPATCH", "/f", content=(
        b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
        b"<Z:colour>red</Z:colour></D:prop></D:set></D:propertyupdate>"))  # fmt: skip
    body = b'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><Z:colour/></D:prop></D:propfind>'
    hdrs = {"Depth": "0"}
    assert b"red" in live.http.request("PROPFIND", "/f", headers=hdrs, content=body).content
    assert b"red" in live.http.request("PROPFIND", "/f", headers=hdrs, content=body).content
    live.http.delete("/f")
    assert live.http.get("/f").status_code == 404
    assert live.http.request("PROPFIND", "/f", headers=hdrs, content=body).status_code == 404


def test_no_stale_answer_after_a_write_by_another_worker(live: Live) -> None:
    """A second store over the same files stands for another worker process."""
    live.http.put("/f", content=b"before")
    live.http.get("/f")
    hits = live.cache.hits
    assert live.http.get("/f").content == b"before"
    assert live.cache.hits == hits + 1
    other = App(build_services(live.settings))
    try:

        async def put() -> int:
            transport = httpx.ASGITransport(app=other)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                return (await c.put("/f", content=b"after, from elsewhere")).status_code

        assert asyncio.run(put()) == 204
    finally:
        other.services.store.close()
    assert live.http.get("/f").content == b"after, from elsewhere"


def test_conditional_and_ranged_requests_are_never_replayed(live: Live) -> None:
    live.http.put("/f", content=b"0123456789")
    etag = live.http.get("/f").headers["etag"]
    live.http.get("/f")
    hits = live.cache.hits
    for _ in range(2):
        assert live.http.get("/f", headers={"If-None-Match": etag}).status_code == 304
        assert live.http.get("/f", headers={"If-None-Match": '"other"'}).status_code == 200
        ranged = live.http.get("/f", headers={"Range": "bytes=2-4"})
        assert ranged.status_code == 206 and ranged.content == b"234"
    assert live.cache.hits == hits


def test_propfind_is_replayed_only_while_no_lock_exists(live: Live) -> None:
    live.http.put("/f", content=b"x")
    hdrs = {"Depth": "0", "Content-Type": "application/xml"}
    # the first PROPFIND stores pre-rendered properties (a commit), the second is kept
    live.http.request("PROPFIND", "/f", headers=hdrs, content=PROPFIND0)
    first = live.http.request("PROPFIND", "/f", headers=hdrs, content=PROPFIND0)
    hits = live.cache.hits
    second = live.http.request("PROPFIND", "/f", headers=hdrs, content=PROPFIND0)
    assert live.cache.hits == hits + 1 and without_date(second) == without_date(first)
    # another body, another Depth, another DAV header: not the same answer
    live.http.request("PROPFIND", "/f", headers={**hdrs, "DAV": "bind"}, content=PROPFIND0)
    assert live.cache.hits == hits + 1
    lock = live.http.request("LOCK", "/f", headers={"Timeout": "Second-100"}, content=(
        b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        b"<D:locktype><D:write/></D:locktype></D:lockinfo>"))  # fmt: skip
    assert lock.status_code == 200
    hits = live.cache.hits
    for _ in range(3):
        answer = live.http.request("PROPFIND", "/f", headers=hdrs, content=PROPFIND0)
        assert b"Second-" in answer.content
    assert live.cache.hits == hits, "an answer with a running lock timeout was replayed"


def test_pipelined_requests_are_answered_in_order(live: Live) -> None:
    live.http.put("/a", content=b"A" * 10)
    live.http.put("/b", content=b"B" * 20)
    live.http.get("/a")
    live.http.get("/b")
    req = b"GET /%s HTTP/1.1\r\nHost: x\r\n\r\n"
    payload = req % b"a" + req % b"b" + req % b"missing" + req % b"a" + req % b"b"
    data = raw_exchange(live.port, payload, 5)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"200", b"404", b"200", b"200"]
    a, b = b"\r\n\r\n" + b"A" * 10, b"\r\n\r\n" + b"B" * 20
    positions = [data.find(a), data.find(b), data.rfind(a), data.rfind(b)]
    assert positions == sorted(positions) and positions[0] < positions[2]


def test_big_and_expect_100_bodies_still_reach_the_app(live: Live) -> None:
    live.http.put("/f", content=b"x")
    hdrs = {"Depth": "0"}
    live.http.request("PROPFIND", "/f", headers=hdrs, content=PROPFIND0)  # cache not empty
    padded = PROPFIND0.replace(b"<D:prop>", b"<D:prop>" + b" " * 100_000)
    big = live.http.request("PROPFIND", "/f", headers=hdrs, content=padded)
    assert big.status_code == 207 and b"getetag" in big.content
    payload = (b"PROPFIND /f HTTP/1.1\r\nHost: x\r\nDepth: 0\r\nExpect: 100-continue\r\n"
               b"Content-Length: %d\r\n\r\n" % len(PROPFIND0)) + PROPFIND0  # fmt: skip
    data = raw_exchange(live.port, payload, 2)
    assert b"HTTP/1.1 207" in data


def test_cache_can_be_turned_off(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), response_cache_bytes=0).resolved()
    services = build_services(settings)
    try:
        assert services.responses is None
    finally:
        services.store.close()
