"""The ASGI application: one dispatch table by method, one error-to-response mapping.

Handlers are ``async def handler(services, request) -> Response``.  Every ``DAVError``
and storage error raised anywhere becomes a response here and only here (RFC 4918 §16:
an error with a condition gets a ``<D:error>`` body).

Storage trouble, as ``error_response`` answers it:

* a full disk (``StorageFull``): 507 Insufficient Storage (RFC 4918 §11.5) with the
  ``DAV:sufficient-disk-space`` precondition of RFC 4331 §6 ("the resource does not
  have sufficient space to record the state of the resource after the execution of
  this method"), not ``DAV:quota-not-exceeded``, which is for a configured quota
  (``QuotaExceeded``).  Nothing of the request was stored;
* a read-only data directory (``ReadOnlyStore``): 503 Service Unavailable: the
  request is fine and nothing is full (so not 507, which clients read as "free some
  space"); the operator must make the directory writable;
* damaged content (``Damaged``: a blob missing, cut short or not matching its digest):
  500, the message naming the resource; the storage layer logs it as an integrity
  error where it finds it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable

from davbind.protocol.errors import REASONS, DAVError
from davbind.protocol.headers import unknown_method
from davbind.protocol.multistatus import error_document
from davbind.server import (
    bindings,
    copymove,
    locks,
    problem,
    propfind,
    proppatch,
    read,
    shares,
    wellknown,
    write,
)
from davbind.server.access import UNRESTRICTED
from davbind.server.auth import (
    ACCESS_KEY,
    MAY_WRITE_KEY,
    READ_METHODS,
    USER_KEY,
    Authenticator,
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
)
from davbind.server.listing_cache import ListingCache
from davbind.server.observability import Observed, configure_logging, observe
from davbind.server.services import Services
from davbind.server.settings import Settings
from davbind.server.storage_threads import StorageThreads
from davbind.storage.model import (
    AlreadyExists,
    Conflict,
    Damaged,
    NotACollection,
    NotFound,
    QuotaExceeded,
    ReadOnlyStore,
    StorageError,
    StorageFull,
    Unavailable,
)
from davbind.storage.open import open_blobs, open_metadata

log = logging.getLogger("davbind")

Handler = Callable[[Services, Request], Awaitable[Response]]

HANDLERS: dict[str, Handler] = {
    "OPTIONS": read.options,
    "GET": wellknown.get,  # davbind's own URLs, then the store (read.get)
    "HEAD": wellknown.get,
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
    "POST": shares.post,  # only at /.well-known/davbind/shares
}

WRITE_METHODS = frozenset(HANDLERS) - READ_METHODS

def error_response(exc: Exception, *, problem_json: bool = False) -> Response:
    """The single mapping from raised errors to HTTP responses.  ``problem_json``: the
    request accepts JSON, so the body is an RFC 9457 problem document (D-3)."""
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
    elif isinstance(exc, StorageFull):
        err = DAVError(507, "no space left on the storage device", ("sufficient-disk-space",))
    elif isinstance(exc, QuotaExceeded):
        err = DAVError(507, str(exc), ("quota-not-exceeded",))
    elif isinstance(exc, ReadOnlyStore):
        err = DAVError(503, "the server's storage is read-only: no change can be stored")
    elif isinstance(exc, Damaged):
        err = DAVError(500, f"integrity error: {exc}")
    elif isinstance(exc, Unavailable):
        log.warning("storage unavailable: %s", exc)
        err = DAVError(503, "the storage service is unavailable; try again shortly",
                       headers=(("Retry-After", "5"),))
    else:
        err = DAVError(500, "internal error")
    headers: list[tuple[str, str]] = list(err.headers)
    if err.status == 405:
        headers.append(("Allow", ", ".join(sorted(HANDLERS))))
    if problem_json and err.status >= 400:
        headers.append(("Content-Type", problem.CONTENT_TYPE))
        return Response(err.status, headers, problem.document(err))
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
        try:
            request = Request(scope, receive)
            handler = HANDLERS.get(request.method)
            if handler is None:
                raise unknown_method(request.method)
            request.principal = scope.get(USER_KEY)  # set by ``auth.Authenticator``
            request.access = scope.get(ACCESS_KEY, UNRESTRICTED)
            may_write = scope.get(MAY_WRITE_KEY, self.services.settings.anonymous_write)
            if request.method in WRITE_METHODS and not may_write:
                if request.principal is not None:
                    raise DAVError(403, "this credential is read-only")
                raise DAVError(403, "anonymous write access is disabled on this address")
            response = await handler(self.services, request)
        except ClientGone:
            return
        except (DAVError, StorageError) as exc:
            response = error_response(exc, problem_json=problem.accepts_json(scope))
        except Exception as exc:
            log.exception("unhandled error for %s %s", scope.get("method"), scope.get("path"))
            response = error_response(exc, problem_json=problem.accepts_json(scope))
        await send_response(send, response, head=head, zerocopy=offers_zerocopy(scope))

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                self.services.threads.close()
                self.services.store.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def build_services(settings: Settings) -> Services:
    blobs = open_blobs(settings.blobs_url, durable=settings.durable)
    store = open_metadata(settings.metadata_url, blobs)
    listings = ListingCache(settings.listing_cache_mb * 1024 * 1024)
    return Services(settings, store, blobs, StorageThreads(store), listings)


def create_app(settings: Settings | None = None) -> Observed:
    """Factory for uvicorn (``--factory``): settings come from DAVBIND_SETTINGS_JSON.
    The app is wrapped in authentication (``server.auth``), and that in the
    observability middleware (access log, metrics, health): every request is logged and
    counted, refused logins included, and the health check needs no credentials."""
    if settings is None:
        settings = Settings.from_json(os.environ["DAVBIND_SETTINGS_JSON"])
    configure_logging(settings.log_level)
    services = build_services(settings)
    return observe(Authenticator(App(services), services), services, HANDLERS)
