"""The listing cache (``server/listing_cache.py``): a listing answered with kept member
texts is, byte for byte, the listing rendered from the store with nothing kept, after
every kind of change a member or the collection can go through; the kept texts are
used (hits are counted), are per principal and per store, and stay within their bound."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from davbind.protocol.xmlbody import parse_propfind
from davbind.server.access import UNRESTRICTED, Access
from davbind.server.listing_cache import ListingCache, Recording, Shape

ALLPROP = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
NAMED = (
    b'<D:propfind xmlns:D="DAV:" xmlns:x="urn:x"><D:prop><D:resourcetype/>'
    b"<D:getcontentlength/><D:getetag/><D:getlastmodified/><D:displayname/>"
    b"<D:resource-id/><x:note/></D:prop></D:propfind>"
)
BODIES = {"allprop": ALLPROP, "named": NAMED}
NOTE = '<D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:{op}><D:prop>{prop}</D:prop></D:{op}></D:propertyupdate>'  # noqa: E501


def _fill(dav: Any) -> None:
    dav.mkcol("/c/")
    dav.mkcol("/other/")
    for i in range(30):
        assert dav.put(f"/c/f{i:02d}.txt", b"x" * i).status_code == 201
    dav.mkcol("/c/sub/")
    assert dav.put("/other/elsewhere.txt", b"from elsewhere").status_code == 201
    r = dav.request("PROPPATCH", "/c/f03.txt",
                    content=NOTE.format(op="set", prop="<x:note>three</x:note>"))  # fmt: skip
    assert r.status_code == 207


def _listing(dav: Any, body: bytes, **headers: str) -> bytes:
    r = dav.propfind("/c/", body, depth="1", **headers)
    assert r.status_code == 207, r.text
    return bytes(r.content)


def _rendered(dav: Any, body: bytes, **headers: str) -> bytes:
    """The listing with nothing kept (what the store says now)."""
    dav.app.services.listings.clear()
    return _listing(dav, body, **headers)


def _proppatch(dav: Any, url: str, op: str, prop: str) -> None:
    r = dav.request("PROPPATCH", url, content=NOTE.format(op=op, prop=prop))
    assert r.status_code == 207, r.text


CHANGES: dict[str, Callable[[Any], Any]] = {
    "new content": lambda d: d.put("/c/f05.txt", b"changed content"),
    "same length, new bytes": lambda d: d.put("/c/f06.txt", b"y" * 6),
    "new type": lambda d: d.put("/c/f07.txt", b"x" * 7, **{"Content-Type": "text/csv"}),
    "dead property set": lambda d: _proppatch(d, "/c/f08.txt", "set", "<x:note>8</x:note>"),
    "dead property removed": lambda d: _proppatch(d, "/c/f03.txt", "remove", "<x:note/>"),
    "own displayname": lambda d: _proppatch(d, "/c/f09.txt", "set",
                                            "<D:displayname>Nine</D:displayname>"),
    "deleted": lambda d: d.request("DELETE", "/c/f10.txt"),
    "renamed": lambda d: d.request("MOVE", "/c/f11.txt",
                                   headers={"Destination": "/c/g11.txt"}),
    "replaced by a move": lambda d: d.request("MOVE", "/other/elsewhere.txt",
                                              headers={"Destination": "/c/f12.txt"}),
    "replaced by a copy": lambda d: d.request("COPY", "/c/f20.txt",
                                              headers={"Destination": "/c/f13.txt"}),
    "added": lambda d: d.put("/c/new.txt", b"new"),
    "bound again": lambda d: d.request(
        "BIND", "/c/", headers={"Content-Type": "application/xml"},
        content=b'<D:bind xmlns:D="DAV:"><D:segment>alias</D:segment>'
                b"<D:href>/other/elsewhere.txt</D:href></D:bind>"),
    "sub-collection's membership": lambda d: d.put("/c/sub/inner.txt", b"inner"),
    "locked": lambda d: d.lock("/c/f14.txt"),
    "collection locked (depth infinity)": lambda d: d.lock("/c/", depth="infinity"),
}  # fmt: skip


@pytest.mark.parametrize("shape", sorted(BODIES))
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_listing_after_a_change_is_what_the_store_says(dav: Any, change: str,
                                                         shape: str) -> None:  # fmt: skip
    body = BODIES[shape]
    _fill(dav)
    before = _listing(dav, body)
    assert _listing(dav, body) == before  # kept now
    cache = dav.app.services.listings
    hits = cache.hits
    r = CHANGES[change](dav)
    if r is not None and hasattr(r, "status_code"):
        assert r.status_code < 300, (change, r.status_code, r.text)
    after = _listing(dav, body)
    assert cache.hits - hits >= 20  # most members came from kept texts
    if shape == "allprop" or "locked" not in change:  # NAMED has no lockdiscovery
        assert after != before, change
    assert after == _rendered(dav, body), change


@pytest.mark.parametrize("shape", sorted(BODIES))
def test_repeated_listings_read_no_full_rows(dav: Any, shape: str, monkeypatch: Any) -> None:
    body = BODIES[shape]
    _fill(dav)
    first = _listing(dav, body)
    cache = dav.app.services.listings
    hits, misses = cache.hits, cache.misses
    from davbind.storage.sqlite_txn import SqliteTxn

    def no_rows(*_: Any) -> Any:
        raise AssertionError("a repeated listing read full member rows")

    monkeypatch.setattr(SqliteTxn, "members", no_rows)
    if dav.metadata_url.startswith("postgresql"):
        from davbind.storage.postgres_txn import PostgresTxn

        monkeypatch.setattr(PostgresTxn, "members", no_rows)
    assert _listing(dav, body) == first
    assert cache.hits - hits == 31 and cache.misses == misses


def test_what_is_not_kept_is_rendered_every_time(dav: Any) -> None:
    _fill(dav)
    cache = dav.app.services.listings
    named_context = (b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:parent-set/>'
                     b"</D:prop></D:propfind>")  # fmt: skip
    for body, headers in ((named_context, {}), (ALLPROP, {"Accept": "application/json"})):
        _listing(dav, body, **headers)
        _listing(dav, body, **headers)
    assert cache.hits == cache.misses == 0 and len(cache) == 0


def test_each_store_has_its_own(make_dav: Callable[..., Any], tmp_path: Path) -> None:
    """Two apps in one process (tests, or a future multi-store process): resource keys
    are per store, so the same key in the other store must not take this one's text."""
    one = make_dav()
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    two = type(one)(other_dir)  # conftest's Dav, on a data directory of its own
    try:
        for dav, word in ((one, b"one"), (two, b"two!!")):
            dav.mkcol("/c/")
            dav.put("/c/a.txt", word)
        assert b">3<" in _listing(one, ALLPROP) and b">5<" in _listing(two, ALLPROP)
        assert b">3<" in _listing(one, ALLPROP) and b">5<" in _listing(two, ALLPROP)
    finally:
        two.close()


def test_entries_are_per_principal_and_bounded() -> None:
    spec = parse_propfind(ALLPROP)
    shape = Shape.of(spec, minimal=False, as_json=False)
    assert shape is not None
    cache = ListingCache(max_bytes=10_000)
    alice, bob = Access("alice"), Access("bob")
    for who in (alice, bob, UNRESTRICTED):
        rec = Recording(cache, who, shape)
        _, new = rec.pair(7)
        new["a"] = (1, 1, f"text of {who.user}")
        rec.finish()
    assert len(cache) == 3
    assert cache.texts(Recording(cache, bob, shape).key(7)) == {"a": (1, 1, "text of bob")}
    for i in range(100):  # far more than the bound holds
        rec = Recording(cache, alice, shape)
        _, new = rec.pair(100 + i)
        new["m"] = (i, 0, "x" * 500)
        rec.finish()
    assert cache.size <= 10_000 and 0 < len(cache) < 100
    rec = Recording(cache, alice, shape)
    _, new = rec.pair(1)
    new["big"] = (1, 0, "x" * 20_000)  # larger than the whole bound: not kept
    rec.finish()
    assert cache.texts(rec.key(1)) is None and cache.size <= 10_000


def test_listing_shapes() -> None:
    def shape(body: bytes, **kw: bool) -> Shape | None:
        return Shape.of(parse_propfind(body), minimal=kw.get("minimal", False),
                        as_json=kw.get("as_json", False))  # fmt: skip

    assert shape(ALLPROP) == Shape("allprop", (), False)
    assert shape(ALLPROP, minimal=True) != shape(ALLPROP)
    assert shape(ALLPROP, as_json=True) is None
    named = shape(NAMED)
    assert named is not None and named.kind == "prop" and "{urn:x}note" in named.names
    for name in (b"<D:lockdiscovery/>", b"<D:parent-set/>", b"<D:current-user-privilege-set/>",
                 b"<D:owner/>", b"<D:quota-used-bytes/>"):  # fmt: skip
        body = b'<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/>' + name + b"</D:prop></D:propfind>"
        assert shape(body) is None, name
    include = (b'<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:parent-set/>'
               b"</D:include></D:propfind>")  # fmt: skip
    assert shape(include) is None


def test_a_zero_size_keeps_nothing(make_dav: Callable[..., Any]) -> None:
    dav = make_dav(listing_cache_mb=0)
    _fill(dav)
    first = _listing(dav, ALLPROP)
    assert _listing(dav, ALLPROP) == first
    cache = dav.app.services.listings
    assert len(cache) == 0 and cache.hits == cache.misses == 0


@pytest.mark.parametrize("change", ["new content", "dead property set", "deleted", "renamed"])
def test_a_change_through_another_node_is_seen(make_dav: Callable[..., Any], change: str) -> None:
    """Two apps on one store (two workers, or two nodes on one database): what one
    keeps is checked against the store, so a change made through the other is seen."""
    one, two = make_dav(), make_dav()
    _fill(one)
    before = _listing(one, ALLPROP)
    assert _listing(one, ALLPROP) == before and len(one.app.services.listings) == 1
    CHANGES[change](two)
    after = _listing(one, ALLPROP)
    assert after != before
    assert after == _listing(two, ALLPROP) == _rendered(one, ALLPROP)


def test_a_listing_too_large_to_keep_holds_nothing_back(make_dav: Callable[..., Any]) -> None:
    """A request builds at most a quarter of the cache (1 MiB here: 256 KiB) and keeps
    nothing past it, so its memory stays flat; a smaller listing is still kept."""
    dav = make_dav(listing_cache_mb=1)
    _fill(dav)  # /c/: 31 members, about 20 KiB of texts: kept
    dav.mkcol("/many/")
    files = [(f"/many/file-with-a-longer-name-{i:04d}.txt", b"%d" % i) for i in range(600)]
    dav.many([("PUT", url, {}, body) for url, body in files[:300]])
    dav.many([("PUT", url, {}, body) for url, body in files[300:]])
    cache = dav.app.services.listings
    first = dav.propfind("/many/", ALLPROP, depth="1").content
    assert first.count(b"<D:response>") == 601 and len(first) > 256 * 1024
    assert len(cache) == 0  # over the request's budget: not kept
    assert dav.propfind("/many/", ALLPROP, depth="1").content == first
    assert len(cache) == 0 and cache.hits == 0
    _listing(dav, ALLPROP)
    assert len(cache) == 1



def test_an_entry_dropped_after_the_plan_is_still_the_one_used() -> None:
    """The plan reads stamps because an entry exists; if the cache drops it before the
    first batch (eviction by another request), the request still uses what it found."""
    shape = Shape.of(parse_propfind(ALLPROP), minimal=False, as_json=False)
    assert shape is not None
    cache = ListingCache()
    first = Recording(cache, UNRESTRICTED, shape)
    first.pair(7)[1]["a"] = (1, 1, "text")
    first.finish()
    rec = Recording(cache, UNRESTRICTED, shape)
    assert rec.known(7)
    cache.clear()
    old, new = rec.pair(7)
    assert old == {"a": (1, 1, "text")} and new == {}
