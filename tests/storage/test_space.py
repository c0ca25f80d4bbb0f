"""A full disk, simulated: the free space ``storage.space`` sees is set by the test, so
the reserve logic and the store's refusals are checked without filling a disk (the real
thing is tests/e2e/test_fulldisk_e2e.py, on a tmpfs)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from davbind.storage import space
from davbind.storage.model import StorageFull
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.sqlite import SqliteMetadataStore, _rollback


@pytest.fixture
def free(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    level = {"bytes": 1 << 40}
    monkeypatch.setattr(space, "free_bytes", lambda _d: level["bytes"])
    return level


def _open(tmp: Path) -> SqliteMetadataStore:
    store = open_metadata(f"sqlite://{tmp}/meta.sqlite3", open_blobs(f"file://{tmp}/blobs"))
    assert isinstance(store, SqliteMetadataStore)
    return store


def test_reserve_is_released_when_low_and_taken_back_with_room(tmp_path: Path,
                                                               free: dict[str, int]) -> None:
    reserve = space.Reserve(tmp_path, size=64 * 1024, low=1000)
    assert reserve.check() is False and reserve.path.stat().st_size == 64 * 1024
    free["bytes"] = 999
    assert reserve.check() is True and not reserve.path.exists()
    free["bytes"] = 64 * 1024 + 1999  # one byte short of size + 2 * low: stays full
    assert reserve.check() is True
    free["bytes"] = 64 * 1024 + 2000
    assert reserve.check() is False and reserve.path.exists()


def test_the_opening_reserve_is_given_once_and_taken_back_with_the_reserve(
    tmp_path: Path, free: dict[str, int]
) -> None:
    reserve = space.Reserve(tmp_path, size=64 * 1024, low=1000, open_size=8 * 1024)
    assert reserve.check() is False
    assert reserve.open_path.stat().st_size == 8 * 1024
    assert reserve.release_for_open() is True and not reserve.open_path.exists()
    assert reserve.release_for_open() is False  # nothing left: the caller gives up
    free["bytes"] = 999
    assert reserve.check() is True
    free["bytes"] = 64 * 1024 + 2000
    assert reserve.check() is False
    assert reserve.path.exists() and reserve.open_path.stat().st_size == 8 * 1024


def test_opening_takes_a_missing_opening_reserve_when_there_is_room(
    tmp_path: Path, free: dict[str, int]
) -> None:
    reserve = space.Reserve(tmp_path, size=64 * 1024, low=1000, open_size=8 * 1024)
    reserve.check()
    reserve.open_path.unlink()  # a data directory from before the opening reserve
    free["bytes"] = 8 * 1024 + 999  # room for it, but not beyond the low mark: not taken
    assert reserve.prepare_open() is False and not reserve.open_path.exists()
    free["bytes"] = 8 * 1024 + 1000
    assert reserve.prepare_open() is False and reserve.open_path.exists()


def test_a_full_store_refuses_growth_and_commits_removals(tmp_path: Path,
                                                          free: dict[str, int]) -> None:
    store = _open(tmp_path)
    try:
        with store.write() as txn:
            a = txn.create(txn.root_key, "a", collection=False, digest=None)
            txn.create(txn.root_key, "b", collection=True)
        free["bytes"] = 10  # the disk is full
        with pytest.raises(StorageFull), store.write() as txn:
            txn.create(txn.root_key, "c", collection=True)
        with pytest.raises(StorageFull), store.write() as txn:
            txn.store_inline(b"data")
        with store.write() as txn:  # a removal commits
            txn.unbind(txn.root_key, "a")
        with store.read() as txn:
            assert txn.lookup(txn.root_key, "a") is None
            assert txn.lookup(txn.root_key, "c") is None
            assert a.key not in {r.key for _, r in txn.children(txn.root_key)}
        free["bytes"] = 1 << 40  # space is back: writes are accepted again
        with store.write() as txn:
            txn.create(txn.root_key, "c", collection=True)
    finally:
        store.close()


def test_the_store_opens_on_a_full_disk(tmp_path: Path, free: dict[str, int]) -> None:
    _open(tmp_path).close()
    free["bytes"] = 10
    store = _open(tmp_path)
    try:
        assert store.reserve.full
        with store.read() as txn:
            assert txn.root.is_collection
    finally:
        store.close()


def test_rollback_after_sqlite_rolled_back_does_not_hide_the_error() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    _rollback(conn)  # no transaction: nothing to do, nothing raised ("cannot rollback")
    conn.execute("BEGIN")
    _rollback(conn)
    assert not conn.in_transaction


def test_os_errors_become_storage_words() -> None:
    import errno

    with pytest.raises(StorageFull), space.os_errors("testing"):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(FileNotFoundError), space.os_errors("testing"):
        raise FileNotFoundError(errno.ENOENT, "gone")


def test_a_shared_memory_file_that_cannot_grow_is_a_full_disk() -> None:
    shm = sqlite3.OperationalError("disk I/O error")
    shm.sqlite_errorcode = 4874  # SQLITE_IOERR_SHMSIZE
    assert space.is_full(shm)
    other = sqlite3.OperationalError("disk I/O error")
    other.sqlite_errorcode = 10  # SQLITE_IOERR
    assert not space.is_full(other)
