"""Streaming sources and sinks for GET and PUT, with a progress callback.

The rule kept here: content never has to fit in memory.  A PUT reads its source in
``CHUNK``-sized pieces and sends a ``Content-Length`` whenever the size is known (some
servers refuse chunked uploads, RFC 9112 §6.1); a GET to a path writes to a temporary
file beside the destination and renames it into place only when the body is complete, so
an interrupted download never leaves a truncated file under the final name.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

CHUNK = 1024 * 1024

#: ``progress(done, total)``: bytes moved so far and the total when known.
Progress = Callable[[int, int | None], None]

Source = str | os.PathLike[str] | IO[bytes] | bytes
Sink = str | os.PathLike[str] | IO[bytes]


@dataclass(frozen=True, slots=True)
class Upload:
    """An opened PUT source: a binary file object and its size when known."""

    stream: IO[bytes]
    size: int | None


def _size_of(stream: IO[bytes]) -> int | None:
    try:
        if not stream.seekable():
            return None
        here = stream.tell()
        end = stream.seek(0, os.SEEK_END)
        stream.seek(here)
        return end - here
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def open_source(source: Source) -> Iterator[Upload]:
    """Open ``source`` for reading: a path is opened (and closed), bytes wrapped, and a
    file object used from its current position and left open."""
    if isinstance(source, bytes):
        yield Upload(io.BytesIO(source), len(source))
    elif isinstance(source, str | os.PathLike):
        with open(source, "rb") as stream:
            yield Upload(stream, os.fstat(stream.fileno()).st_size)
    else:
        yield Upload(source, _size_of(source))


def read_chunks(upload: Upload, progress: Progress | None = None) -> Iterator[bytes]:
    """The source in pieces, reporting progress after each one."""
    done = 0
    if progress is not None:
        progress(0, upload.size)
    while True:
        chunk = upload.stream.read(CHUNK)
        if not chunk:
            return
        done += len(chunk)
        if progress is not None:
            progress(done, upload.size)
        yield chunk


async def aread_chunks(upload: Upload, progress: Progress | None = None) -> AsyncIterator[bytes]:
    """The async twin of :func:`read_chunks`; file reads run in a worker thread."""
    done = 0
    if progress is not None:
        progress(0, upload.size)
    while True:
        chunk = await asyncio.to_thread(upload.stream.read, CHUNK)
        if not chunk:
            return
        done += len(chunk)
        if progress is not None:
            progress(done, upload.size)
        yield chunk


@contextlib.contextmanager
def open_sink(sink: Sink) -> Iterator[IO[bytes]]:
    """A writable binary stream for ``sink``; a path is written atomically (see above)."""
    if not isinstance(sink, str | os.PathLike):
        yield sink
        return
    target = Path(sink)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class Meter:
    """Counts bytes written by a download and reports them to ``progress``."""

    def __init__(self, total: int | None, progress: Progress | None) -> None:
        self.total = total
        self.done = 0
        self._progress = progress
        if progress is not None:
            progress(0, total)

    def add(self, chunk: bytes) -> None:
        self.done += len(chunk)
        if self._progress is not None:
            self._progress(self.done, self.total)


def content_length(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
