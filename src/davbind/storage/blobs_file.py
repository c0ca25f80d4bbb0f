"""Content-addressed blob store on the local file system (``file:///path``).

Blobs live at ``<root>/ab/cd/<sha256>``.  An upload streams into ``<root>/tmp/`` while it
is hashed, and is renamed into place only when the metadata transaction that references
it runs (``commit``), so a crash never leaves a half-written blob under a digest name
that a committed row trusts.  Identical content is stored once: committing a digest that
exists already just drops the temporary file.

When content reaches the disk depends on ``durable`` (the ``durability`` setting):

* ``durable=True`` (``strict``): ``finish`` fsyncs the file and ``commit`` fsyncs its
  directory, before the metadata commit: an upload answered 2xx is on disk.
* ``durable=False`` (``standard``, the default): nothing waits for the disk before the
  answer.  The metadata store records the digest as *unsynced* in the committing
  transaction and has ``sync`` flush it right after, in the background; after a power
  loss, ``verify`` re-hashes what was never confirmed flushed (a digest names its bytes,
  so no other record is needed) and the store rolls back what does not match
  (``sqlite.SqliteMetadataStore.sweep``).  Consistency is the same in both modes; what
  ``standard`` gives up is the last second or so of acknowledged uploads on a power
  loss, which SQLite's ``synchronous=NORMAL`` gives up for metadata anyway.

Large files cost more in the kernel than in Python, so two things keep that cost off the
request's critical path:

* a long upload asks the kernel to start writing each completed window of the file as
  soon as it is written (``sync_file_range`` on Linux), and waits for an older window
  (two back when durable, so the final ``fsync`` finds little left; more in the
  background mode, only to bound an upload's dirty pages);
* freeing a deleted file's blocks and cached pages (over 100 ms for 256 MiB on ext4
  with online discard) happens in a background thread: the name is unlinked at once,
  under the caller's lock, and the file is freed later, in steps (``_free_gently``), so
  that a download running meanwhile is not stalled by one long free.  A crash in between
  loses nothing: the file system reclaims an unlinked inode when it mounts.

A full disk (``ENOSPC``, a quota) or a read-only file system met while an upload is
written or placed is raised as ``StorageFull`` or ``ReadOnlyStore``; the caller aborts
the upload, which removes its temporary file, so nothing half-written stays.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import hashlib
import os
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from davbind.storage.background import lower_priority
from davbind.storage.space import os_errors

WINDOW = 32 * 1024 * 1024
"""Writeback granularity of an upload."""
LAG_DURABLE = 2
"""Windows an upload may run ahead of the disk when it is fsynced before its answer."""
LAG_BACKGROUND = 6
"""... when it is flushed after its answer: enough for a few hundred MiB to go at memory
speed, few enough to bound one upload's dirty pages (~200 MiB)."""

PARALLEL_HASH = 1024 * 1024
"""Batches at least this large are hashed in a thread of ``_hasher`` while written."""

LATE_CLOSE = 4 * 1024 * 1024
"""Files at least this large are freed by the closer thread, smaller ones at once."""
FREE_STEP = 8 * 1024 * 1024
"""The closer thread cuts a deleted file by this many bytes at a time ..."""
FREE_PAUSE = 0.002
"""... and waits this many seconds between cuts."""

_IOV_MAX = 1024  # POSIX minimum for writev(2) is 16; Linux and the BSDs allow 1024
_SFR_WAIT_BEFORE, _SFR_WRITE, _SFR_WAIT_AFTER = 1, 2, 4

SyncFileRange = Callable[[int, int, int, int], int]


def _load_sync_file_range() -> SyncFileRange | None:
    """``sync_file_range(2)`` from the C library, or None where there is none.  It only
    starts or awaits writeback of a byte range (no metadata, no durability promise): the
    final ``fsync`` stays what makes an upload durable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    fn.restype = ctypes.c_int
    sync: SyncFileRange = fn
    return sync


_SYNC_FILE_RANGE = _load_sync_file_range()


_HASHER: ThreadPoolExecutor | None = None
_HASHER_LOCK = threading.Lock()


def _hasher() -> ThreadPoolExecutor:
    """Threads that hash batches of uploads; one upload waits for its batch before the
    next, so its updates stay in order."""
    global _HASHER
    if _HASHER is None:
        with _HASHER_LOCK:
            if _HASHER is None:
                _HASHER = ThreadPoolExecutor(4, thread_name_prefix="davbind-hash")
    return _HASHER


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _free_gently(fd: int) -> None:
    """Cut the deleted file open on ``fd`` to nothing, ``FREE_STEP`` bytes at a time from
    the end, before its last close.  Freed at once, 256 MiB of blocks and page cache
    take over 100 ms in the kernel (ext4; its online ``discard`` adds to it), and a
    download of another file running then was measured 10-20% slower; in steps, with
    pauses, it is not.  Storage engines do the same with large deletes (RocksDB's
    ``DeleteScheduler`` truncates in chunks).

    Only a file no one else can still read is cut: it has no name left, and a write
    lease (fcntl(2) ``F_SETLEASE``) can be taken, which Linux allows only while no other
    open file description refers to the file.  A download of the old content that is
    still running keeps its whole file, and frees it itself on its last close.  Where
    either check fails (another reader, no leases, a read-only descriptor, another
    system) the file is just closed, as before."""
    try:
        import fcntl  # not on Windows
    except ImportError:
        return
    setlease = getattr(fcntl, "F_SETLEASE", None)  # Linux only
    if setlease is None:
        return
    try:
        if os.fstat(fd).st_nlink != 0:
            return
        fcntl.fcntl(fd, setlease, fcntl.F_WRLCK)
        # given back at once: held, an open elsewhere would break it and the kernel would
        # signal this process (SIGIO, fatal by default); with no name, no one can open
        # the file any more, so the answer stays true
        fcntl.fcntl(fd, setlease, fcntl.F_UNLCK)
        size = os.fstat(fd).st_size
        while size > 0:
            size = max(0, size - FREE_STEP)
            os.ftruncate(fd, size)
            time.sleep(FREE_PAUSE)
    except OSError:  # EAGAIN: open elsewhere; EBADF/EINVAL/EACCES: cannot cut it
        return


class _Closer:
    """Frees and closes file descriptors in one daemon thread, in order.  The last close
    of an unlinked file frees its blocks and page cache, which can take over 100 ms for
    a large file: too long for an event loop or a held write lock, so it happens here,
    in steps where it may (``_free_gently``)."""

    def __init__(self) -> None:
        self._fds: queue.SimpleQueue[int | threading.Event] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def close(self, fd: int) -> None:
        self._hand(fd)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until what was handed over so far is closed; False on timeout."""
        done = threading.Event()
        self._hand(done)
        return done.wait(timeout)

    def _hand(self, item: int | threading.Event) -> None:
        self._fds.put(item)
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._run, name="davbind-blob-closer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        lower_priority()
        while True:
            fd = self._fds.get()
            if isinstance(fd, threading.Event):
                fd.set()
                continue
            try:
                _free_gently(fd)
            finally:
                with contextlib.suppress(OSError):
                    os.close(fd)


_CLOSER = _Closer()


def _remove(path: str) -> None:
    """Unlink ``path`` (missing is fine); a large file is freed by the closer thread
    (opened for writing, which cutting it in steps needs; else read-only)."""
    try:
        # a digest name always holds the same bytes, so its size cannot change under us
        small = os.stat(path).st_size < LATE_CLOSE
        fd = -1 if small else _open_for_freeing(path)
    except FileNotFoundError:
        return
    except OSError:  # not readable: a plain unlink still works
        fd = -1
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    finally:
        if fd >= 0:
            _CLOSER.close(fd)


def _open_for_freeing(path: str) -> int:
    try:
        return os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except PermissionError:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)


def _write_all(fd: int, chunks: Sequence[bytes | memoryview]) -> int:
    """Write ``chunks`` in order with ``writev`` (no joined copy); returns bytes written.
    A short write (a signal, a full disk) is finished chunk by chunk, or raises."""
    total = 0
    for i in range(0, len(chunks), _IOV_MAX):
        group = chunks[i : i + _IOV_MAX]
        done = os.writev(fd, group)
        total += done
        for chunk in group:
            if done >= len(chunk):
                done -= len(chunk)
                continue
            rest = memoryview(chunk)[done:]
            done = 0
            while rest:
                n = os.write(fd, rest)
                total += n
                rest = rest[n:]
    return total


class FileUpload:
    """An upload in progress: a temporary file plus a running SHA-256."""

    def __init__(self, tmp_dir: Path, durable: bool = True) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="up-")
        self._durable = durable
        self._lag = WINDOW * (LAG_DURABLE if durable else LAG_BACKGROUND)
        self._file = os.fdopen(fd, "wb", buffering=0)
        self._fd = fd
        self.tmp_path = Path(name)
        self._hash = hashlib.sha256()
        self._batch = bytearray()  # reused by ``write_many``
        self.size = 0
        self.digest: str | None = None
        self._started = 0  # writeback was started for bytes [0, _started)
        self._awaited = 0  # writeback has completed for bytes [0, _awaited)

    def write(self, chunk: bytes) -> None:
        self.write_many((chunk,))

    def write_many(self, chunks: Sequence[bytes]) -> None:
        with os_errors("writing an upload"):
            self._write_many(chunks)

    def _write_many(self, chunks: Sequence[bytes]) -> None:
        """Append ``chunks`` in order, hashed as one buffer.  Hashing releases the GIL
        and must take it back afterwards: per 64 KiB piece, while the event loop thread
        keeps receiving, that wait (up to the 5 ms switch interval each time) cost more
        than the hashing itself.  The pieces are copied into one buffer kept for the
        whole upload: a fresh 2 MiB buffer per batch (``b"".join``) cost a page fault
        per 4 KiB, a seventh of the writer thread's time."""
        if len(chunks) == 1:
            data: bytes | memoryview = chunks[0]
        else:
            total = sum(map(len, chunks))
            if len(self._batch) < total:
                self._batch = bytearray(total + total // 4)
            view = memoryview(self._batch)
            pos = 0
            for chunk in chunks:
                end = pos + len(chunk)
                view[pos:end] = chunk
                pos = end
            data = view[:total]
        if len(data) >= PARALLEL_HASH:
            # hash in another thread while this one writes: both release the GIL, so on
            # two cores a large upload's hashing costs no time of its own
            hashed = _hasher().submit(self._hash.update, data)
            try:
                self.size += _write_all(self._fd, (data,))
            finally:
                hashed.result()  # before the buffer is reused (or an error is raised)
        else:
            self._hash.update(data)
            self.size += _write_all(self._fd, (data,))
        if self.size - self._started >= WINDOW and _SYNC_FILE_RANGE is not None:
            self._writeback(_SYNC_FILE_RANGE)

    def _writeback(self, sync_file_range: SyncFileRange) -> None:
        # Start writing the window just completed, then wait for what lies more than
        # ``_lag`` behind it: the disk works while the next windows arrive, the writer
        # thread seldom waits (waiting for the window just before cost ~10% of PUT
        # throughput), and dirty pages stay bounded.  The return values do not matter:
        # fsync (``finish`` or ``FileBlobStore.sync``) reports any I/O error.
        sync_file_range(self._fd, self._started, self.size - self._started, _SFR_WRITE)
        self._started = self.size
        behind = self._started - self._lag
        if behind > self._awaited:
            flags = _SFR_WAIT_BEFORE | _SFR_WRITE | _SFR_WAIT_AFTER
            sync_file_range(self._fd, self._awaited, behind - self._awaited, flags)
            self._awaited = behind

    def finish(self) -> tuple[str, int]:
        """Close the file (after an fsync when durable); returns (digest, size)."""
        if self.digest is None:
            if self._durable:
                with os_errors("flushing an upload"):
                    os.fsync(self._fd)
            self._file.close()
            self.digest = self._hash.hexdigest()
        return self.digest, self.size

    def abort(self) -> None:
        if not self._file.closed:
            try:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(self.tmp_path)
                if self.size >= LATE_CLOSE:  # this close must not be the last one
                    _CLOSER.close(os.dup(self._fd))
            finally:
                with contextlib.suppress(OSError):
                    self._file.close()
        else:
            _remove(str(self.tmp_path))


class FileBlobStore:
    """``BlobStore`` over a directory."""

    def __init__(self, root: Path, durable: bool = False) -> None:
        self.root = root
        self.durable = durable
        self._root_str = str(root)
        self.tmp = root / "tmp"
        try:
            self.tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            if exc.errno != errno.EROFS:
                raise  # read-only: reads work, ``begin`` says why writes cannot

    def _final(self, digest: str) -> Path:
        return Path(self._final_str(digest))

    def _final_str(self, digest: str) -> str:
        # plain strings: pathlib joins cost more than the read itself for small blobs
        return f"{self._root_str}/{digest[:2]}/{digest[2:4]}/{digest}"

    def begin(self) -> FileUpload:
        with os_errors("starting an upload"):
            return FileUpload(self.tmp, self.durable)

    def commit(self, upload: object) -> bool:
        """Put a finished upload under its digest; True if it was not stored before."""
        assert isinstance(upload, FileUpload)
        digest, _ = upload.finish()
        final = self._final(digest)
        if final.exists():
            upload.abort()
            return False
        with os_errors("placing an upload"):
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(upload.tmp_path, final)
            if self.durable:
                _fsync_path(final.parent)
        return True

    def sync(self, digest: str) -> bool:
        """Flush the blob and its directory entry to disk; False if it is gone (then
        nothing needs flushing).  Any process may do it: fsync acts on the file."""
        final = self._final(digest)
        try:
            _fsync_path(final)
        except FileNotFoundError:
            return False
        _fsync_path(final.parent)
        return True

    def verify(self, digest: str) -> bool:
        """Whether the blob holds exactly the bytes its digest names (read back whole)."""
        sha = hashlib.sha256()
        try:
            with open(self._final_str(digest), "rb", buffering=0) as fh:
                while chunk := fh.read(4 * 1024 * 1024):
                    sha.update(chunk)
        except FileNotFoundError:
            return False
        return sha.hexdigest() == digest

    def open(self, digest: str) -> BinaryIO:
        return open(self._final(digest), "rb")

    def path(self, digest: str) -> Path | None:
        return self._final(digest)

    def delete(self, digest: str) -> None:
        _remove(self._final_str(digest))

    def digests(self) -> Iterator[str]:
        for sub in self.root.glob("??/??/*"):
            if len(sub.name) == 64:
                yield sub.name

    def sweep_tmp(self) -> int:
        """Remove temporary files left by interrupted uploads (call before serving)."""
        n = 0
        for f in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                n += 1
        return n
