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
