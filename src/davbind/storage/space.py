"""A full disk and a read-only data directory, as storage words (``StorageFull``,
``ReadOnlyStore``), and the space reserve that keeps deletes working on a full disk.

SQLite needs room in its write-ahead log to commit anything, a delete included: on a
full disk every commit fails (``SQLITE_FULL``, the transaction rolled back whole), so
without help space could not be freed through the server at all, and opening the
database (which creates its ``-shm`` and ``-wal`` files) fails too.  So the metadata
store keeps a ``reserve`` file of ``RESERVE`` bytes next to its database:

* before each write transaction, and when the store opens, ``Reserve.check`` looks at the
  free space (``statvfs``, a microsecond or two).  Below ``LOW`` bytes, the reserve is
  deleted: the store is then *full*;
* while full, a transaction that added anything (a resource, a binding, content, a dead
  property, a lock) is rolled back and refused (``StorageFull``, 507); one that only
  removes things (DELETE, UNBIND, UNLOCK) commits in the room the reserve gave back, and
  the content it released is deleted after its commit;
* as soon as ``RESERVE + 2 * LOW`` bytes are free again, the reserve is re-created and
  writes are accepted again.

So a write is accepted while it leaves at least ``LOW`` bytes free: an upload that
fits but leaves less is refused at its commit (and its file removed).  The gap between
the two thresholds keeps the state from flapping: a refused upload gives its bytes back,
which alone must not end the full state; freeing ``LOW`` bytes more than the last
refusal needed does.

The server may also stop while full (the reserve already given back), and something
else may then take the last free bytes: opening the database could not even create its
``-shm`` file (32 KiB) and the first frames of its log.  So a second, small reserve,
``reserve-open`` of ``OPEN_RESERVE`` bytes, is kept for opening only: when the store
cannot open for lack of space it is deleted and the open tried once more, and its room
is then also where the first removals commit.  It is re-created whenever the main
reserve is, and at open when it is missing and there is room for it.

Whether the store is full is whether the main ``reserve`` file exists, so every worker process
sharing the data directory agrees without talking.  The reserve is taken with
``posix_fallocate`` (or written out where that is missing): a file system that does not
allocate such blocks for real (copy-on-write ones with compression, ZFS) gives less
protection, and a write that fails there still fails cleanly (507), it only may take a
second DELETE to free the first bytes.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from davbind.storage.model import ReadOnlyStore, StorageFull

RESERVE = 8 * 1024 * 1024
"""Bytes kept back for the metadata store's log while the disk fills up."""
LOW = 1024 * 1024
"""Below this many free bytes the reserve is given back and only removals commit."""
RESERVE_NAME = "reserve"
OPEN_RESERVE = 256 * 1024
"""Bytes kept back for opening the database on a full disk: its 32 KiB ``-shm`` file and
about fifty 4 KiB log frames, enough for the first deletions after the open (a DELETE
of one file writes some eight frames, 33 KiB, measured on a tmpfs)."""
OPEN_RESERVE_NAME = "reserve-open"

_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_READ_ONLY_ERRNOS = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
_SQLITE_FULL = 13
_SQLITE_IOERR_SHMSIZE = 4874  # could not grow the -shm file: its pages are written out

log = logging.getLogger("davbind.storage")


def is_full(exc: BaseException) -> bool:
    """Whether ``exc`` says the file system (or a quota) has no room left."""
    if isinstance(exc, StorageFull):
        return True
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", 0)
        return (code & 0xFF) == _SQLITE_FULL or code == _SQLITE_IOERR_SHMSIZE
    return isinstance(exc, OSError) and exc.errno in _FULL_ERRNOS


@contextlib.contextmanager
def os_errors(what: str) -> Iterator[None]:
    """Turn a full disk (``StorageFull``) or a read-only file system (``ReadOnlyStore``)
    met while doing ``what`` into storage words, logged once here with the real error;
    anything else passes unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _FULL_ERRNOS:
            log.warning("no space left while %s: %s", what, exc)
            raise StorageFull(f"no space left on the storage device ({what})") from exc
        if exc.errno == errno.EROFS:
            log.warning("read-only file system while %s: %s", what, exc)
            raise ReadOnlyStore(f"the data directory is read-only ({what})") from exc
        raise


def free_bytes(directory: Path) -> int:
    """Bytes an unprivileged process may still write on ``directory``'s file system."""
    st = os.statvfs(directory)
    return st.f_bavail * st.f_frsize


def writable(directory: Path) -> bool:
    """Whether files can be created in ``directory`` (which exists): tried for real,
    because permission bits say nothing to root and nothing about a read-only mount."""
    probe = directory / f".davbind-probe-{os.getpid()}"
    try:
        fd = os.open(probe, os.O_CREAT | os.O_WRONLY | os.O_EXCL, 0o600)
    except FileExistsError:
        return True
    except OSError as exc:
        if exc.errno in _READ_ONLY_ERRNOS:
            return False
        if exc.errno in _FULL_ERRNOS:  # no inode left: writable, but full
            return True
        raise
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)
    return True


class Reserve:
    """The ``reserve`` and ``reserve-open`` files of one directory (module doc)."""

    def __init__(self, directory: Path, size: int = RESERVE, low: int = LOW,
                 open_size: int = OPEN_RESERVE) -> None:  # fmt: skip
        self.path = directory / RESERVE_NAME
        self.open_path = directory / OPEN_RESERVE_NAME
        self.directory = directory
        self.size = size
        self.low = low
        self.open_size = open_size
        self._released = False  # this process gave the reserve back (for the log only)

    @property
    def full(self) -> bool:
        """The reserve is given back: only removals may commit."""
        return not self.path.exists()

    def check(self) -> bool:
        """Give the reserve back when space is short, take it again when there is room;
        returns whether the store is full now.  Never raises for lack of space."""
        try:
            free = free_bytes(self.directory)
        except OSError:
            return self.full
        if not self.full:
            if free < self.low:
                self.release(f"{free} bytes free")
                return True
            return False
        if free >= self.size + 2 * self.low and self._take(self.path, self.size):
            if not self.open_path.exists():
                self._take(self.open_path, self.open_size)
            if self._released:
                log.warning("space is available again (%d bytes free): writes are accepted",
                            free)  # fmt: skip
            self._released = False
            return False
        return True

    def release(self, why: str) -> None:
        """Delete the reserve (idempotent), so that removals can commit."""
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            return
        self._released = True
        log.error("the disk holding %s is full (%s): released the %d-byte reserve; only "
                  "deletions are accepted until space is freed", self.directory, why, self.size)

    def prepare_open(self) -> bool:
        """``check`` before the database opens, and take the opening reserve if it is
        missing (a data directory from before it existed) while there is room for it;
        returns whether the store is full."""
        full = self.check()
        if not full and not self.open_path.exists():
            with contextlib.suppress(OSError):
                if free_bytes(self.directory) >= self.open_size + self.low:
                    self._take(self.open_path, self.open_size)
        return full

    def release_for_open(self) -> bool:
        """Delete the opening reserve so that the database can open; returns whether
        there was one to delete (if not, retrying the open is pointless)."""
        try:
            os.unlink(self.open_path)
        except FileNotFoundError:
            return False
        log.error("the disk holding %s is full: released the %d-byte opening reserve to "
                  "open the database", self.directory, self.open_size)  # fmt: skip
        return True

    def _take(self, path: Path, size: int) -> bool:
        """Create a reserve file under a temporary name, then rename it into place
        (another process doing the same at once only replaces it)."""
        tmp = self.directory / f"{path.name}.{os.getpid()}"
        try:
            fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        except OSError:
            return False
        try:
            try:
                os.posix_fallocate(fd, 0, size)
            except OSError as exc:
                if exc.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
                    raise
                _write_zeros(fd, size)
            os.close(fd)
            fd = -1
            os.replace(tmp, path)
            return True
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            return False
        finally:
            if fd >= 0:
                os.close(fd)


def _write_zeros(fd: int, size: int) -> None:
    block = bytes(1024 * 1024)
    left = size
    while left > 0:
        left -= os.write(fd, block[: min(left, len(block))])
