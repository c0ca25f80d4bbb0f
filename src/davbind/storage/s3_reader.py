"""A read-only binary file over one object of an S3-compatible store, read by ranges.

Every ``read(n)`` is one ranged GET of at most ``n`` bytes (RFC 9110 §14.2) from the
current position, so a client's range request reads only its range from the object
store, and a sequential download (``server.filebody`` reads 2 MiB at a time, one read
ahead of the send) streams without holding more than one chunk.  The object's size is
known from the blob's manifest, so seeking costs no request, and ``seek(0, SEEK_END)``
answers the size check a GET makes before its status line.
"""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING

import obstore
from obstore.exceptions import BaseError

from davbind.storage.model import Unavailable

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from obstore.store import ObjectStore

log = logging.getLogger("davbind.storage")


@contextlib.contextmanager
def s3_errors(what: str) -> Iterator[None]:
    """Turn an object-store failure met while doing ``what`` into ``Unavailable``
    (logged once here with the real error); a missing object stays
    ``FileNotFoundError``, which callers treat as content that is gone."""
    try:
        yield
    except FileNotFoundError:
        raise
    except (BaseError, OSError) as exc:
        log.warning("object store failed while %s: %s", what, str(exc).split("\n")[0])
        raise Unavailable(f"the object store is unavailable ({what})") from exc


class S3Reader(io.RawIOBase):
    """``key`` of ``store``, ``size`` bytes long, positioned at 0."""

    def __init__(self, store: ObjectStore, key: str, size: int) -> None:
        super().__init__()
        self._store = store
        self._key = key
        self.size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError(f"negative seek position {pos}")
        self._pos = pos
        return pos

    def read(self, size: int | None = -1, /) -> bytes:
        if self.closed:
            raise ValueError("read of a closed file")
        left = max(0, self.size - self._pos)
        n = left if size is None or size < 0 else min(size, left)
        if n == 0:
            return b""
        with s3_errors("reading content"):
            data = bytes(obstore.get_range(self._store, self._key, start=self._pos, length=n))
        self._pos += len(data)
        return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)
