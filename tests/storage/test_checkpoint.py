"""WAL checkpoints run in a background thread after enough writes, not inside a commit
(``storage.checkpoint``): a write request never pays for copying the log back, and log
restarts (an fsync in the next commit) stay as rare as SQLite's own checkpoints."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from davbind.storage import checkpoint
from davbind.storage.blobs_file import FileBlobStore
from davbind.storage.sqlite import SqliteMetadataStore


def test_commits_leave_checkpoints_to_the_background_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(checkpoint, "EVERY", 40)
    store = SqliteMetadataStore(tmp_path / "meta.sqlite3", FileBlobStore(tmp_path / "blobs"))
    try:
        with store.read() as txn:
            conn = txn._c  # type: ignore[attr-defined]
            assert conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == (
                checkpoint.BACKSTOP_PAGES
            )
        assert store._checkpointer.runs == 0
        for i in range(30):
            with store.write() as txn:
                txn.create(txn.root.key, f"a{i}", collection=True)
        time.sleep(checkpoint.DELAY * 3)
        assert store._checkpointer.runs == 0  # a few commits: no checkpoint, no restart
        for i in range(50):
            with store.write() as txn:
                txn.create(txn.root.key, f"c{i}", collection=True)
        deadline = time.monotonic() + 10
        while store._checkpointer.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert store._checkpointer.runs >= 1
        time.sleep(checkpoint.DELAY * 3)  # the last writes' checkpoint too
        with sqlite3.connect(tmp_path / "meta.sqlite3") as db:
            # a passive checkpoint now finds nothing left to copy back
            busy, log, done = db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert busy == 0 and log == done
    finally:
        store.close()
    assert store._checkpointer._thread is not None
    assert not store._checkpointer._thread.is_alive()  # close() stopped it
