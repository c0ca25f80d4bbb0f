"""Background flushing of unsynced blobs (``durability = "standard"``, see ``blobs_file``).

A store whose blob writes are not fsynced before their commit lists new content as
*unsynced* in the committing transaction and hands the digests to the ``Flusher`` of its
process after commit.  One daemon thread per process fsyncs each blob (file and
directory entry) and then tells the store (``mark_synced``), which forgets the digest
and releases the content kept for a roll-back.  So the window in which a power loss can
lose an acknowledged upload is the time to flush it, typically well under a second,
while the answer never waits for the disk.

Nothing is lost if this thread never runs (a worker killed, an fsync that failed): when
idle it also flushes digests that have been unsynced for longer than ``STALE`` seconds
(any process's), and a restart re-hashes whatever is still listed
(``SqliteMetadataStore.recover``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable

from davbind.storage.background import lower_priority
from davbind.storage.interface import BlobStore

STALE = 30.0
"""Seconds after which any process flushes a digest still unsynced."""
IDLE = 10.0
"""Seconds of quiet after which the thread looks for stale digests."""

log = logging.getLogger("davbind.storage")


class Flusher:
    """Flush blobs in the order given, in one thread, and report them flushed."""

    def __init__(
        self,
        blobs: BlobStore,
        mark_synced: Callable[[list[str]], None],
        stale: Callable[[float], list[str]],
    ) -> None:
        self._blobs = blobs
        self._mark_synced = mark_synced
        self._stale = stale
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._lock = threading.Condition()
        self._submitted = 0
        self._done = 0
        self._thread: threading.Thread | None = None
        self._closed = False

    def submit(self, digests: Iterable[str]) -> None:
        with self._lock:
            if self._closed:
                return  # shutting down: a restart verifies what is left (module doc)
            for digest in digests:
                self._submitted += 1
                self._queue.put(digest)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="davbind-blob-flusher", daemon=True
                )
                self._thread.start()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is flushed; False on timeout."""
        with self._lock:
            target = self._submitted
            return self._lock.wait_for(lambda: self._done >= target, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Flush what was submitted (up to ``timeout`` seconds), then stop the thread."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is not None:
            self._queue.put(None)
            thread.join(timeout)

    def _run(self) -> None:
        lower_priority()
        while True:
            try:
                first = self._queue.get(timeout=IDLE)
            except queue.Empty:
                self._flush_stale()
                continue
            batch = [first]
            while True:  # whatever else is queued goes in the same metadata transaction
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            digests = [d for d in batch if d is not None]
            self._flush(digests)
            with self._lock:
                self._done += len(digests)
                self._lock.notify_all()
            if stop:
                return

    def _flush(self, digests: list[str]) -> None:
        flushed: list[str] = []
        for digest in dict.fromkeys(digests):
            try:
                self._blobs.sync(digest)  # a blob already deleted needs no flushing
            except OSError:
                log.exception("flushing blob %s failed; it stays unsynced", digest)
                continue
            flushed.append(digest)
        if not flushed:
            return
        try:
            self._mark_synced(flushed)
        except Exception:  # the rows stay: the stale pass or a restart handles them
            log.exception("recording %d flushed blobs failed", len(flushed))

    def _flush_stale(self) -> None:
        try:
            stale = self._stale(time.time() - STALE)
        except Exception:
            log.exception("looking for stale unsynced blobs failed")
            return
        if stale:
            self._flush(stale)
