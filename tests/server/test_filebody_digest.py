"""``FileBody`` checks the digest of a whole-content body sent in chunks: a mismatch is
raised before the last chunk, so the client never receives a complete wrong body."""

from __future__ import annotations

import asyncio
import hashlib
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
