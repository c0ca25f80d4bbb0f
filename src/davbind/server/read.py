"""OPTIONS, GET and HEAD (RFC 4918 §9.4, §10.1; RFC 9110 §9.3.1, §14 byte ranges).

Storage work (finding the resource, reading a small body, opening a large one) runs in
a reader thread.  A large body is a ``FileBody`` over the blob, opened before the status
line goes out (so a concurrent DELETE cannot cut it short) and sent with ``sendfile(2)``
when the server offers it (``filebody``, ``zerocopy``).  A collection gets an HTML
index page, streamed (``collection_index``).

Content that is not what its metadata says is an integrity error (``Damaged``, a 500
naming the resource, logged): a blob file that is missing (twice: once may be a commit
racing the read) or of another size, content marked by ``davbind fsck --mark``, and
content whose SHA-256 is checked on the way and differs.  What is checked when:

* every GET and HEAD: the fsck mark (one indexed lookup) and, for content in a file,
  that the file exists with the right size (the ``fstat`` of the opened file, or a
  ``stat`` for HEAD; a blob store without local files says the size when opened);
* a body read into memory whole (content up to 64 KiB, remembered by digest afterwards,
  and a file up to ``SMALL`` asked for whole): its digest, before it is sent;
* a large body sent in chunks from its first byte to its last: its digest, by
  ``FileBody``, which ends the connection before the last chunk on a mismatch, unless
  the reader says ``verify_reads`` is false (an object store's, by default: see
  ``storage.blobs_s3``);
* a large body sent with ``sendfile(2)`` (plain HTTP, the usual case) or a byte range of
  a large file: not hashed (the bytes never pass through Python); ``davbind fsck`` finds
  such damage, and ``--mark`` makes those GETs fail.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import BinaryIO

from davbind.protocol.errors import DAVError
from davbind.server import collection_index, http_conditions
from davbind.server.access import PathAccess
from davbind.server.filebody import FileBody
from davbind.server.http import Request, Response
from davbind.server.liveprops import http_date
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import INLINE_MAX, BlobStore, Txn
from davbind.storage.model import Damaged, Resource

DAV_CLASSES = "1, 2, 3, bind"
STORED_CONTENT_HEADERS = (
    ("X-Content-Type-Options", "nosniff"),
    ("Content-Security-Policy",
     "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline'; "
     "sandbox"),
)
"""Stored content is whatever users uploaded, with the type they gave: an HTML or SVG file
must never run script in the server's origin (where a browser holds the user's
credentials for every other file).  ``sandbox`` gives such a page a unique origin and no
scripts, forms or plugins; ``nosniff`` stops a browser from guessing an active type for
content labelled otherwise.  Images, media, text and downloads are unaffected."""
COMMON_METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
SMALL = 256 * 1024

log = logging.getLogger("davbind")


def dav_headers() -> list[tuple[str, str]]:
    return [("DAV", DAV_CLASSES), ("MS-Author-Via", "DAV")]


def allow_for(resource: Resource | None) -> str:
    if resource is None:
        return "OPTIONS, PUT, MKCOL, LOCK"
    if resource.is_collection:
        return COMMON_METHODS + ", MKCOL, BIND, UNBIND, REBIND"
    return COMMON_METHODS


async def options(services: Services, request: Request) -> Response:
    """RFC 4918 §10.1: compliance classes on every resource; Allow per resource kind."""
    resource = await services.threads.read(
        lambda txn: locate(txn, request.segments, PathAccess(txn, request.access)).visible
    )
    headers = [*dav_headers(), ("Allow", allow_for(resource))]
    return Response(200, headers, b"")


def entity_headers(resource: Resource) -> list[tuple[str, str]]:
    return [
        ("ETag", resource.etag),
        ("Last-Modified", http_date(resource.modified)),
    ]


def _unsatisfiable(size: int) -> DAVError:
    return DAVError(416, "unsatisfiable range", headers=(("Content-Range", f"bytes */{size}"),))


def _range(value: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=`` range -> (start, end inclusive); None = whole body.  Multiple ranges
    are answered with the whole body (allowed by RFC 9110 §14.2)."""
    if not value or not value.strip().lower().startswith("bytes="):
        return None
    spec = value.split("=", 1)[1].strip()
    if "," in spec:
        return None
    first, _, last = spec.partition("-")
    try:
        if first == "":
            n = int(last)
            if n <= 0:
                raise _unsatisfiable(size)
            return max(0, size - n), size - 1
        start = int(first)
        end = int(last) if last else size - 1
    except ValueError:
        return None
    if start >= size or end < start:
        raise _unsatisfiable(size)
    return start, min(end, size - 1)


class SmallBlobCache:
    """Recently read small contents, by digest.  Content is addressed by its digest and
    never changes, so an entry can never be stale; the total size is bounded (LRU).
    Reader threads share it, hence the lock.  ``hits`` and ``misses`` count lookups
    (exported as metrics, ``server.metrics``)."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, max_item: int = INLINE_MAX) -> None:
        self.max_bytes = max_bytes
        self.max_item = max_item
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, digest: str) -> bytes | None:
        with self._lock:
            data = self._items.get(digest)
            if data is None:
                self.misses += 1
            else:
                self.hits += 1
                self._items.move_to_end(digest)
            return data

    def add(self, digest: str, data: bytes) -> None:
        with self._lock:
            if len(data) > self.max_item or digest in self._items:
                return
            self._items[digest] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)


SMALL_BLOBS = SmallBlobCache()


@dataclass(frozen=True, slots=True)
class _Found:
    """What the storage thread of a GET found: the resource, and the body unless the
    request is answered without one (HEAD, 304, an empty file)."""

    resource: Resource
    fresh: bool  # False: the conditional headers ask for 304
    body: bytes | FileBody | None = None


def _content(txn: Txn, blobs: BlobStore, resource: Resource, start: int, length: int,
             ) -> bytes | FileBody:  # fmt: skip
    """The body bytes: inline content from the metadata store, a small file read whole
    (both remembered by digest, ``SMALL_BLOBS``, once their digest is checked), or an
    open ``FileBody`` for the rest, opened before the status line goes out (so a
    concurrent DELETE cannot cut it).  ``Damaged`` when the content is not what the
    metadata says (module doc); ``FileNotFoundError`` when its file is gone."""
    digest = resource.digest
    assert digest is not None
    size = resource.size
    _check_mark(txn, digest)
    if size <= SMALL_BLOBS.max_item:
        data = SMALL_BLOBS.get(digest)
        if data is None:
            data = txn.read_inline(digest) if size <= INLINE_MAX else None
            if data is None:
                with blobs.open(digest) as fh:
                    data = fh.read(size + 1)
            _verify(digest, size, data)
            SMALL_BLOBS.add(digest, data)
        return data[start : start + length]
    if length <= SMALL:
        with blobs.open(digest) as fh:
            _check_size(digest, size, fh)
            if length == size:
                data = fh.read(size)
                _verify(digest, size, data)
                return data
            fh.seek(start)
            return fh.read(length)
    fh = blobs.open(digest)
    try:
        _check_size(digest, size, fh)
        if start:
            fh.seek(start)
        advise = getattr(fh, "advise", None)  # a blob store without local files
        if advise is not None:
            advise(length)  # streams the span in one request (storage.s3_reader)
    except BaseException:
        fh.close()
        raise
    # a blob store may leave whole-content checks to fsck, as sendfile(2) does (module doc)
    verify = length == size and getattr(fh, "verify_reads", True)
    return FileBody(fh, start, length, digest if verify else None)


def _check_mark(txn: Txn, digest: str) -> None:
    reason = txn.damage(digest)
    if reason is not None:
        raise Damaged(digest, f"marked by fsck: {reason}")


def _check_size(digest: str, size: int, fh: BinaryIO) -> None:
    """The opened content holds ``size`` bytes: by ``fstat`` for a file, else by seeking
    to its end and back (a blob store without local files knows its objects' sizes)."""
    try:
        actual = os.fstat(fh.fileno()).st_size
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        here = fh.tell()
        actual = fh.seek(0, os.SEEK_END)
        fh.seek(here)
    if actual != size:
        raise Damaged(digest, f"its file holds {actual} bytes, not {size}")


def _verify(digest: str, size: int, data: bytes) -> None:
    if len(data) != size:
        raise Damaged(digest, f"it holds {len(data)} bytes, not {size}")
    if hashlib.sha256(data).hexdigest() != digest:
        raise Damaged(digest, "its bytes do not match its SHA-256 digest")


def _check_present(txn: Txn, blobs: BlobStore, resource: Resource) -> None:
    """What a HEAD checks: the fsck mark, and that small content reads back right or a
    large file exists with the right size (no read)."""
    digest = resource.digest
    assert digest is not None
    if resource.size <= SMALL_BLOBS.max_item:
        _content(txn, blobs, resource, 0, 0)
        return
    _check_mark(txn, digest)
    path = blobs.path(digest)
    if path is None:  # no local file: opening it is the check
        blobs.open(digest).close()
        return
    actual = os.stat(path).st_size
    if actual != resource.size:
        raise Damaged(digest, f"its file holds {actual} bytes, not {resource.size}")


async def get(services: Services, request: Request) -> Response:
    """GET/HEAD: entity headers, conditionals (304/412), single byte ranges (206/416).

    One reader-thread call finds the resource and, for a file, reads a small body or
    opens a large one; the event loop only sends."""
    try:
        try:
            found = await services.threads.read(lambda txn: _find(txn, services.blobs, request))
        except FileNotFoundError:
            # the content was replaced or deleted by a commit after this snapshot began
            # (its blob goes once no row refers to it): look again in a new snapshot
            found = await services.threads.read(lambda txn: _find(txn, services.blobs, request))
    except FileNotFoundError as exc:
        # missing twice: the store lost this content
        digest = os.path.basename(str(exc.filename or "")) or "?"
        _log_damage(request, Damaged(digest, "its file is missing"))
        raise Damaged(digest, "its file is missing", request.raw_path) from exc
    except Damaged as exc:
        _log_damage(request, exc)
        raise Damaged(exc.digest, exc.reason, request.raw_path) from exc
    resource = found.resource
    headers = entity_headers(resource)
    if not found.fresh:
        return Response(304, headers)
    if resource.is_collection:
        return await _collection_page(services, request, resource)
    headers.append(("Content-Type", resource.content_type or "application/octet-stream"))
    headers.extend(STORED_CONTENT_HEADERS)
    headers.append(("Accept-Ranges", "bytes"))
    status, start, length = _span(request, resource)
    if status == 206:
        headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{resource.size}"))
    headers.append(("Content-Length", str(length)))
    return Response(status, headers, found.body if found.body is not None else b"")


def _log_damage(request: Request, exc: Damaged) -> None:
    log.error("integrity error: %s %s: content %s is damaged: %s (see davbind fsck)",
              request.method, request.raw_path, exc.digest, exc.reason)


async def _collection_page(services: Services, request: Request, resource: Resource,
                           ) -> Response:  # fmt: skip
    """The index page of a collection (``collection_index``), streamed over a snapshot
    of its own (which also decides the entity headers and a 304); HEAD needs none."""
    if request.method == "HEAD":
        return Response(200, [*entity_headers(resource), *collection_index.HEADERS], iter(()))
    head, body = await services.threads.stream(
        lambda txn: collection_index.start(txn, request)
    )
    headers = entity_headers(head.resource)
    if not head.fresh:
        return Response(304, headers)
    return Response(200, [*headers, *collection_index.HEADERS], body)


def _span(request: Request, resource: Resource) -> tuple[int, int, int]:
    """(status, first byte, length) of the answer to a GET (RFC 9110 §14.2)."""
    wanted = _range(request.header("range"), resource.size)
    if_range = request.header("if-range")
    if wanted is not None and if_range is not None and if_range.strip() != resource.etag:
        wanted = None
    if wanted is None:
        return 200, 0, resource.size
    return 206, wanted[0], wanted[1] - wanted[0] + 1


def _find(txn: Txn, blobs: BlobStore, request: Request) -> _Found:
    resource = locate(txn, request.segments, PathAccess(txn, request.access)).readable()
    if not http_conditions.check(request, resource, safe=True):
        return _Found(resource, False)
    if resource.is_collection:
        return _Found(resource, True)  # its page is streamed (``_collection_page``)
    _, start, length = _span(request, resource)
    if resource.digest is None or resource.size == 0:
        return _Found(resource, True)
    if length == 0 or request.method == "HEAD":
        _check_present(txn, blobs, resource)
        return _Found(resource, True)
    return _Found(resource, True, _content(txn, blobs, resource, start, length))
