"""Recovery of content a crash left unsynced, shared by every metadata backend.

A blob store that is not ``durable`` answers a write before its bytes are on disk; the
transaction that first stores such content lists its digest as unsynced (and keeps the
previous content of each resource it changed as a fallback, ``sqlite_txn`` module doc).
After a crash each such digest is re-hashed: complete content is flushed and kept, lost
content is rolled back to the last durable content (``Txn.roll_back_unsynced``)."""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from typing import Protocol

from davbind.storage.interface import BlobStore

log = logging.getLogger("davbind.storage")


class _Txn(Protocol):
    def unsynced_digests(self, before: float | None = None) -> list[str]: ...

    def roll_back_unsynced(self, digest: str) -> int: ...


class _Store(Protocol):
    """What recovery needs of a backend's store (both SQLite's and PostgreSQL's have it);
    ``_mark_synced`` is the backend's own way of recording durable content (PostgreSQL's
    does not bump the store generation: readers see no change)."""

    @property
    def blobs(self) -> BlobStore: ...

    def read(self) -> AbstractContextManager[_Txn]: ...

    def write(self) -> AbstractContextManager[_Txn]: ...

    def _mark_synced(self, digests: list[str]) -> None: ...


def recover(store: _Store) -> tuple[int, int]:
    """Re-hash every digest still unsynced; returns (digests kept, resources rolled
    back)."""
    with store.read() as txn:
        pending = txn.unsynced_digests()
    kept = rolled = 0
    for digest in pending:
        if store.blobs.verify(digest):
            store.blobs.sync(digest)
            store._mark_synced([digest])
            kept += 1
            continue
        with store.write() as txn:
            changed = txn.roll_back_unsynced(digest)
        rolled += changed
        log.warning("content %s was lost before it reached the disk: %d resource(s) "
                    "rolled back to their last stored content", digest, changed)
    return kept, rolled
