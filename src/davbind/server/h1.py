"""The HTTP/1.1 connection protocol ``davbind serve`` gives uvicorn (``http=``).

It is uvicorn's httptools protocol (RFC 9112 parsing, keep-alive, pipelining, flow
control, 100-continue, graceful shutdown all unchanged) with three additions:

* **replay**: a GET, HEAD or PROPFIND whose exact answer is in the response cache
  (``respcache``: exact by construction, checked against the store generation) is
  answered from the protocol callback itself, in one write, without building an ASGI
  scope, a task or a request object.  Anything else goes to the ASGI app as before.
  To look a PROPFIND up, its (small) body is collected first; a body over 64 KiB, an
  ``Expect: 100-continue``, HTTP/1.0 or ``Connection: close`` never take this path.
* **one write per small response**: the status line and headers are held back until
  the first body bytes, so a small answer leaves in one ``send()`` instead of two (the
  held bytes are flushed at the end of the loop iteration in any case).
* **zero-copy file bodies**: on a plain TCP connection every request's scope offers the
  ASGI ``http.response.zerocopysend`` extension, served with ``sendfile(2)`` by
  ``zerocopy.ZeroCopySend`` (not over TLS: encryption needs the bytes in user space).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.utils import is_ssl

from davbind.server.http import ZEROCOPY
from davbind.server.respcache import MAX_REQUEST_BODY, ResponseCache, request_key
from davbind.server.zerocopy import ZeroCopySend

_REPLAYED = frozenset({b"GET", b"HEAD", b"PROPFIND"})
_COALESCE = 64 * 1024
WRITE_BUFFER_HIGH = 1024 * 1024


class _Corked:
    """A transport stand-in, one per connection, that holds a short write (a header
    block) until the next write or the end of the loop iteration.  Every response on
    the connection goes through it, so bytes always leave in order."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is None:
            if len(data) <= _COALESCE and not self._transport.is_closing():
                self._held = data
                self._loop.call_soon(self.flush)
            else:
                self._transport.write(data)
            return
        self._held = None
        if len(data) <= _COALESCE:
            self._transport.write(held + data)
        else:
            self._transport.writelines((held, data))

    def flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _find_cache(app: Any) -> ResponseCache | None:
    """The davbind app's response cache, through whatever middleware uvicorn wrapped."""
    for _ in range(8):
        services = getattr(app, "services", None)
        if services is not None:
            cache = getattr(services, "responses", None)
            return cache if isinstance(cache, ResponseCache) else None
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None


class DavHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus response-cache replay and coalesced writes."""

    _cache: ResponseCache | None
    _deferred: bytes | None
    _held_body: bytearray

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # a big answer (a listing of thousands of members) leaves in fewer, larger
        # writes with fewer pause/resume round trips; memory per connection stays bounded
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self._cache = _find_cache(self.app)
        self._corked = _Corked(transport, self.loop)
        self._deferred = None
        self._held_body = bytearray()
        self._defaults_src: object = None
        self._defaults = b""
        self._zerocopy = (
            hasattr(os, "sendfile")
            and not is_ssl(transport)
            and transport.get_extra_info("socket") is not None
        )

    # --- replay ---------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        cache = self._cache
        if (
            cache is not None
            and len(cache)
            and (self.cycle is None or self.cycle.response_complete)
            and not self.pipeline
            and not self.expect_100_continue
            and not self.flow.write_paused
        ):
            method = self.parser.get_method()
            if (
                method in _REPLAYED
                and self.parser.get_http_version() == "1.1"
                and self.parser.should_keep_alive()
                and not self.parser.should_upgrade()
            ):
                self._deferred = method
                self._held_body = bytearray()
                return
        self._start_cycle()

    def _start_cycle(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None:
            cycle.transport = self._corked  # type: ignore[assignment]
            if self._zerocopy and cycle is not previous:
                # the task that runs the app has not started yet: it sees both changes
                self.scope.setdefault("extensions", {})[ZEROCOPY] = {}
                cycle.send = ZeroCopySend(cycle, self._corked.flush)  # type: ignore[method-assign]

    def _undefer(self) -> None:
        """Hand a held-back request to the ASGI app after all, with what body arrived."""
        self._deferred = None
        self._start_cycle()
        if self._held_body:
            self.cycle.body += self._held_body
            self._held_body = bytearray()
            self.cycle.message_event.set()

    def on_body(self, body: bytes) -> None:
        if self._deferred is not None:
            self._held_body += body
            if len(self._held_body) > MAX_REQUEST_BODY:
                self._undefer()
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        method = self._deferred
        if method is not None:
            cache = self._cache
            assert cache is not None
            body = bytes(self._held_body)
            key = request_key(method.decode("ascii"), self.url, self.headers, body)
            hit = cache.lookup(key) if key is not None else None
            if hit is not None:
                self._deferred = None
                self._held_body = bytearray()
                self._corked.flush()  # what an earlier answer left held goes first
                self.transport.write(b"".join((hit[0], self._default_headers(), hit[1])))
                self.on_response_complete()
                return
            self._undefer()
        super().on_message_complete()

    def shutdown(self) -> None:
        """Graceful shutdown: a request held back for replay is finished, not dropped."""
        if self._deferred is not None:
            self._undefer()
        super().shutdown()

    def send_400_response(self, msg: str) -> None:
        self._corked.flush()
        super().send_400_response(msg)

    def _default_headers(self) -> bytes:
        """uvicorn's own headers (Date, and Server when configured), as it sends them;
        uvicorn replaces the list once a second."""
        defaults = self.server_state.default_headers
        if defaults is not self._defaults_src:
            self._defaults_src = defaults
            self._defaults = b"".join(name + b": " + value + b"\r\n" for name, value in defaults)
        return self._defaults
