"""Large PUT bodies go through the upload's writer thread in batches, and large GET bodies
are read one chunk ahead (server/write.py, server/filebody.py).

What must hold whatever the pipelining: the stored content is exactly the bytes sent
(content-addressed by SHA-256); a body over ``max_body_bytes`` gets 413 and a client
that goes away mid-body leaves the old content and no temporary file (RFC 4918 §9.7,
docs/architecture.md, "the model"); byte ranges across chunk edges are exact
(RFC 9110 §14).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from typing import Any

import pytest

from davbind.server import write
from davbind.server.filebody import CHUNK, FileBody
from davbind.storage.blobs_file import FileUpload

MIB = 1024 * 1024
# enough batches to fill the writer thread's queue several times over
BIG = write.WRITE_BATCH * (write.IN_FLIGHT + 3) + 12345


def _body(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


def _pieces(body: bytes, sizes: tuple[int, ...] = (65536, 1, 300000, 7, 131072)) -> Any:
    """A chunked request body in irregular pieces (a callable, as ``Dav.request`` wants)."""

    async def gen() -> Any:
        i = n = 0
        while i < len(body):
            step = sizes[n % len(sizes)]
            yield body[i : i + step]
            i += step
            n += 1

    return gen


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
def test_large_put_round_trips(dav, chunked):
    body = _body(BIG)
    r = dav.request("PUT", "/big.bin", content=_pieces(body) if chunked else body)
    assert r.status_code == 201, r.text
    g = dav.request("GET", "/big.bin")
    assert g.status_code == 200
    assert g.headers["content-length"] == str(BIG)
    assert g.content == body
    assert [p.name for p in dav.blob_files()] == [hashlib.sha256(body).hexdigest()]
    assert dav.tmp_files() == []


def test_overwrite_with_large_body_replaces_and_reclaims(dav):
    old, new = _body(BIG, 1), _body(BIG - 1000, 2)
    dav.put("/f", old)
    assert dav.request("PUT", "/f", content=_pieces(new)).status_code == 204
    assert dav.request("GET", "/f").content == new
    assert [p.name for p in dav.blob_files()] == [hashlib.sha256(new).hexdigest()]
    assert dav.tmp_files() == []


@pytest.mark.parametrize(
    ("first", "last"),
    [
        (0, CHUNK),  # one byte past the first chunk
        (CHUNK - 10, CHUNK + 10),  # across a chunk edge
        (CHUNK, 3 * CHUNK - 1),  # exactly two chunks
        (BIG - 5, BIG - 1),
    ],
)
def test_ranges_across_chunk_edges(dav, first, last):
    body = _body(BIG)
    dav.put("/big.bin", body)
    r = dav.request("GET", "/big.bin", headers={"Range": f"bytes={first}-{last}"})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {first}-{last}/{BIG}"
    assert r.content == body[first : last + 1]


def test_body_over_limit_after_several_batches_is_413(make_dav):
    limit = write.WRITE_BATCH * (write.IN_FLIGHT + 1) + 5
    dav = make_dav(max_body_bytes=limit)
    dav.put("/f", b"old content")
    blobs = dav.stored()
    r = dav.request("PUT", "/f", content=_pieces(_body(limit + MIB)))
    assert r.status_code == 413
    assert dav.request("GET", "/f").content == b"old content"
    assert dav.stored() == blobs
    assert dav.tmp_files() == []


def _put_then_disconnect(dav, path: str, sent: int) -> list[dict[str, Any]]:
    """Call the app with a PUT whose client vanishes after ``sent`` bytes."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(sent * 2).encode())],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
    }
    piece = _body(256 * 1024)
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": piece, "more_body": True}
        for _ in range(sent // len(piece))
    ]
    messages.append({"type": "http.disconnect"})
    replies: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0)
        return messages.pop(0)

    async def send(message: dict[str, Any]) -> None:
        replies.append(message)

    asyncio.run(dav.app(scope, receive, send))
    return replies


@pytest.mark.parametrize("existing", [False, True], ids=["new", "overwrite"])
def test_client_gone_after_several_batches_leaves_nothing(dav, existing):
    if existing:
        dav.put("/f", b"old content")
    blobs = dav.stored()
    _put_then_disconnect(dav, "/f", write.WRITE_BATCH * (write.IN_FLIGHT + 2))
    assert dav.tmp_files() == []
    assert dav.stored() == blobs
    r = dav.request("GET", "/f")
    assert (r.status_code, r.content) == ((200, b"old content") if existing else (404, r.content))


def test_write_error_in_the_writer_thread_fails_the_put_and_cleans_up(dav, monkeypatch):
    dav.put("/f", b"old content")
    real = FileUpload.write_many
    calls = 0

    def failing(self: FileUpload, chunks: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            raise OSError(28, "No space left on device")
        real(self, chunks)

    monkeypatch.setattr(FileUpload, "write_many", failing)
    r = dav.request("PUT", "/f", content=_pieces(_body(BIG)))
    assert r.status_code >= 500
    assert calls == 3  # later batches were not written after the failure
    monkeypatch.undo()
    assert dav.request("GET", "/f").content == b"old content"
    assert dav.tmp_files() == []


def test_abandoned_get_closes_its_file(dav, monkeypatch):
    body = _body(BIG)
    dav.put("/big.bin", body)
    blobs = dav.app.services.blobs
    opened: list[Any] = []
    real_open = blobs.open

    def tracking_open(digest: str) -> Any:
        fh = real_open(digest)
        opened.append(fh)
        return fh

    monkeypatch.setattr(blobs, "open", tracking_open)

    async def take_two() -> list[bytes]:
        stream = FileBody(blobs.open(hashlib.sha256(body).hexdigest()), 0, BIG).chunks()
        got = [await anext(stream), await anext(stream)]
        await stream.aclose()  # the client went away with a read in flight
        for _ in range(100):
            if opened[0].closed:
                break
            await asyncio.sleep(0.01)
        return got

    got = asyncio.run(take_two())
    assert b"".join(got) == body[: 2 * CHUNK]
    assert len(opened) == 1 and opened[0].closed
