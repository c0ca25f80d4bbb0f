"""OPTIONS, GET and HEAD (RFC 4918 §9.4, §10.1; RFC 9110 §9.3.1, §14 byte ranges).

A small body is read at once; a larger one is a ``FileBody`` over the blob, opened
before the status line goes out (so a concurrent DELETE cannot cut it short) and sent
with ``sendfile(2)`` when the server offers it (``filebody``, ``zerocopy``).  A
collection gets a small HTML index.
"""

from __future__ import annotations

import asyncio
import html
from collections import OrderedDict
from collections.abc import Iterator
from email.utils import formatdate
from typing import BinaryIO

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import encode_segment
from davbind.server import conditional
from davbind.server.filebody import FileBody
from davbind.server.http import Request, Response
from davbind.server.respcache import Depends
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
    with services.store.read() as txn:
        resource = locate(txn, request.segments).resource
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
    never changes, so an entry can never be stale; the total size is bounded (LRU)."""

    def __init__(self, max_bytes: int = 32 * 1024 * 1024, max_item: int = INLINE_MAX) -> None:
        self.max_bytes = max_bytes
        self.max_item = max_item
        self._items: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def get(self, digest: str) -> bytes | None:
        data = self._items.get(digest)
        if data is not None:
            self._items.move_to_end(digest)
        return data

    def add(self, digest: str, data: bytes) -> None:
        if len(data) <= self.max_item and digest not in self._items:
            self._items[digest] = data
            self._size += len(data)
            while self._size > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)

    def read(self, blobs: BlobStore, digest: str, size: int) -> bytes:
        data = self.get(digest)
        if data is None:
            with blobs.open(digest) as fh:
                data = fh.read(size)
            self.add(digest, data)
        return data


def _inline(txn: Txn, resource: Resource) -> bytes | None:
    """The content of a small file kept by the metadata store (``Txn.store_inline``)."""
    digest = resource.digest
    if digest is None or resource.size > INLINE_MAX:
        return None
    data = SMALL_BLOBS.get(digest)
    if data is None:
        data = txn.read_inline(digest)
        if data is not None:
            SMALL_BLOBS.add(digest, data)
    return data


SMALL_BLOBS = SmallBlobCache()


def _read_small(blobs: BlobStore, digest: str, start: int, length: int, size: int) -> bytes:
    """Small bodies are read in one go on the event loop: a thread hop costs more than
    reading a few hundred KiB from the page cache."""
    if size <= SMALL_BLOBS.max_item:
        return SMALL_BLOBS.read(blobs, digest, size)[start : start + length]
    with blobs.open(digest) as fh:
        fh.seek(start)
        return fh.read(length)


def _open_at(blobs: BlobStore, digest: str, start: int) -> BinaryIO:
    fh = blobs.open(digest)
    if start:
        fh.seek(start)
    return fh


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


async def get(services: Services, request: Request, *, retry: bool = True) -> Response:
    """GET/HEAD: entity headers, conditionals (304/412), single byte ranges (206/416)."""
    with services.store.read() as txn:
        resource = locate(txn, request.segments).resource
        if resource is None:
            raise DAVError(404, "not found")
        headers = entity_headers(resource)
        if not conditional.check(request, resource, safe=True):
            return Response(304, headers)
        if resource.is_collection:
            members = list(txn.children(resource.key))
        inline = None if request.method == "HEAD" else _inline(txn, resource)
    depends = Depends(request.segments)  # the resource (a collection: its bindings)
    if resource.is_collection:
        headers.append(("Content-Type", "text/html; charset=utf-8"))
        index = b"".join(_index(request.segments, iter(members)))
        return Response(200, headers, index, depends)
    headers.append(("Content-Type", resource.content_type or "application/octet-stream"))
    headers.append(("Accept-Ranges", "bytes"))
    size = resource.size
    wanted = _range(request.header("range"), size)
    if_range = request.header("if-range")
    if wanted is not None and if_range is not None and if_range.strip() != resource.etag:
        wanted = None
    status, start, length = 200, 0, size
    if wanted is not None:
        status, start, length = 206, wanted[0], wanted[1] - wanted[0] + 1
        headers.append(("Content-Range", f"bytes {wanted[0]}-{wanted[1]}/{size}"))
    headers.append(("Content-Length", str(length)))
    if resource.digest is None or length == 0 or request.method == "HEAD":
        return Response(status, headers, b"", depends)
    if inline is not None:
        return Response(status, headers, inline[start : start + length], depends)
    digest = resource.digest
    if length <= SMALL:
        body = _read_small(services.blobs, digest, start, length, size)
        return Response(status, headers, body, depends)
    try:
        fh = await asyncio.to_thread(_open_at, services.blobs, digest, start)
    except FileNotFoundError:
        if not retry:  # missing twice: the store lost content (a 500, logged by the app)
            raise
        # replaced or deleted between the lookup and the open: look the path up again
        return await get(services, request, retry=False)
    return Response(status, headers, FileBody(fh, start, length), depends)
