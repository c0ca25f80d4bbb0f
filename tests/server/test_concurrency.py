"""Concurrent requests in one event loop, content-addressed storage and reclamation.

The model (docs/architecture.md): identical content is stored once, whoever uploads it
and under whatever name;
storage is reclaimed when nothing references it; an upload is committed atomically, so
no half-written or orphaned blob is left behind.
"""

from __future__ import annotations

import asyncio
import hashlib
import xml.etree.ElementTree as ET

import pytest

from davbind.storage.interface import INLINE_MAX

N = 20
XML = {"Content-Type": "application/xml"}
LOCKINFO = (
    '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype></D:lockinfo>"
)


def _names(dav) -> list[str]:
    return dav.stored()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _slow(data: bytes, pieces: int = 8):
    """A body factory that yields to the event loop between chunks, so uploads overlap."""

    def factory():
        async def gen():
            step = max(1, len(data) // pieces)
            for i in range(0, len(data), step):
                await asyncio.sleep(0)
                yield data[i : i + step]

        return gen()

    return factory


def _bodies(n: int = N, size: int = 64 * 1024) -> list[bytes]:
    return [bytes([i % 251]) * size + f"#{i}".encode() for i in range(n)]


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("existing", [False, True], ids=["new", "existing"])
def test_concurrent_puts_same_url(dav, existing):
    dav.put("/keep", b"still referenced")
    if existing:
        dav.put("/f", b"the old content")
    bodies = _bodies()
    rs = dav.many([("PUT", "/f", {}, _slow(b)) for b in bodies])
    assert dav.max_in_flight > N // 2  # the uploads really overlapped
    statuses = [r.status_code for r in rs]
    assert set(statuses) <= {201, 204}, statuses
    assert statuses.count(201) == (0 if existing else 1)
    assert len({r.headers["etag"] for r in rs}) == N  # every version had its own tag
    final = dav.request("GET", "/f")
    assert final.content in bodies  # one of them, exactly, never a mix
    assert final.headers["content-length"] == str(len(final.content))
    assert _names(dav) == sorted([_sha(final.content), _sha(b"still referenced")])
    assert dav.tmp_files() == []
    assert sorted(dav.props("/", ("{DAV:}getetag",), depth="1")) == ["/", "/f", "/keep"]


def test_concurrent_mkcol_same_url(dav):
    # an (empty) extended-MKCOL body sent in pieces makes the requests overlap
    body = _slow(b'<D:mkcol xmlns:D="DAV:"/>', pieces=5)
    rs = dav.many([("MKCOL", "/c", XML, body) for _ in range(N)])
    assert dav.max_in_flight > N // 2
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [201] + [405] * (N - 1)
    assert sorted(dav.props("/", ("{DAV:}getetag",), depth="infinity")) == ["/", "/c/"]


def test_concurrent_create_only_puts(dav):
    bodies = _bodies(size=8192)
    rs = dav.many([("PUT", "/once", {"If-None-Match": "*"}, _slow(b)) for b in bodies])
    assert dav.max_in_flight > N // 2
    statuses = [r.status_code for r in rs]
    assert sorted(statuses) == [201] + [412] * (N - 1)
    winner = bodies[statuses.index(201)]
    assert dav.request("GET", "/once").content == winner
    assert _names(dav) == [_sha(winner)]
    assert dav.tmp_files() == []


def test_concurrent_puts_distinct_urls(dav):
    dav.mkcol("/c")
    bodies = _bodies(size=4096)
    rs = dav.many([("PUT", f"/c/f{i:02}", {}, _slow(b)) for i, b in enumerate(bodies)])
    assert [r.status_code for r in rs] == [201] * N
    listing = sorted(dav.props("/c/", ("{DAV:}getetag",), depth="1"))
    assert listing == ["/c/"] + [f"/c/f{i:02}" for i in range(N)]
    for i, body in enumerate(bodies):
        assert dav.request("GET", f"/c/f{i:02}").content == body
    assert _names(dav) == sorted(_sha(b) for b in bodies)


def test_concurrent_identical_content_stored_once(dav):
    body = b"same bytes " * 5000
    rs = dav.many([("PUT", f"/copy{i}", {}, _slow(body)) for i in range(N)])
    assert dav.max_in_flight > N // 2
    assert [r.status_code for r in rs] == [201] * N
    assert _names(dav) == [_sha(body)]
    assert dav.tmp_files() == []


def test_concurrent_locks_one_winner(dav):
    dav.put("/f", b"x")
    rs = dav.many([("LOCK", "/f", XML, _slow(LOCKINFO.encode())) for _ in range(N)])
    assert dav.max_in_flight > N // 2
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [200] + [423] * (N - 1)
    active = dav.props("/f", ("{DAV:}lockdiscovery",))["/f"]["{DAV:}lockdiscovery"][1]
    assert len(active.findall("{DAV:}activelock")) == 1


def test_concurrent_deletes_one_winner(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"x")
    rs = dav.many([("DELETE", "/c/") for _ in range(N)])
    statuses = sorted(r.status_code for r in rs)
    assert statuses == [204] + [404] * (N - 1)
    assert _names(dav) == []


def test_reads_during_writes(dav):
    dav.mkcol("/c")
    for i in range(5):
        dav.put(f"/c/seed{i}", b"seed")
    reqs = []
    for i in range(N):
        reqs.append(("PUT", f"/c/new{i}", {}, _slow(b"n" * 20000 + bytes([i]))))
        reqs.append(("PROPFIND", "/c/", {"Depth": "1"}))
        reqs.append(("GET", "/c/seed0"))
    rs = dav.many(reqs)
    for req, r in zip(reqs, rs, strict=True):
        if req[0] == "PUT":
            assert r.status_code == 201
        elif req[0] == "GET":
            assert r.status_code == 200 and r.content == b"seed"
        else:
            assert r.status_code == 207
            hrefs = [h.text for h in ET.fromstring(r.content).iter("{DAV:}href")]
            assert "/c/" in hrefs and "/c/seed4" in hrefs
            assert len(hrefs) == len(set(hrefs))
    assert len(dav.props("/c/", ("{DAV:}getetag",), depth="1")) == 1 + 5 + N


# --------------------------------------------------------------------------- dedup


@pytest.mark.parametrize("size", [14, INLINE_MAX, INLINE_MAX + 1])
def test_same_bytes_two_names_one_blob_then_reclaimed(dav, size):
    data = (b"shared content" * (size // 14 + 1))[:size]
    dav.put("/a", data)
    dav.put("/b", data)
    assert _names(dav) == [_sha(data)]
    if size <= INLINE_MAX:  # kept by the metadata store: no file at all
        assert dav.blob_files() == []
    else:
        path = dav.blob_files()[0]
        assert path.read_bytes() == data
        assert path.parent.name == _sha(data)[2:4]
        assert path.parent.parent.name == _sha(data)[:2]
    assert dav.request("DELETE", "/a").status_code == 204
    assert _names(dav) == [_sha(data)]  # still referenced by /b
    assert dav.request("GET", "/b").content == data
    assert dav.request("DELETE", "/b").status_code == 204
    assert _names(dav) == []
    assert dav.tmp_files() == []


def test_overwrite_reclaims_old_content(dav):
    dav.put("/a", b"version 1")
    dav.put("/a", b"version 2")
    assert _names(dav) == [_sha(b"version 2")]
    dav.put("/b", b"version 2")
    dav.put("/a", b"version 3")
    assert _names(dav) == sorted([_sha(b"version 2"), _sha(b"version 3")])


def test_copy_and_move_share_content(dav):
    dav.put("/a", b"payload")
    assert dav.request("COPY", "/a", headers={"Destination": "/b"}).status_code == 201
    assert dav.request("MOVE", "/a", headers={"Destination": "/c"}).status_code == 201
    assert _names(dav) == [_sha(b"payload")]
    dav.request("DELETE", "/b")
    assert _names(dav) == [_sha(b"payload")]
    dav.request("DELETE", "/c")
    assert _names(dav) == []


def test_delete_collection_reclaims_member_content(dav):
    dav.mkcol("/c")
    dav.mkcol("/c/sub")
    dav.put("/c/x", b"x content")
    dav.put("/c/sub/y", b"y content")
    dav.put("/outside", b"y content")
    assert len(_names(dav)) == 2
    assert dav.request("DELETE", "/c/").status_code == 204
    assert _names(dav) == [_sha(b"y content")]


def test_move_over_existing_reclaims_replaced_content(dav):
    dav.put("/a", b"mover")
    dav.put("/b", b"replaced")
    r = dav.request("MOVE", "/a", headers={"Destination": "/b"})
    assert r.status_code == 204
    assert _names(dav) == [_sha(b"mover")]


def test_empty_file_needs_no_blob_leftovers(dav):
    dav.put("/empty", b"")
    dav.request("DELETE", "/empty")
    assert _names(dav) == []
    assert dav.tmp_files() == []
