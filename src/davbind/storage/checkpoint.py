"""WAL checkpoints off the request path (SQLite §wal "Checkpointing").

In WAL mode SQLite copies the log back into the database (a *checkpoint*, with an fsync
of each file) from inside whichever commit pushes the log past ``wal_autocheckpoint``
pages: one write request in a hundred or so paid 20 ms for it.  Here a daemon thread per
process runs a ``PASSIVE`` checkpoint shortly after writes instead (it never waits for
readers or writers, so it only ever delays itself), on its own connection; Python's
sqlite3 releases the GIL while SQLite works.  The connections' own threshold stays as a
backstop (``BACKSTOP_PAGES``) should this thread fall behind.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable

DELAY = 0.25
"""Seconds after a write before the checkpoint runs: later writes join the same one."""
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
        self.runs = 0

    def wrote(self) -> None:
        """A transaction committed: checkpoint soon."""
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
        conn = self._connect()
        try:
            while not self._stop.is_set():
                self._wake.wait()
                # let the writes of the next moments join this checkpoint
                if self._stop.wait(DELAY):
                    return
                self._wake.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.runs += 1
                except sqlite3.Error:  # busy or locked: the next write tries again
                    log.debug("WAL checkpoint skipped", exc_info=True)
        finally:
            conn.close()
