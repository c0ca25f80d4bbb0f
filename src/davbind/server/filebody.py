"""A response body that is a byte range of an open file (RFC 9110 §14 ranges included).

The file is opened by the handler *before* the status line is sent, so a blob that is
unlinked afterwards (a concurrent DELETE or overwrite: blobs are content-addressed and
immutable, but not eternal) is still read whole from the open descriptor.  The body then
leaves one of two ways, chosen by ``http.send_response``:

* **zero-copy**: when the server advertises the ASGI ``http.response.zerocopysend``
  extension and the file is a regular file with a descriptor, the descriptor, offset and
  count go to the server, which copies page cache to socket with ``sendfile(2)``;
* **chunks**: otherwise (in-process tests, a backend without local files) ``chunks()``
  reads ``CHUNK`` bytes at a time in a worker thread, one read ahead of the send; from a
  reader that has ``read_view`` (an object store's stream), each piece as it came, a
  view sent without a copy (the server's transport writes any buffer).

Whoever sends the body closes the file: ``chunks()`` when it ends, ``close()`` else.

A body that is the whole content (``digest`` given) is checked on the chunks path: each
chunk is hashed in a thread of its own while the next chunk is read and this one is
sent (hashing in the reading thread made a download from an object store wait for the
hash between reads: reading, hashing and sending now proceed side by side, each in
order), and on a mismatch the last chunk is not sent: the error is logged and raised,
and the server, with a Content-Length it cannot complete, closes the connection, so the
client sees a failed transfer instead of wrong bytes.  ``sendfile(2)`` cannot do this:
the bytes never reach Python, so hashing them would mean reading the file a second time
(``davbind fsck`` checks them instead).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import stat
import threading
from collections.abc import AsyncGenerator, Callable
from typing import BinaryIO

from davbind.storage.model import Damaged

CHUNK = 2 * 1024 * 1024

log = logging.getLogger("davbind")


def _close_later(close: Callable[[], None]) -> None:
    """Run ``close`` off the event loop: the last close of an unlinked large file frees
    its blocks and page cache, which takes milliseconds."""
    try:
        asyncio.get_running_loop().run_in_executor(None, close)
    except RuntimeError:  # no running loop, or it is shutting down: no executor to use
        threading.Thread(target=close, daemon=True).start()


class FileBody:
    """``count`` bytes of ``file`` from ``offset``; the file is owned by this body and is
    positioned at ``offset`` already (seeking may be I/O: the opener does it in a thread).
    ``digest``: the SHA-256 the bytes must have (only for a body that is the whole
    content; module doc)."""

    __slots__ = ("_hash", "_lock", "count", "digest", "file", "offset")

    def __init__(self, file: BinaryIO, offset: int, count: int,
                 digest: str | None = None) -> None:  # fmt: skip
        self.file = file
        self.offset = offset
        self.count = count
        self.digest = digest
        self._hash = hashlib.sha256() if digest is not None else None
        self._lock = threading.Lock()  # a read in a thread never overlaps close()

    def fileno(self) -> int | None:
        """The descriptor ``sendfile`` may read from: a regular file's, else None."""
        try:
            fd = self.file.fileno()
            return fd if stat.S_ISREG(os.fstat(fd).st_mode) else None
        except (OSError, ValueError):  # io.UnsupportedOperation is both; ValueError: closed
            return None

    def close(self) -> None:
        """Close the file off the event loop (idempotent)."""
        _close_later(self._close)

    def _close(self) -> None:
        with self._lock:
            self.file.close()

    def _read(self, left: int) -> bytes | memoryview:
        """The next chunk of at most ``left`` bytes: ``CHUNK`` bytes of a file, or the
        next piece of an object store's stream as it came (``read_view``: not copied,
        its size set by the stream, about ``CHUNK``)."""
        with self._lock:
            if self.file.closed:
                return b""
            read_view = getattr(self.file, "read_view", None)
            if read_view is not None:
                view: memoryview = read_view(left)
                return view
            return self.file.read(min(CHUNK, left))

    def _check(self) -> None:
        """After the last read: the bytes read hash to ``digest`` (when given)."""
        if self._hash is None or self._hash.hexdigest() == self.digest:
            return
        assert self.digest is not None
        err = Damaged(self.digest, "its bytes do not match its SHA-256 digest")
        log.error("integrity error: %s; the connection is closed before the last chunk", err)
        raise err

    async def chunks(self) -> AsyncGenerator[bytes | memoryview, None]:
        """Each chunk is read in a thread while the one before it is hashed (in another
        thread) and sent, so the disk or object store, the hash and the socket work at
        the same time.  One read is outstanding at a time, so the file position stays
        sequential, and one hash, so the chunks enter it in order; at most three chunks
        are held.  A file shorter than ``count`` ends the iteration early (the server
        then sees a short body)."""
        loop = asyncio.get_running_loop()
        left = self.count
        reading = loop.run_in_executor(None, self._read, left)
        hashing: asyncio.Future[None] | None = None
        try:
            while True:
                chunk = await reading
                if not chunk:
                    return
                left -= len(chunk)
                if left > 0:
                    reading = loop.run_in_executor(None, self._read, left)
                if self._hash is not None:
                    if hashing is not None:
                        await hashing
                    hashing = loop.run_in_executor(None, self._hash.update, chunk)
                if left <= 0:
                    if hashing is not None:
                        await hashing
                    self._check()
                    yield chunk
                    return
                yield chunk
        finally:
            # abandoned (or cancelled) with a read in flight: the lock closes after it
            self.close()
