"""``FileBody`` checks the digest of a whole-content body sent in chunks: a mismatch is
raised before the last chunk, so the client never receives a complete wrong body."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from pathlib import Path

import pytest

from davbind.server import filebody
from davbind.server.filebody import FileBody
from davbind.storage.model import Damaged


async def _collect(body: FileBody) -> list[bytes]:
    out: list[bytes] = []
    async for chunk in body.chunks():
        out.append(chunk)
    return out


def test_matching_digest_sends_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filebody, "CHUNK", 1000)
    data = bytes(range(256)) * 20
    (tmp_path / "f").write_bytes(data)
    body = FileBody((tmp_path / "f").open("rb"), 0, len(data), hashlib.sha256(data).hexdigest())
    assert b"".join(asyncio.run(_collect(body))) == data


def test_mismatch_stops_before_the_last_chunk(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(filebody, "CHUNK", 1000)
    data = bytes(range(256)) * 20
    (tmp_path / "f").write_bytes(b"X" + data[1:])
    body = FileBody((tmp_path / "f").open("rb"), 0, len(data), hashlib.sha256(data).hexdigest())
    got: list[bytes] = []

    async def run() -> None:
        async for chunk in body.chunks():
            got.append(chunk)

    with pytest.raises(Damaged, match="do not match"):
        asyncio.run(run())
    assert sum(map(len, got)) < len(data)


class _CountingFile:
    """A file that sets an event when its n-th read begins."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0
        self.reads = 0
        self.started: dict[int, threading.Event] = {}
        self.closed = False

    def started_event(self, n: int) -> threading.Event:
        return self.started.setdefault(n, threading.Event())

    def read(self, n: int) -> bytes:
        self.reads += 1
        self.started_event(self.reads).set()
        data = self._data[self._pos : self._pos + n]
        self._pos += len(data)
        return data

    def close(self) -> None:
        self.closed = True


def test_the_next_read_does_not_wait_for_the_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hashing a chunk and reading the next one overlap: a slow hash (or a slow object
    store) does not add to the other.  The hash of chunk k waits here until read k+1 has
    begun; were it done in the reading thread before the next read, it never would."""
    monkeypatch.setattr(filebody, "CHUNK", 1000)
    data = bytes(range(256)) * 20  # 6 chunks
    fake = _CountingFile(data)
    real = hashlib.sha256()
    updates = 0
    waited_in_vain: list[int] = []

    class GatedHash:
        def update(self, chunk: bytes) -> None:
            nonlocal updates
            updates += 1
            is_last = updates * 1000 >= len(data)
            if not is_last and not fake.started_event(updates + 1).wait(5):
                waited_in_vain.append(updates)
            real.update(chunk)

        def hexdigest(self) -> str:
            return real.hexdigest()

    body = FileBody(fake, 0, len(data), hashlib.sha256(data).hexdigest())  # type: ignore[arg-type]
    body._hash = GatedHash()  # type: ignore[assignment]
    assert b"".join(asyncio.run(_collect(body))) == data
    assert updates == 6
    assert waited_in_vain == []


class _ViewFile:
    """An object store's stream as ``storage.s3_reader`` hands it on: pieces of its own
    size, never through ``read``."""

    def __init__(self, pieces: list[bytes]) -> None:
        self.pieces = [memoryview(piece) for piece in pieces]
        self.closed = False

    def read_view(self, n: int) -> memoryview:
        if not self.pieces:
            return memoryview(b"")
        piece = self.pieces[0]
        self.pieces[0] = piece[n:]
        if not self.pieces[0]:
            self.pieces.pop(0)
        return piece[:n]

    def read(self, n: int) -> bytes:
        raise AssertionError("a reader with read_view is read through it")

    def close(self) -> None:
        self.closed = True


def test_stream_pieces_are_sent_as_they_came_and_checked() -> None:
    """The pieces of a ``read_view`` reader leave uncopied (views of the same buffers),
    one chunk each whatever ``CHUNK`` is, and their digest is still checked."""
    pieces = [bytes([i]) * (3_000_000 + i) for i in range(3)]
    data = b"".join(pieces)
    source = _ViewFile(pieces)
    buffers = [piece.obj for piece in source.pieces]
    body = FileBody(source, 0, len(data), hashlib.sha256(data).hexdigest())  # type: ignore[arg-type]
    got = asyncio.run(_collect(body))
    assert [len(chunk) for chunk in got] == [len(piece) for piece in pieces]
    assert all(memoryview(chunk).obj is buffer for chunk, buffer in zip(got, buffers, strict=True))
    assert b"".join(got) == data

    damaged = _ViewFile([b"X" + pieces[0][1:], *pieces[1:]])
    body = FileBody(damaged, 0, len(data), hashlib.sha256(data).hexdigest())  # type: ignore[arg-type]
    with pytest.raises(Damaged, match="do not match"):
        asyncio.run(_collect(body))
