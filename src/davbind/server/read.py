"""OPTIONS, GET and HEAD (RFC 4918 §9.4, §10.1; RFC 9110 §9.3.1, §14 byte ranges).

Storage work (finding the resource, reading a small body, opening a large one) runs in
a reader thread.  A large body is a ``FileBody`` over the blob, opened before the status
line goes out (so a concurrent DELETE cannot cut it short) and sent with ``sendfile(2)``
when the server offers it (``filebody``, ``zerocopy``).  A collection gets a small HTML
index.
"""

from __future__ import annotations

import html
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import formatdate

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import encode_segment
from davbind.server import http_conditions
from davbind.server.filebody import FileBody
from davbind.server.http import Request, Response
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import INLINE_MAX, BlobStore, Txn
from davbind.storage.model import Resource

DAV_CLASSES = "1, 2, 3, bind"
COMMON_METHODS = "OPTIONS, GET, HEAD, PUT, DELETE, PROPFIND, PROPPATCH, COPY, MOVE, LOCK, UNLOCK"
SMALL = 256 * 1024


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
    resource = await services.threads.read(lambda txn: locate(txn, request.segments).resource)
    headers = [*dav_headers(), ("Allow", allow_for(resource))]
    return Response(200, headers, b"")


def entity_headers(resource: Resource) -> list[tuple[str, str]]:
    return [
        ("ETag", resource.etag),
        ("Last-Modified", formatdate(resource.modified, usegmt=True)),
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
    (both remembered by digest, ``SMALL_BLOBS``), or an open ``FileBody`` for the rest,
    opened before the status line goes out (so a concurrent DELETE cannot cut it)."""
    digest = resource.digest
    assert digest is not None
    size = resource.size
    if size <= SMALL_BLOBS.max_item:
        data = SMALL_BLOBS.get(digest)
        if data is None:
            data = txn.read_inline(digest) if size <= INLINE_MAX else None
            if data is None:
                with blobs.open(digest) as fh:
                    data = fh.read(size)
            SMALL_BLOBS.add(digest, data)
        return data[start : start + length]
    if length <= SMALL:
        with blobs.open(digest) as fh:
            fh.seek(start)
            return fh.read(length)
    fh = blobs.open(digest)
    if start:
        fh.seek(start)
    return FileBody(fh, start, length)


def _index(segments: tuple[str, ...], members: Iterator[tuple[str, Resource]]) -> Iterator[bytes]:
    base = "/" + "".join(encode_segment(s) + "/" for s in segments)
    title = html.escape(base)
    yield f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title></head>".encode()
    yield f"<body><h1>Index of {title}</h1><ul>".encode()
    for seg, res in members:
        slash = "/" if res.is_collection else ""
        link = html.escape(base + encode_segment(seg) + slash)
        yield f"<li><a href='{link}'>{html.escape(seg)}{slash}</a></li>".encode()
    yield b"</ul></body></html>"


async def get(services: Services, request: Request) -> Response:
    """GET/HEAD: entity headers, conditionals (304/412), single byte ranges (206/416).

    One reader-thread call finds the resource and, for a file, reads a small body or
    opens a large one; the event loop only sends."""
    try:
        found = await services.threads.read(lambda txn: _find(txn, services.blobs, request))
    except FileNotFoundError:
        # the content was replaced or deleted by a commit after this snapshot began (its
        # blob goes once no row refers to it): look again in a new snapshot; missing
        # twice, the store lost content (a 500, logged by the app)
        found = await services.threads.read(lambda txn: _find(txn, services.blobs, request))
    resource = found.resource
    headers = entity_headers(resource)
    if not found.fresh:
        return Response(304, headers)
    if resource.is_collection:
        headers.append(("Content-Type", "text/html; charset=utf-8"))
        assert isinstance(found.body, bytes)
        return Response(200, headers, found.body)
    headers.append(("Content-Type", resource.content_type or "application/octet-stream"))
    headers.append(("Accept-Ranges", "bytes"))
    status, start, length = _span(request, resource)
    if status == 206:
        headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{resource.size}"))
    headers.append(("Content-Length", str(length)))
    return Response(status, headers, found.body if found.body is not None else b"")


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
    resource = locate(txn, request.segments).resource
    if resource is None:
        raise DAVError(404, "not found")
    if not http_conditions.check(request, resource, safe=True):
        return _Found(resource, False)
    if resource.is_collection:
        index = b"".join(_index(request.segments, txn.children(resource.key)))
        return _Found(resource, True, index)
    _, start, length = _span(request, resource)
    if resource.digest is None or length == 0 or request.method == "HEAD":
        return _Found(resource, True)
    return _Found(resource, True, _content(txn, blobs, resource, start, length))
