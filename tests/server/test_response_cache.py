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
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from davbind.server import respcache
from davbind.server.app import App, build_services
from davbind.server.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Live, raw_exchange


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    srv = Live(tmp_path / "data")
    try:
        yield srv
    finally:
        srv.stop()

PROPFIND0 = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:getetag/><D:getcontentlength/><D:lockdiscovery/></D:prop></D:propfind>"
)


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


# --- large answers, kept on disk -------------------------------------------------------

ALLPROP = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


def framing_free(response: httpx.Response) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body without Date and framing (a streamed answer is chunked,
    its replay has a Content-Length)."""
    skip = ("date", "content-length", "transfer-encoding")
    headers = [(k, v) for k, v in response.headers.multi_items() if k not in skip]
    return response.status_code, headers, response.content


def test_large_listing_is_replayed_from_disk_and_never_stale(tmp_path: Path) -> None:
    # a 1 KiB memory limit per item sends every listing to the disk path
    srv = Live(tmp_path / "data", response_cache_item_bytes=1024)
    spill = tmp_path / "data" / "cache"
    try:
        srv.http.request("MKCOL", "/c/")
        for i in range(450):  # more than one 256 KiB chunk: the answer is streamed
            srv.http.put(f"/c/f{i:03}", content=b"x" * i)
        hdrs = {"Depth": "1"}
        answers = [srv.http.request("PROPFIND", "/c/", headers=hdrs, content=ALLPROP)
                   for _ in range(4)]  # fmt: skip
        assert all(a.status_code == 207 for a in answers)
        assert answers[0].headers.get("transfer-encoding") == "chunked"
        replayed = answers[-1]
        assert replayed.headers["content-length"] == str(len(replayed.content))
        assert framing_free(replayed) == framing_free(answers[0])
        assert replayed.content.count(b"<D:response>") == 451
        assert srv.cache.hits >= 1 and len(list(spill.iterdir())) == 1

        srv.http.put("/c/f000", content=b"changed!")
        fresh = srv.http.request("PROPFIND", "/c/", headers=hdrs, content=ALLPROP)
        assert b"<D:getcontentlength>8</D:getcontentlength>" in fresh.content
        assert framing_free(fresh) != framing_free(answers[0])
        # the stale file went with the generation that made it
        for _ in range(3):
            last = srv.http.request("PROPFIND", "/c/", headers=hdrs, content=ALLPROP)
        assert framing_free(last) == framing_free(fresh)
        assert len(list(spill.iterdir())) == 1
    finally:
        srv.stop()
    assert list(spill.iterdir()) == [], "shutdown leaves cache files behind"


def test_a_listing_changed_before_every_read_is_never_copied_to_disk(tmp_path: Path) -> None:
    srv = Live(tmp_path / "data", response_cache_item_bytes=1024)
    spill = tmp_path / "data" / "cache"
    try:
        srv.http.request("MKCOL", "/c/")
        for i in range(450):
            srv.http.put(f"/c/f{i:03}", content=b"x" * i)
        for i in range(4):
            srv.http.put("/c/f000", content=b"%d" % i)  # a member: the listing changes
            answer = srv.http.request("PROPFIND", "/c/", headers={"Depth": "1"},
                                      content=ALLPROP)  # fmt: skip
            assert answer.status_code == 207 and answer.content.count(b"<D:response>") == 451
            assert list(spill.iterdir()) == []
        assert srv.cache.hits == 0
    finally:
        srv.stop()


def test_a_large_listing_outlives_writes_elsewhere(tmp_path: Path) -> None:
    srv = Live(tmp_path / "data", response_cache_item_bytes=1024)
    try:
        srv.http.request("MKCOL", "/c/")
        for i in range(450):
            srv.http.put(f"/c/f{i:03}", content=b"x" * i)
        answers = []
        for i in range(5):
            srv.http.put("/elsewhere.txt", content=b"%d" % i)  # not shown by the listing
            answers.append(srv.http.request("PROPFIND", "/c/", headers={"Depth": "1"},
                                            content=ALLPROP))  # fmt: skip
        assert len({framing_free(a)[2] for a in answers}) == 1
        # computed twice (admitted the second time), then replayed after each write
        assert srv.cache.hits == 3 and srv.cache.revalidated == 3
    finally:
        srv.stop()


def test_an_unfinished_or_oversized_stream_is_not_kept(tmp_path: Path) -> None:
    services = build_services(Settings(data_dir=str(tmp_path), response_cache_disk_bytes=400)
                              .resolved())  # fmt: skip
    cache = services.responses
    assert cache is not None and cache.spill_dir is not None
    try:
        key = respcache.request_key("PROPFIND", b"/", [], b"")
        assert key is not None
        generation = cache.generation()
        # computed once in this generation: sent, not copied (admission, respcache doc)
        first = cache.tee(iter([b"a" * 40, b"b" * 40]), key, generation, 207, [])
        assert b"".join(first) == b"a" * 40 + b"b" * 40
        assert not cache.has_files and list(cache.spill_dir.iterdir()) == []
        cut = cache.tee(iter([b"a" * 50, b"b" * 50]), key, generation, 207, [])
        next(cut)
        cut.close()  # type: ignore[attr-defined]  # the client went away
        assert not cache.has_files and list(cache.spill_dir.iterdir()) == []
        big = cache.tee(iter([b"a" * 80, b"b" * 80]), key, generation, 207, [])
        assert b"".join(big) == b"a" * 80 + b"b" * 80  # still sent whole
        assert not cache.has_files and list(cache.spill_dir.iterdir()) == []
        whole = cache.tee(iter([b"a" * 40, b"b" * 40]), key, generation, 207, [])
        assert b"".join(whole) == b"a" * 40 + b"b" * 40
        found = cache.lookup_file(key)
        assert found is not None and found[0].size == 80
        found[1].close()
        # another generation: its first answer is not copied again
        other = cache.tee(iter([b"c" * 40]), key, generation + 1, 207, [])
        assert b"".join(other) == b"c" * 40 and len(list(cache.spill_dir.iterdir())) == 1
        (cache.spill_dir / "leftover-of-a-killed-worker").write_bytes(b"x")
        assert cache.sweep() == 2 and list(cache.spill_dir.iterdir()) == []
    finally:
        cache.close()
        services.store.close()


# --- the generation a replay uses, read once per poll -----------------------------------


class CountingStore:
    """A store stand-in whose generation another party changes; counts the reads."""

    def __init__(self) -> None:
        self.value, self.reads = 1, 0

    def generation(self) -> int:
        self.reads += 1
        return self.value


def test_replays_read_the_generation_once_per_poll_and_everything_else_afresh() -> None:
    store = CountingStore()
    cache = respcache.ResponseCache(store, 1 << 20, 1 << 16)  # type: ignore[arg-type]

    async def main() -> list[int]:
        polled = cache._polled_generation
        seen = [polled(), polled()]  # one poll's callbacks: one read
        store.value = 2  # a commit elsewhere, while this poll's callbacks run
        seen += [polled(), cache.generation()]  # handlers and stores read afresh
        await asyncio.sleep(0)  # the next iteration: forgotten before the next poll
        seen += [polled(), polled()]
        return seen

    assert asyncio.run(main()) == [1, 1, 1, 2, 2, 2]
    assert store.reads == 3
    # a loop that ended before it forgot does not lend its value to the next loop
    ended = asyncio.new_event_loop()
    ended.close()
    cache._memo = (ended, 2)
    store.value = 3

    async def read() -> int:
        return cache._polled_generation()

    assert asyncio.run(read()) == 3
    store.value = 4
    assert cache._polled_generation() == 4  # without a loop, every call reads


def test_a_write_answered_between_polls_is_seen_by_the_next_replay(live: Live) -> None:
    """Handlers commit and answer between polls; the client's next request can come in the
    very next poll.  Other clients keep handlers busy in the same stretches (ranged GETs
    are never replayed: each runs the app, which reads the generation before its handler
    reads anything); every GET after a PUT must still show the PUT's content."""
    live.http.put("/f", content=b"v0")
    live.http.put("/other", content=b"busy")
    stop = threading.Event()

    def hammer() -> None:
        with httpx.Client(base_url=live.url) as other:
            while not stop.is_set():
                assert other.get("/other", headers={"Range": "bytes=0-1"}).status_code == 206

    threads = [threading.Thread(target=hammer, daemon=True) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 200):
            assert live.http.put("/f", content=b"v%d" % i).status_code == 204
            for _ in range(2):  # the second is a replay when nothing else committed
                assert live.http.get("/f").content == b"v%d" % i
    finally:
        stop.set()
        for t in threads:
            t.join()


# --- answers that depend on one resource outlive commits elsewhere -----------------------

PROPPATCH_COLOUR = (
    b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
    b"<Z:colour>%s</Z:colour></D:prop></D:set></D:propertyupdate>"
)
BIND = b'<D:bind xmlns:D="DAV:"><D:segment>%s</D:segment><D:href>%s</D:href></D:bind>'
LOCK = (b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
        b"<D:locktype><D:write/></D:locktype></D:lockinfo>")  # fmt: skip


def fresh(live: Live, method: str, url: str, **kw: Any) -> httpx.Response:
    """The handler's answer now: a header the key keeps and nothing reads makes it miss."""
    headers = {**kw.pop("headers", {}), "X-Fresh": str(time.monotonic_ns())}
    return live.http.request(method, url, headers=headers, **kw)


def seeded(live: Live) -> None:
    live.http.request("MKCOL", "/a/")
    live.http.request("MKCOL", "/b/")
    live.http.put("/a/f", content=b"first")
    live.http.put("/a/g", content=b"second")
    live.http.put("/b/x", content=b"elsewhere")


READS = [
    ("GET", "/a/f", {}),
    ("GET", "/a/", {}),
    ("PROPFIND", "/a/", {"headers": {"Depth": "1"}, "content": ALLPROP}),
    ("PROPFIND", "/a/", {"headers": {"Depth": "0"}, "content": ALLPROP}),
    ("PROPFIND", "/a/f", {"headers": {"Depth": "0"}, "content": PROPFIND0}),
]

READ_IDS = [f"{m} {u} {k.get('headers', {}).get('Depth', '')}".strip() for m, u, k in READS]


@pytest.mark.parametrize(("method", "url", "kw"), READS, ids=READ_IDS)
def test_a_commit_elsewhere_keeps_the_answer(live: Live, method: str, url: str,
                                             kw: dict[str, Any]) -> None:  # fmt: skip
    seeded(live)
    for _ in range(2):
        first = live.http.request(method, url, **kw)
    hits, revalidated = live.cache.hits, live.cache.revalidated
    live.http.put("/b/x", content=b"changed elsewhere")
    live.http.request("PROPPATCH", "/b/", content=PROPPATCH_COLOUR % b"blue")
    again = live.http.request(method, url, **kw)
    assert live.cache.hits == hits + 1 and live.cache.revalidated == revalidated + 1
    assert without_date(again) == without_date(first) == without_date(
        fresh(live, method, url, **kw))


CHANGES = [
    ("PUT", "/a/f", {"content": b"new content"}),
    ("PROPPATCH", "/a/f", {"content": PROPPATCH_COLOUR % b"red"}),
    ("PROPPATCH", "/a/", {"content": PROPPATCH_COLOUR % b"green"}),
    ("DELETE", "/a/g", {}),
    ("PUT", "/a/h", {"content": b"a new member"}),
    ("MOVE", "/a/g", {"headers": {"Destination": "/a/g2"}}),
    ("BIND", "/b/", {"content": BIND % (b"alias", b"/a/f")}),  # /a/f gains a parent
    ("LOCK", "/b/x", {"headers": {"Timeout": "Second-60"}, "content": LOCK}),  # any lock
    ("LOCK", "/a/f", {"headers": {"Timeout": "Second-60"}, "content": LOCK}),
]


@pytest.mark.parametrize(("method", "url", "kw"), READS, ids=READ_IDS)
@pytest.mark.parametrize(("change", "target", "change_kw"), CHANGES,
                         ids=[f"{m} {u}" for m, u, _ in CHANGES])  # fmt: skip
def test_an_answer_is_never_replayed_after_a_change_it_shows(
    live: Live, method: str, url: str, kw: dict[str, Any], change: str, target: str,
    change_kw: dict[str, Any],
) -> None:
    seeded(live)
    for _ in range(2):
        live.http.request(method, url, **kw)
    r = live.http.request(change, target, **change_kw)
    assert r.status_code < 300, (change, target, r.status_code, r.text)
    again = live.http.request(method, url, **kw)
    now = fresh(live, method, url, **kw)
    assert without_date(again) == without_date(now), "a replay differs from the handler"


def test_a_member_changed_through_another_binding_is_not_replayed(live: Live) -> None:
    seeded(live)
    assert live.http.request("BIND", "/b/", content=BIND % (b"alias", b"/a/f")).status_code == 201
    hdrs = {"Depth": "1"}
    for _ in range(2):
        live.http.request("PROPFIND", "/a/", headers=hdrs, content=ALLPROP)
        live.http.get("/a/f")
    live.http.put("/b/alias", content=b"changed through the other path")
    listing = live.http.request("PROPFIND", "/a/", headers=hdrs, content=ALLPROP)
    assert b"<D:getcontentlength>30</D:getcontentlength>" in listing.content
    assert live.http.get("/a/f").content == b"changed through the other path"


def test_a_path_that_resolves_elsewhere_now_is_not_replayed(live: Live) -> None:
    seeded(live)
    for _ in range(2):
        old = live.http.get("/a/f")
    assert live.http.request("MOVE", "/a/", headers={"Destination": "/z/"}).status_code == 201
    live.http.request("MKCOL", "/a/")
    live.http.put("/a/f", content=b"another resource at the same path")
    assert live.http.get("/a/f").content == b"another resource at the same path"
    assert old.content == b"first" and live.http.get("/z/f").content == b"first"
