"""Large answers of the response cache (``respcache``) on disk: copied to a file in the
cache directory while they are streamed to the client, replayed from it in 1 MiB chunks.

A copy is kept only if the whole body was sent and fits the limit; anything else (the
client went away, the answer grew too big) removes the file at once.  Memory stays flat
whatever the size of the answer.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FILE_CHUNK = 1024 * 1024
_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A large answer kept on disk: status, header fields (Content-Length included),
    and the file holding the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    path: str
    size: int


def file_chunks(fh: BinaryIO) -> Iterator[bytes]:
    """The body of a stored answer, 1 MiB at a time; the file closes with the iterator."""
    try:
        while chunk := fh.read(FILE_CHUNK):
            yield chunk
    finally:
        fh.close()


def unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def sweep(directory: Path) -> int:
    """Remove every file in a cache directory (before workers start); the count."""
    n = 0
    if directory.is_dir():
        for leftover in directory.iterdir():
            unlink(str(leftover))
            n += 1
    return n


class Spool:
    """Copies a streamed body to a file in ``directory`` while it is sent; once the body
    ended, ``keep`` offers it (a ``StoredFile``), and a refused copy is removed."""

    def __init__(self, directory: Path, status: int, headers: list[tuple[str, str]],
                 limit: int, keep: Callable[[StoredFile], bool]) -> None:  # fmt: skip
        self.status, self.headers, self.limit, self._keep = status, headers, limit, keep
        self.path = str(directory / f"{os.getpid()}-{next(_counter)}")
        self.file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 (closed in keep/discard)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self.file is None:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            return
        self.file.write(chunk)

    def keep(self) -> None:
        if self.file is None:
            return
        self.file.close()
        self.file = None
        headers = (*self.headers, ("Content-Length", str(self.size)))
        if not self._keep(StoredFile(self.status, headers, self.path, self.size)):
            unlink(self.path)

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            unlink(self.path)


class Tee:
    """A sync body iterator that also feeds a ``Spool``; kept only if sent to the end."""

    def __init__(self, body: Iterator[bytes], spool: Spool) -> None:
        self._body, self._spool = body, spool

    def __iter__(self) -> Tee:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._body)
        except StopIteration:
            self._spool.keep()
            raise
        self._spool.write(chunk)
        return chunk

    def close(self) -> None:
        self._spool.discard()  # a no-op once kept
        close = getattr(self._body, "close", None)
        if close is not None:
            close()
