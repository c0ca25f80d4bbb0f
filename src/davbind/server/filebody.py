"""A response body that is a byte range of an open file (RFC 9110 §14 ranges included).

The file is opened by the handler *before* the status line is sent, so a blob that is
unlinked afterwards (a concurrent DELETE or overwrite: blobs are content-addressed and
immutable, but not eternal) is still read whole from the open descriptor.  The body then
leaves one of two ways, chosen by ``http.send_response``:

* **zero-copy**: when the server advertises the ASGI ``http.response.zerocopysend``
  extension and the file is a regular file with a descriptor, the descriptor, offset and
  count go to the server, which copies page cache to socket with ``sendfile(2)``;
* **chunks**: otherwise (in-process tests, a backend without local files) ``chunks()``
  reads ``CHUNK`` bytes at a time in a worker thread, one read ahead of the send.

Whoever sends the body closes the file: ``chunks()`` when it ends, ``close()`` else.
"""

from __future__ import annotations

import asyncio
import os
import stat
import threading
from collections.abc import AsyncGenerator, Callable
from typing import BinaryIO

CHUNK = 2 * 1024 * 1024


def _close_later(close: Callable[[], None]) -> None:
    """Run ``close`` off the event loop: the last close of an unlinked large file frees
    its blocks and page cache, which takes milliseconds."""
    try:
        asyncio.get_running_loop().run_in_executor(None, close)
    except RuntimeError:  # no running loop, or it is shutting down: no executor to use
        threading.Thread(target=close, daemon=True).start()


class FileBody:
    """``count`` bytes of ``file`` from ``offset``; the file is owned by this body and is
    positioned at ``offset`` already (seeking may be I/O: the opener does it in a thread)."""

    __slots__ = ("_lock", "count", "file", "offset")

    def __init__(self, file: BinaryIO, offset: int, count: int) -> None:
        self.file = file
        self.offset = offset
        self.count = count
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

    def _read(self, n: int) -> bytes:
        with self._lock:
            return b"" if self.file.closed else self.file.read(n)

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """Each chunk is read in a thread while the one before it is sent, so the disk
        (or the page-cache copy) and the socket work at the same time.  One read is
        outstanding at a time, so the file position stays sequential.  A file shorter
        than ``count`` ends the iteration early (the server then sees a short body)."""
        loop = asyncio.get_running_loop()
        left = self.count
        reading = loop.run_in_executor(None, self._read, min(CHUNK, left))
        try:
            while True:
                chunk = await reading
                if not chunk:
                    return
                left -= len(chunk)
                if left <= 0:
                    yield chunk
                    return
                reading = loop.run_in_executor(None, self._read, min(CHUNK, left))
                yield chunk
        finally:
            # abandoned (or cancelled) with a read in flight: the lock closes after it
            self.close()
