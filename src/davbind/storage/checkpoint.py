"""WAL checkpoints off the request path (SQLite §wal "Checkpointing").

In WAL mode SQLite copies the log back into the database (a *checkpoint*, with an fsync
of each file) from inside whichever commit pushes the log past ``wal_autocheckpoint``
pages: one write request in a hundred or so paid 20 ms for it.  Here a daemon thread per
process runs a ``PASSIVE`` checkpoint instead (it never waits for readers or writers, so
it only ever delays itself), on its own connection; Python's sqlite3 releases the GIL
while SQLite works.  The connections' own threshold stays as a backstop
(``BACKSTOP_PAGES``) should this thread fall behind.

Not after every write, though: the first commit after a complete checkpoint restarts the
log, and SQLite fsyncs the new log header there (sqlite.org ticket ff5be73dee).  That is
cheap on its own, but an fsync waits for the file system's journal, which can be waiting
for the data of a large upload still being flushed (``blobs_file``): such a commit took
200 ms.  So the thread checkpoints about as often as SQLite would (every ``EVERY``
commits of this process, or ``IDLE_SECONDS`` after the last one with writes since),
keeping log restarts as rare as they were.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

from davbind.storage.background import lower_priority

DELAY = 0.25
"""Seconds between deciding to checkpoint and doing it: writes of that moment join it."""
EVERY = 256
"""Commits of this process between checkpoints (a commit writes a few pages; SQLite's
own default is every 1,000 pages)."""
IDLE_SECONDS = 60.0
"""A checkpoint also runs this long after the previous one if anything was written."""
BACKSTOP_PAGES = 8192
"""``wal_autocheckpoint`` of every connection (32 MiB of log at 4 KiB pages)."""

log = logging.getLogger("davbind.storage")


class Checkpointer:
    """Checkpoint the WAL in a background thread after writes (``wrote``)."""

    def __init__(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self._connect = connect
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._commits = 0  # since the last checkpoint
        self.runs = 0

    def wrote(self) -> None:
        """A transaction committed: checkpoint once enough have (module doc)."""
        self._commits += 1  # a lost increment under a race only delays a checkpoint
        if self._commits >= EVERY:
            self._wake.set()
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._closed:
                    self._thread = threading.Thread(
                        target=self._run, name="davbind-checkpoint", daemon=True
                    )
                    self._thread.start()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread
        self._stop.set()
        self._wake.set()
        if thread is not None:
            thread.join(10)

    def _run(self) -> None:
        lower_priority()
        conn = self._connect()
        try:
            while not self._stop.is_set():
                self._wake.wait(IDLE_SECONDS)
                if self._commits == 0:
                    continue
                # let the writes of the next moments join this checkpoint
                if self._stop.wait(DELAY):
                    return
                self._wake.clear()
                self._commits = 0
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:  # busy or locked: the next write tries again
                    log.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            conn.close()
