"""The HTTP/1.1 connection protocol ``davbind serve`` gives uvicorn (``http=``).

It is uvicorn's httptools protocol (RFC 9112 parsing, keep-alive, pipelining, flow
control, 100-continue, graceful shutdown all unchanged) with three additions:

* **replay**: a GET, HEAD or PROPFIND whose exact answer is in the response cache
  (``respcache``: exact by construction, checked against the store generation) is
  answered from the protocol callback itself, in one write, without building an ASGI
  scope, a task or a request object.  Anything else goes to the ASGI app as before.
  To look a PROPFIND up, its (small) body is collected first; a body over 64 KiB, an
  ``Expect: 100-continue``, HTTP/1.0 or ``Connection: close`` never take this path.
  Clients repeat their requests byte for byte (a sync client polling, a benchmark), so
  each worker also remembers which exact request bytes, received whole in one read at a
  message boundary, gave which cache key: a later read of the same bytes is answered
  without parsing at all (the key is a function of those bytes alone).
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
from davbind.server.respcache import MAX_REQUEST_BODY, Key, ResponseCache, request_key
from davbind.server.zerocopy import ZeroCopySend

_REPLAYED = frozenset({b"GET", b"HEAD", b"PROPFIND"})
_RAW_MAX = 4096  # longest request remembered by its bytes
_RAW_ENTRIES = 2048  # requests remembered per worker (at most ~8 MiB)
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
        self._at_boundary = True  # the parser expects the start of a message
        self._begun = 0  # messages begun during the current data_received
        self._last_key: Key | None = None  # key of the last message held back for replay
        self._last_active = 0.0  # when a request was last replayed by its bytes (keep-alive)

    # --- replay of requests seen before, byte for byte --------------------------------

    def data_received(self, data: bytes) -> None:
        cache = self._cache
        if cache is not None and self._at_boundary:
            key = cache.raw_keys.get(data)
            if key is not None and self._replay_whole(cache, key):
                return
        boundary, self._begun = self._at_boundary, 0
        super().data_received(data)
        key = self._last_key
        if (
            key is not None and boundary and self._begun == 1 and self._at_boundary
            and cache is not None and len(data) <= _RAW_MAX
        ):  # fmt: skip
            raw = cache.raw_keys
            if len(raw) >= _RAW_ENTRIES:
                raw.clear()
            raw[data] = key  # ``data`` was exactly that one request

    def _replay_whole(self, cache: ResponseCache, key: Key) -> bool:
        """Answer a request known by its bytes from the cache, if the connection is idle
        and the answer still exact; the parser never sees the request."""
        if (
            (self.cycle is not None and not self.cycle.response_complete)
            or self.pipeline
            or self.flow.write_paused
            or self.transport.is_closing()
        ):
            return False
        hit = cache.lookup(key)
        if hit is None:
            return False
        self._corked.flush()  # what an earlier answer left held goes first
        self.transport.write(b"".join((hit[0], self._default_headers(), hit[1])))
        # what on_response_complete does, but the keep-alive timer is pushed back
        # lazily (timeout_keep_alive_handler) instead of re-armed for every request
        self.server_state.total_requests += 1
        self.flow.resume_reading()
        self._last_active = self.loop.time()
        if self.timeout_keep_alive_task is None:
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
        return True

    def timeout_keep_alive_handler(self) -> None:
        idle = self.loop.time() - self._last_active
        if idle < self.timeout_keep_alive:  # requests were replayed meanwhile
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive - idle, self.timeout_keep_alive_handler
            )
            return
        super().timeout_keep_alive_handler()

    def on_message_begin(self) -> None:
        self._at_boundary = False
        self._begun += 1
        self._last_key = None
        super().on_message_begin()

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
        self._at_boundary = True
        method = self._deferred
        if method is not None:
            cache = self._cache
            assert cache is not None
            body = bytes(self._held_body)
            key = request_key(method.decode("ascii"), self.url, self.headers, body)
            self._last_key = key
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
