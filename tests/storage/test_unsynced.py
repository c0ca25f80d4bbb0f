"""Content flushed after its commit (``durability = "standard"``, ``blobs_file`` module doc).

New blob content is listed as unsynced by the transaction that stores it; a resource
changed to it keeps its last durable content (``fallback``) until the flusher has put the
new bytes on disk.  After a crash, ``recover`` re-hashes what is still unsynced: complete
content is kept, lost content is rolled back to the fallback (or, for a resource created
since, the resource is unbound).  A "power loss" is simulated here by never running the
flusher and damaging the blob file before the store is reopened.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from davbind.storage import flusher as flusher_mod
from davbind.storage.blobs_file import FileBlobStore
from davbind.storage.flusher import Flusher
from davbind.storage.model import Resource
from davbind.storage.sqlite import SqliteMetadataStore

BIG_A = b"A" * 100_000  # over INLINE_MAX: blob files, not inline content
BIG_B = b"B" * 100_000
BIG_C = b"C" * 100_000


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path.resolve()


@pytest.fixture
def opened(tmp: Path) -> Iterator[Callable[..., SqliteMetadataStore]]:
    stores: list[SqliteMetadataStore] = []

    def open_(durable: bool = False) -> SqliteMetadataStore:
        store = SqliteMetadataStore(tmp / "meta.sqlite3", FileBlobStore(tmp / "blobs", durable))
        stores.append(store)
        return store

    yield open_
    for store in stores:
        store.close()


@pytest.fixture
def no_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """The power goes before anything is flushed: the flusher never runs."""
    monkeypatch.setattr(Flusher, "submit", lambda self, digests: None)


def _put(store: SqliteMetadataStore, segment: str, data: bytes) -> Resource:
    """PUT as the server does: stream, then create or replace in one transaction."""
    upload = store.blobs.begin()
    upload.write(data)
    with store.write() as txn:
        digest, size = txn.store_blob(upload)
        old = txn.lookup(txn.root.key, segment)
        if old is None:
            return txn.create(txn.root.key, segment, collection=False, digest=digest,
                              size=size, content_type="text/plain")  # fmt: skip
        return txn.set_content(old.key, digest, size, "application/x-new")


def _put_flushed(store: SqliteMetadataStore, segment: str, data: bytes) -> Resource:
    """``_put``, then record the content on disk (what the flusher would do)."""
    made = _put(store, segment, data)
    with store.write() as txn:
        txn.mark_synced([_sha(data)])
    return made


def _rows(tmp: Path, table: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp / "meta.sqlite3") as db:
        return list(db.execute(f"SELECT * FROM {table}"))


def _files(tmp: Path) -> set[str]:
    return {p.name for p in (tmp / "blobs").glob("??/??/*")}


def _content(store: SqliteMetadataStore, segment: str) -> bytes | None:
    with store.read() as txn:
        found = txn.lookup(txn.root.key, segment)
    if found is None:
        return None
    assert found.digest is not None
    with store.blobs.open(found.digest) as fh:
        return fh.read()


def _lose(tmp: Path, data: bytes, how: str = "truncate") -> None:
    """What a power loss does to a file whose pages never reached the disk."""
    path = next((tmp / "blobs").glob(f"??/??/{_sha(data)}"))
    if how == "truncate":
        path.write_bytes(data[: len(data) // 3])
    elif how == "zeros":
        path.write_bytes(bytes(len(data)))
    else:
        path.unlink()


# -- while running -----------------------------------------------------------------------


def test_new_content_is_unsynced_until_flushed(opened, tmp) -> None:
    store = opened()
    _put(store, "f", BIG_A)
    assert store.flush_blobs(10)
    assert _rows(tmp, "unsynced") == []
    assert _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_A)}


def test_replaced_content_is_kept_until_the_new_one_is_flushed(opened, tmp, no_flush) -> None:
    store = opened()
    _put_flushed(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    assert [r[0] for r in _rows(tmp, "unsynced")] == [_sha(BIG_B)]
    key = _resource(store, "f").key
    assert _rows(tmp, "fallback") == [(key, 1, _sha(BIG_A), len(BIG_A), "text/plain")]
    assert _files(tmp) == {_sha(BIG_A), _sha(BIG_B)}  # A survives for a roll-back
    with store.write() as txn:
        txn.mark_synced([_sha(BIG_B)])
    assert _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_B)}  # and goes once B is on disk


def test_the_flusher_records_what_it_flushed(opened, tmp) -> None:
    store = opened()
    _put(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    _put(store, "g", BIG_C)
    assert store.flush_blobs(10)
    assert _rows(tmp, "unsynced") == []
    assert _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_B), _sha(BIG_C)}


def test_deleting_unsynced_content_releases_it_and_its_fallback(opened, tmp, no_flush) -> None:
    store = opened()
    _put_flushed(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    with store.write() as txn:
        txn.unbind(txn.root.key, "f")
    assert _rows(tmp, "unsynced") == []
    assert _rows(tmp, "fallback") == []
    assert _files(tmp) == set()


def test_a_file_no_row_knows_is_listed_unsynced(opened, tmp, no_flush) -> None:
    store = opened()
    digest = _sha(BIG_A)
    orphan = tmp / "blobs" / digest[:2] / digest[2:4] / digest
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(BIG_A)  # left by a rolled-back transaction, never flushed
    _put(store, "f", BIG_A)
    assert [r[0] for r in _rows(tmp, "unsynced")] == [digest]


def test_stale_unsynced_content_of_another_process_is_flushed(
    opened, tmp, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = opened()
    monkeypatch.setattr(writer, "_flusher", None)  # a worker killed before it flushed
    _put(writer, "f", BIG_A)
    assert len(_rows(tmp, "unsynced")) == 1
    monkeypatch.setattr(flusher_mod, "IDLE", 0.05)
    monkeypatch.setattr(flusher_mod, "STALE", 0.0)
    other = opened()
    _put(other, "g", BIG_B)  # starts the other process's flusher
    deadline = time.monotonic() + 10
    while _rows(tmp, "unsynced") and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _rows(tmp, "unsynced") == []


def test_blob_files_are_deleted_only_after_the_wal_is_synced(
    opened, tmp, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = opened()
    events: list[str] = []
    sync_wal = store._sync_wal
    delete = store.blobs.delete
    monkeypatch.setattr(store, "_sync_wal", lambda: (events.append("wal"), sync_wal())[1])
    monkeypatch.setattr(store.blobs, "delete", lambda d: (events.append("delete"), delete(d))[1])
    _put(store, "f", BIG_A)
    assert store.flush_blobs(10)
    with store.write() as txn:
        txn.unbind(txn.root.key, "f")
    assert events == ["wal", "delete"]
    assert _files(tmp) == set()


# -- after a crash -----------------------------------------------------------------------


def _resource(store: SqliteMetadataStore, segment: str) -> Resource:
    with store.read() as txn:
        found = txn.lookup(txn.root.key, segment)
    assert found is not None
    return found


@pytest.mark.parametrize("how", ["truncate", "zeros", "missing"])
def test_lost_new_content_rolls_back_to_the_last_durable(opened, tmp, no_flush, how) -> None:
    store = opened()
    _put_flushed(store, "f", BIG_A)
    before = _resource(store, "f")
    after = _put(store, "f", BIG_B)
    store.close()
    _lose(tmp, BIG_B, how)
    store = opened()
    assert store.recover() == (0, 1)
    now = _resource(store, "f")
    assert (now.digest, now.size, now.content_type) == (_sha(BIG_A), len(BIG_A), "text/plain")
    assert now.rid == before.rid
    assert now.version > after.version  # a change clients can see (new ETag)
    assert _content(store, "f") == BIG_A
    assert _rows(tmp, "unsynced") == [] and _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_A)}  # the damaged file is gone


def test_complete_new_content_is_kept(opened, tmp, no_flush) -> None:
    store = opened()
    _put_flushed(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    store.close()  # the server process died; the kernel still wrote the pages
    store = opened()
    assert store.recover() == (1, 0)
    assert _content(store, "f") == BIG_B
    assert _rows(tmp, "unsynced") == [] and _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_B)}


def test_a_resource_created_with_lost_content_is_unbound(opened, tmp, no_flush) -> None:
    store = opened()
    with store.write() as txn:
        coll = txn.create(txn.root.key, "d", collection=True)
    upload = store.blobs.begin()
    upload.write(BIG_B)
    with store.write() as txn:
        digest, size = txn.store_blob(upload)
        made = txn.create(coll.key, "new", collection=False, digest=digest, size=size)
        txn.bind(txn.root.key, "alias", made.key)  # and reachable twice
    coll_version = _resource(store, "d").version
    store.close()
    _lose(tmp, BIG_B)
    store = opened()
    assert store.sweep() == 0
    with store.read() as txn:
        assert txn.lookup(coll.key, "new") is None
        assert txn.lookup(txn.root.key, "alias") is None
    assert _resource(store, "d").version > coll_version
    assert _rows(tmp, "unsynced") == [] and _rows(tmp, "fallback") == []
    assert _files(tmp) == set()


def test_several_writes_in_the_window_roll_back_to_the_durable_one(
    opened, tmp, no_flush
) -> None:
    store = opened()
    _put_flushed(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    _put(store, "f", BIG_C)  # B, unsynced and no longer used, is dropped at once
    with store.read() as txn:  # a copy of the unsynced content: a new resource
        f = txn.lookup(txn.root.key, "f")
    assert f is not None
    with store.write() as txn:
        txn.create(txn.root.key, "copy", collection=False, digest=f.digest, size=f.size)
    assert _files(tmp) == {_sha(BIG_A), _sha(BIG_C)}
    store.close()
    _lose(tmp, BIG_C)
    store = opened()
    assert store.recover() == (0, 2)
    assert _content(store, "f") == BIG_A
    assert _content(store, "copy") is None
    assert _files(tmp) == {_sha(BIG_A)}


def test_content_set_on_an_empty_resource_rolls_back_to_empty(opened, tmp, no_flush) -> None:
    store = opened()
    with store.write() as txn:  # like a LOCK of an unmapped URL: a resource, no content
        empty = txn.create(txn.root.key, "f", collection=False)
    _put(store, "f", BIG_B)
    store.close()
    _lose(tmp, BIG_B)
    store = opened()
    assert store.recover() == (0, 1)
    now = _resource(store, "f")
    assert (now.key, now.digest, now.size) == (empty.key, None, 0)


def test_strict_mode_syncs_before_commit(opened, tmp) -> None:
    store = opened(durable=True)
    _put(store, "f", BIG_A)
    _put(store, "f", BIG_B)
    assert _rows(tmp, "unsynced") == [] and _rows(tmp, "fallback") == []
    assert _files(tmp) == {_sha(BIG_B)}  # the old content goes with the commit
    with store.read() as txn:
        conn = txn._c  # type: ignore[attr-defined]
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_releasing_inline_content_does_not_wait_for_the_disk(
    opened, tmp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Small content lives in its row and goes with it: overwriting or deleting a small
    file syncs nothing and asks the blob store for nothing."""
    store = opened()
    events: list[str] = []
    monkeypatch.setattr(store, "_sync_wal", lambda: events.append("wal"))
    monkeypatch.setattr(store.blobs, "delete", lambda d: events.append(f"delete {d}"))

    def put_small(data: bytes) -> None:  # as the server stores a small body: inline
        with store.write() as txn:
            digest, size = txn.store_inline(data)
            old = txn.lookup(txn.root.key, "small")
            if old is None:
                txn.create(txn.root.key, "small", collection=False, digest=digest, size=size)
            else:
                txn.set_content(old.key, digest, size, None)

    put_small(b"one")
    put_small(b"two")  # releases b"one"
    with store.write() as txn:
        txn.unbind(txn.root.key, "small")  # releases b"two"
    assert events == []
    with sqlite3.connect(tmp / "meta.sqlite3") as conn:
        assert conn.execute("SELECT count(*) FROM inline_blobs").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM blob_trash").fetchone() == (0,)
