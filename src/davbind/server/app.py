"""The ASGI application: one dispatch table by method, one error-to-response mapping.

Handlers are ``async def handler(services, request) -> Response``.  Every ``DAVError``
and storage error raised anywhere becomes a response here and only here (RFC 4918 §16:
an error with a condition gets a ``<D:error>`` body).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

from davbind.protocol.errors import REASONS, DAVError
from davbind.protocol.multistatus import error_document
from davbind.server import (
    bindings,
    copymove,
    locks,
    propfind,
    proppatch,
    read,
    respcache,
    respspool,
    write,
)
from davbind.server.http import (
    ClientGone,
    Receive,
    Request,
    Response,
    Scope,
    Send,
    offers_zerocopy,
    send_response,
    wire_headers,
)
from davbind.server.respcache import ResponseCache
from davbind.server.runcache import RunCache
from davbind.server.services import Services
from davbind.server.settings import Settings
from davbind.storage.model import (
    AlreadyExists,
    Conflict,
    NotACollection,
    NotFound,
    QuotaExceeded,
    StorageError,
)
from davbind.storage.open import open_blobs, open_metadata

log = logging.getLogger("davbind")

RUNS_SHARE = 2
"""The rendered runs of listings (``runcache``) may take ``1/RUNS_SHARE`` of the answer
cache's budget, on top of it: of its disk budget (``response_cache_disk_bytes``; files
in ``<data>/runs/``), or of its memory budget where it has no disk."""

Handler = Callable[[Services, Request], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "OPTIONS": read.options,
    "GET": read.get,
    "HEAD": read.get,
    "PUT": write.put,
    "DELETE": write.delete,
    "MKCOL": write.mkcol,
    "PROPFIND": propfind.propfind,
    "PROPPATCH": proppatch.proppatch,
    "COPY": copymove.copy,
    "MOVE": copymove.move,
    "LOCK": locks.lock,
    "UNLOCK": locks.unlock,
    "BIND": bindings.bind,
    "UNBIND": bindings.unbind,
    "REBIND": bindings.rebind,
}

WRITE_METHODS = frozenset(HANDLERS) - {"OPTIONS", "GET", "HEAD", "PROPFIND"}


def error_response(exc: Exception) -> Response:
    """The single mapping from raised errors to HTTP responses."""
    if isinstance(exc, DAVError):
        err = exc
    elif isinstance(exc, NotFound):
        err = DAVError(404, "not found")
    elif isinstance(exc, NotACollection):
        err = DAVError(409, f"{exc} is not a collection")
    elif isinstance(exc, AlreadyExists):
        err = DAVError(409, f"{exc} exists already")
    elif isinstance(exc, Conflict):
        err = DAVError(409, str(exc))
    elif isinstance(exc, QuotaExceeded):
        err = DAVError(507, str(exc), ("quota-not-exceeded",))
    else:
        err = DAVError(500, "internal error")
    headers: list[tuple[str, str]] = list(err.headers)
    if err.status == 405:
        headers.append(("Allow", ", ".join(sorted(HANDLERS))))
    if err.conditions or err.status in (423, 412, 403, 409, 507, 508):
        headers.append(("Content-Type", 'application/xml; charset="utf-8"'))
        return Response(err.status, headers, error_document(err))
    headers.append(("Content-Type", "text/plain; charset=utf-8"))
    text = f"{err.status} {REASONS.get(err.status, '')}: {err.message}\n".encode()
    return Response(err.status, headers, text)


class App:
    """ASGI callable over one ``Services``."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        head = scope["method"].upper() == "HEAD"
        cache = self.services.responses
        generation: int | None = None
        if (
            cache is not None
            and scope["method"] in respcache.CACHEABLE_METHODS
            and scope.get("http_version") == "1.1"
        ):
            generation = cache.generation()  # before the handler reads anything
        request: Request | None = None
        try:
            request = Request(scope, receive)
            if generation is not None and cache is not None and cache.has_files:
                replay = await self._replay(cache, scope, request)
                if replay is not None:
                    await send_response(send, replay, head=head)
                    return
            handler = HANDLERS.get(request.method)
            if handler is None:
                raise DAVError(405 if request.method.isalpha() else 400, "method not supported")
            if request.method in WRITE_METHODS and not self.services.settings.anonymous_write:
                raise DAVError(403, "anonymous write access is disabled on this address")
            response = await handler(self.services, request)
        except ClientGone:
            return
        except (DAVError, StorageError) as exc:
            response = error_response(exc)
        except Exception as exc:
            log.exception("unhandled error for %s %s", scope.get("method"), scope.get("path"))
            response = error_response(exc)
        if generation is not None and request is not None and response.status in (200, 207):
            assert cache is not None
            self._remember(cache, generation, scope, request, response, head)
        await send_response(send, response, head=head, zerocopy=offers_zerocopy(scope))

    @staticmethod
    def _key(scope: Scope, request: Request) -> respcache.Key | None:
        sent = request.body_read
        if sent is None:
            if request.has_body():
                return None
            sent = b""
        query = scope.get("query_string", b"")
        target = (scope.get("raw_path") or b"") + (b"?" + query if query else b"")
        return respcache.request_key(request.method, target, scope["headers"], sent)

    async def _replay(
        self, cache: ResponseCache, scope: Scope, request: Request
    ) -> Response | None:
        """A large answer kept on disk by ``_remember``, if it is still exact."""
        if request.has_body():
            declared = request.declared_length()
            limit = min(respcache.MAX_REQUEST_BODY, self.services.settings.max_xml_bytes)
            if declared is None or declared > limit:
                return None
            await request.body(limit)
        key = self._key(scope, request)
        found = cache.lookup_file(key) if key is not None else None
        if found is None:
            return None
        stored, fh = found
        return Response(stored.status, list(stored.headers), respspool.file_chunks(fh))

    def _remember(
        self, cache: ResponseCache, generation: int, scope: Scope, request: Request,
        response: Response, head: bool,
    ) -> None:
        """Offer a whole answer to the response cache (``respcache`` says what is kept)."""
        body = response.body
        if not isinstance(body, bytes) and (head or not isinstance(body, Iterator)):
            return
        key = self._key(scope, request)
        if key is None:
            return
        depends, fingerprint = response.depends, None
        if depends is not None:
            fingerprint = cache.fingerprint(depends)
            if fingerprint is None:
                return  # a lock exists, and the answer shows that there is none
        elif request.method == "PROPFIND":
            with self.services.store.read() as txn:
                if txn.has_locks():
                    return  # lockdiscovery depends on the clock (respcache module doc)
        if isinstance(body, bytes):
            head_line, rest = respcache.wire(
                response.status, wire_headers(response), b"" if head else body
            )
            cache.put(key, generation, head_line, rest, depends, fingerprint)
        else:
            response.body = cache.tee(body, key, generation, response.status, response.headers,
                                      depends, fingerprint)  # fmt: skip

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.services.responses is not None:
                    self.services.responses.close()
                if self.services.runs is not None:
                    self.services.runs.clear()  # its files
                self.services.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_services(settings: Settings) -> Services:
    blobs = open_blobs(settings.blobs_url, durable=settings.durable)
    store = open_metadata(settings.metadata_url, blobs)
    responses = runs = None
    if settings.response_cache_bytes > 0:
        responses = ResponseCache(
            store, settings.response_cache_bytes, settings.response_cache_item_bytes,
            spill_dir=Path(settings.data_dir) / "cache",
            disk_bytes=settings.response_cache_disk_bytes,
        )
        if settings.response_cache_disk_bytes > 0:
            runs_dir = Path(settings.data_dir) / "runs"
            runs = RunCache(settings.response_cache_disk_bytes // RUNS_SHARE, runs_dir)
        else:
            runs = RunCache(settings.response_cache_bytes // RUNS_SHARE)
    return Services(settings, store, blobs, responses, runs)


def create_app(settings: Settings | None = None) -> App:
    """Factory for uvicorn (``--factory``): settings come from DAVBIND_SETTINGS_JSON."""
    if settings is None:
        settings = Settings.from_json(os.environ["DAVBIND_SETTINGS_JSON"])
    return App(build_services(settings))
