"""PUT, DELETE and MKCOL (RFC 4918 §9.3, §9.6, §9.7; RFC 5842 §2.4).

PUT streams the body into the blob store while hashing it, outside any transaction;
then one write transaction re-checks the preconditions and commits content and metadata
together, so a crash leaves either the old or the new content, never a mix.  A body of
at most ``INLINE_MAX`` bytes is kept by the metadata store itself, in that same
transaction: small files cost no file, no rename and no fsync of their own.
DELETE removes exactly one binding (RFC 5842 §2.4, B-2.4-3): it is atomic, and only
what became unreachable from the root is reclaimed.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, parse_depth
from davbind.protocol.xmlbody import parse_mkcol
from davbind.server import http_conditions
from davbind.server.access import PathAccess, Privilege
from davbind.server.http import Request, Response
from davbind.server.lock_rules import Guard, release_locks_through
from davbind.server.proppatch import apply_sets
from davbind.server.read import entity_headers
from davbind.server.services import Services
from davbind.server.target import Target, locate
from davbind.storage.interface import INLINE_MAX, BlobStore, Txn, Upload
from davbind.storage.model import QuotaExceeded, Resource
from davbind.storage.sharing import end_orphaned_shares

WRITE_BATCH = 2 * 1024 * 1024
"""Received body pieces are handed to the upload's writer thread in batches this large."""
IN_FLIGHT = 4
"""Batches queued for the writer thread before the event loop stops receiving: enough to
ride out a stall of the disk, few enough to bound a large upload's memory (~10 MiB)."""


class _UploadFeeder:
    """Feeds one upload from the event loop.  Every operation on the upload (begin,
    write, finish with its fsync, abort) runs in a writer thread of its own, in order:
    batches are hashed and written there while the loop keeps receiving, and a temporary
    file is never removed under a write in progress.  The upload is begun by the first
    batch, so a body kept inline (``put``) never touches the blob store."""

    def __init__(self, blobs: BlobStore) -> None:
        self._blobs = blobs
        self._begun: Upload | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._queued: deque[asyncio.Future[None]] = deque()
        self._stopped = False  # set on the first failure or abort: queued writes are skipped

    def _begin(self) -> Upload:
        if self._begun is None:
            self._begun = self._blobs.begin()
        return self._begun

    def _write(self, chunks: Sequence[bytes]) -> None:
        upload = self._begin()
        many: Callable[[Sequence[bytes]], None] | None = getattr(upload, "write_many", None)
        if many is not None:
            many(chunks)
        else:
            upload.write(b"".join(chunks))

    @property
    def upload(self) -> Upload:
        """The upload, once ``finish`` made it durable."""
        assert self._begun is not None
        return self._begun

    def _job(self, chunks: Sequence[bytes] | None) -> None:
        """Runs in the writer thread: one batch, or ``finish`` for None."""
        if self._stopped:
            return
        try:
            if chunks is None:
                self._begin().finish()
            else:
                self._write(chunks)
        except BaseException:
            self._stopped = True
            raise

    def _submit(self, chunks: Sequence[bytes] | None) -> asyncio.Future[None]:
        if self._thread is None:
            self._thread = ThreadPoolExecutor(1, thread_name_prefix="davbind-put")
        return asyncio.get_running_loop().run_in_executor(self._thread, self._job, chunks)

    async def write(self, chunks: list[bytes]) -> None:
        self._queued.append(self._submit(chunks))
        while len(self._queued) > IN_FLIGHT or (self._queued and self._queued[0].done()):
            await self._queued.popleft()  # raises the writer's error, if any

    async def finish(self, tail: list[bytes]) -> None:
        """Write what is left, then flush and fsync: the content is durable on return."""
        if tail:
            self._queued.append(self._submit(tail))
        finished = self._submit(None)
        while self._queued:
            await self._queued.popleft()
        await finished
        assert self._thread is not None
        self._thread.shutdown(wait=False)
        self._thread = None

    def _abort(self) -> None:
        if self._begun is not None:
            self._begun.abort()

    async def abort(self) -> None:
        """Drop the upload (temporary file included) once no write is in progress."""
        self._stopped = True
        if self._thread is None:  # nothing queued: nothing begun, or finished already
            if self._begun is not None:
                await asyncio.to_thread(self._abort)
            return
        loop = asyncio.get_running_loop()
        aborted = loop.run_in_executor(self._thread, self._abort)
        self._thread.shutdown(wait=False)
        self._thread = None
        pending = [*self._queued, aborted]
        self._queued.clear()
        # even if this task is cancelled again here, the abort still runs after the writes
        await asyncio.wait(pending)
        for future in pending:
            if not future.cancelled():
                future.exception()  # retrieved: the error that brought us here is raised


def _check_put(request: Request, txn: Txn) -> Target:
    target = locate(txn, request.segments, PathAccess(txn, request.access))
    if not request.segments:
        raise DAVError(405, "PUT on the root collection")
    if target.parent is None:
        raise DAVError(409, "the parent collection does not exist")
    if target.resource is not None and target.resource.is_collection:
        raise DAVError(405, "PUT on a collection")
    if target.resource is None:
        target.need_parent(Privilege.BIND)  # RFC 3744 §3.9: a new member is a new binding
    else:
        target.need(Privilege.WRITE_CONTENT)
    guard = Guard(request, txn)
    guard.modify(target.resource if target.resource is not None else target.parent)
    guard.check_if()
    http_conditions.check(request, target.resource, safe=False)
    return target


def _check_room(txn: Txn, target: Target, declared: int) -> None:
    """507 before the body is read when its declared length would take the owner past
    their quota (RFC 4331 §6); the commit checks again, with the real size."""
    holder = target.resource if target.resource is not None else target.parent
    owner = holder.owner if holder is not None else None
    if owner is None:
        return
    limit = txn.quota(owner)
    replaced = target.resource.size if target.resource is not None else 0
    if limit is not None and txn.usage(owner) - replaced + declared > limit:
        raise QuotaExceeded(f"{declared} bytes would take {owner} past their quota of {limit}")


MTIME = "x-oc-mtime"


def _client_mtime(request: Request) -> float | None:
    """The modification time a sync client sends with its upload (``X-OC-Mtime``, Unix
    seconds: the convention of Nextcloud's WebDAV, which rclone and the Nextcloud
    clients use) so a copied file keeps its time; a value that is not a plausible time
    is ignored, as Nextcloud does."""
    value = request.header(MTIME)
    if value is None:
        return None
    try:
        stamp = float(value.strip())
    except ValueError:
        return None
    return stamp if 0 <= stamp < 1e11 and stamp == stamp else None


def _content_type(request: Request, segment: str) -> str:
    given = request.header("content-type")
    if given:
        return given
    guessed, _ = mimetypes.guess_type(segment)
    return guessed or "application/octet-stream"


async def put(services: Services, request: Request) -> Response:
    """RFC 4918 §9.7: 201 for a new resource, 204 for new content of an existing one."""
    if request.header("content-range") is not None:
        raise DAVError(400, "partial PUT with Content-Range is not supported (RFC 9110 §14.5)")
    declared = request.declared_length()
    if declared is None or declared > INLINE_MAX:
        # refuse before receiving a large body; a small one is checked once, when it is
        # committed, like every body
        def check(txn: Txn) -> None:
            target = _check_put(request, txn)
            if declared is not None:
                _check_room(txn, target, declared)

        await services.threads.read(check)
    mtime = _client_mtime(request)
    feeder = _UploadFeeder(services.blobs)
    try:
        pending: list[bytes] = []
        size = 0
        streamed = False  # whether anything went to the blob store yet
        async for chunk in request.stream(services.settings.max_body_bytes):
            pending.append(chunk)
            size += len(chunk)
            if size >= WRITE_BATCH:
                await feeder.write(pending)
                pending, size, streamed = [], 0, True
        inline = None if streamed or size > INLINE_MAX else b"".join(pending)
        if inline is None:
            await feeder.finish(pending)

        def commit(txn: Txn) -> tuple[int, Resource]:
            target = _check_put(request, txn)
            if inline is not None:  # committed with the metadata: no file, no fsync
                digest, length = txn.store_inline(inline)
            else:
                digest, length = txn.store_blob(feeder.upload)
            ctype = _content_type(request, target.segment)
            if target.resource is None:
                assert target.parent is not None
                return 201, txn.create(target.parent.key, target.segment, collection=False,
                                       digest=digest, size=length, content_type=ctype,
                                       modified=mtime)  # fmt: skip
            return 204, txn.set_content(target.resource.key, digest, length, ctype, mtime)

        status, resource = await services.threads.write(commit)
    except BaseException:
        await feeder.abort()
        raise
    headers = entity_headers(resource)
    if mtime is not None:
        headers.append(("X-OC-MTime", "accepted"))
    return Response(status, headers)


async def delete(services: Services, request: Request) -> Response:
    """RFC 4918 §9.6 with RFC 5842 §2.4: remove one binding; 204."""
    if request.has_body():
        raise DAVError(415, "DELETE does not take a request body")

    def work(txn: Txn) -> None:
        target = locate(txn, request.segments, PathAccess(txn, request.access))
        if target.resource is None:
            raise DAVError(404, "not found")
        if target.parent is None:
            raise DAVError(403, "the root collection cannot be deleted")
        # RFC 3744 §3.10: removing a binding takes unbind on its collection; what only
        # that binding reached goes with it (RFC 5842 §5), whoever owns it
        if Privilege.UNBIND not in target.parent_step.privileges:
            target.readable()  # 404 (401 anonymous) for what the principal cannot see
        target.need_parent(Privilege.UNBIND)
        if target.resource.is_collection:
            parse_depth(request.header("depth"), default=Depth.INFINITY,
                        allowed=frozenset({Depth.INFINITY}))
        guard = Guard(request, txn)
        guard.modify(target.parent)
        guard.unmap(target.parent.key, target.segment)
        guard.check_if()
        http_conditions.check(request, target.resource, safe=False)
        release_locks_through(txn, target.parent.key, target.segment)
        txn.unbind(target.parent.key, target.segment)
        end_orphaned_shares(txn)

    await services.threads.write(work)
    return Response(204)


async def mkcol(services: Services, request: Request) -> Response:
    """RFC 4918 §9.3 (+ RFC 5689 extended MKCOL): 201, 405 if mapped, 409 no parent,
    415 for a body we do not understand."""
    body = await request.body(services.settings.max_xml_bytes)
    spec = parse_mkcol(body, request.header("content-type")) if body.strip() else None

    def work(txn: Txn) -> str:
        target = locate(txn, request.segments, PathAccess(txn, request.access))
        if target.resource is not None:
            raise DAVError(405, "the URL is already mapped")
        if target.parent is None:
            raise DAVError(409, "the parent collection does not exist")
        target.need_parent(Privilege.BIND)
        guard = Guard(request, txn)
        guard.modify(target.parent)
        guard.check_if()
        created = txn.create(target.parent.key, target.segment, collection=True)
        if spec is not None:
            apply_sets(txn, created.key, spec.props)
        return target.href

    location = await services.threads.write(work)
    return Response(201, [("Location", location + "/")])
