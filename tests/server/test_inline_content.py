"""Small files kept by the metadata store (``write.put`` with ``INLINE_MAX``), end to end
through the app: no blob file, no temporary file, the same answers as for blob content
(GET, HEAD, ranges, conditionals, COPY), and reclamation when a small file becomes large
or a large one small."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from davbind.storage.interface import INLINE_MAX


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def chunked(data: bytes, step: int = 1000) -> Any:
    async def gen() -> Any:
        for i in range(0, len(data), step):
            yield data[i : i + step]

    return gen


@pytest.mark.parametrize("size", [0, 1, 4096, INLINE_MAX])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_small_put_leaves_no_file_and_reads_back(dav: Any, size: int, framing: str) -> None:
    data = bytes(i % 251 for i in range(size))
    body = chunked(data) if framing == "chunked" and data else data
    assert dav.request("PUT", "/small.bin", content=body).status_code == 201
    assert dav.blob_files() == [] and dav.tmp_files() == []
    assert dav.stored() == [sha(data)]
    got = dav.request("GET", "/small.bin")
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(size)
    head = dav.request("HEAD", "/small.bin")
    assert head.status_code == 200 and head.headers["content-length"] == str(size)
    assert head.content == b""


def test_one_byte_over_the_limit_is_a_blob_file(dav: Any) -> None:
    data = b"z" * (INLINE_MAX + 1)
    assert dav.request("PUT", "/f", content=data).status_code == 201
    assert [p.name for p in dav.blob_files()] == [sha(data)]
    assert dav.request("GET", "/f").content == data


def test_ranges_and_conditionals_on_inline_content(dav: Any) -> None:
    dav.put("/f", b"0123456789")
    etag = dav.request("GET", "/f").headers["etag"]
    part = dav.request("GET", "/f", headers={"Range": "bytes=2-4"})
    assert part.status_code == 206 and part.content == b"234"
    assert part.headers["content-range"] == "bytes 2-4/10"
    assert dav.request("GET", "/f", headers={"Range": "bytes=-3"}).content == b"789"
    assert dav.request("GET", "/f", headers={"Range": "bytes=20-"}).status_code == 416
    assert dav.request("GET", "/f", headers={"If-None-Match": etag}).status_code == 304


def test_copy_and_move_share_inline_content(dav: Any) -> None:
    dav.put("/a", b"shared small content")
    dest = {"Destination": "http://testserver/b"}
    assert dav.request("COPY", "/a", headers=dest).status_code == 201
    assert dav.request("MOVE", "/b", headers={"Destination": "http://testserver/c"}
                       ).status_code == 201  # fmt: skip
    assert dav.stored() == [sha(b"shared small content")]
    assert dav.request("DELETE", "/a").status_code == 204
    assert dav.request("GET", "/c").content == b"shared small content"
    assert dav.request("DELETE", "/c").status_code == 204
    assert dav.stored() == []


@pytest.mark.parametrize("first, then", [(10, INLINE_MAX + 10), (INLINE_MAX + 10, 10)],
                         ids=["small-to-large", "large-to-small"])  # fmt: skip
def test_overwrite_across_the_limit_reclaims_the_old_content(
    dav: Any, first: int, then: int
) -> None:
    old, new = b"o" * first, b"n" * then
    dav.put("/f", old)
    assert dav.request("PUT", "/f", content=new).status_code == 204
    assert dav.request("GET", "/f").content == new
    assert dav.stored() == [sha(new)]
    assert (dav.blob_files() == []) == (then <= INLINE_MAX)
    assert dav.tmp_files() == []


def test_the_same_small_content_under_many_names_is_stored_once(dav: Any) -> None:
    for i in range(5):
        dav.put(f"/f{i}", b"same")
    assert dav.stored() == [sha(b"same")]
    for i in range(4):
        assert dav.request("DELETE", f"/f{i}").status_code == 204
    assert dav.stored() == [sha(b"same")]
    assert dav.request("GET", "/f4").content == b"same"
