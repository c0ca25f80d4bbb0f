"""Connection hygiene under hostile load: a deadline for every request head, bounded
heads, a bounded number of connections per worker, and the refusals uvicorn's parser
would get wrong (an unknown method, a fragment in the request-target).

``GuardedProtocol`` subclasses the zero-copy protocol (``server.zerocopy``), so it is part
of the uvicorn seam.  It overrides ``connection_made``, ``connection_lost``,
``data_received``, ``on_message_begin``, ``on_header``, ``on_headers_complete``,
``on_message_complete`` and ``on_response_complete``, each calling uvicorn's own, and
uses these attributes of uvicorn's ``HttpToolsProtocol``: ``parser``, ``url``, ``cycle``,
``pipeline``, ``connections``, ``transport`` and ``loop``; of the request cycle it uses
``response_complete`` and ``keep_alive``.  They are not a public API: see the bounds on
uvicorn in ``pyproject.toml`` and ``tests/server/test_seam_version.py``.

The rules, with their defaults (all settings, see the README):

* **Head deadline** (``header_timeout``, 20 s, nginx's ``client_header_timeout`` and
  Apache's ``RequestReadTimeout header=20``): a request head must be complete within this
  time of the connection opening, or of its first byte on a kept-alive connection.
  Otherwise the connection gets 408 (RFC 9110 §15.5.9) and is closed; a connection still
  sending an earlier answer is only told not to keep alive.  Idle kept-alive connections
  are uvicorn's ``timeout_keep_alive`` (``keepalive_timeout``).
* **Bounded heads** (``max_header_bytes``, 64 KiB; ``max_header_fields``, 200): counted
  while bytes arrive, so a worker never holds more than the limit plus one read of a
  head; beyond either, 431 (RFC 6585 §5).
* **Connections per worker** (``max_connections``, 1000, lowered to fit the open-files
  limit): one connection more makes room by closing the connection that has waited
  longest for a request head (idle, or trickling one in); when every connection is busy
  with a request, the newcomer gets 503 (RFC 9110 §15.6.4) at once.  So idle and slow
  clients cannot shut out an active one.
* **Method** (RFC 9110 §9.1): httptools knows a fixed list of methods and fails on any
  other; a method with token syntax (§5.6.2) is 501, anything else 400.  The method is
  read from the connection's bytes, which are known when the request began a read
  (always, unless it was pipelined behind another in one segment: then 400).
* **Fragment** (RFC 9112 §3.2: the request-target carries none): 400, where httptools
  would drop it and the request would act on the rest.

Every refusal answers with ``Connection: close``, half-closes and discards what the
client still sends for ``LINGER`` seconds before closing, so the answer is not lost to a
reset (the "lingering close" of nginx and Apache).  A refusal behind answers still being
sent waits until they are out.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import resource
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

import httptools
from uvicorn.config import Config
from uvicorn.server import ServerState

from davbind.protocol.headers import unknown_method
from davbind.server.settings import Settings
from davbind.server.zerocopy import ZeroCopyProtocol

log = logging.getLogger("davbind")

LINGER = 2.0
"""Seconds a refused connection keeps reading (and discarding) before it is closed."""

FD_RESERVE = 100
"""Descriptors a worker keeps for itself (database, blob files, threads, the listener)."""

METHOD_PEEK = 64
"""Bytes kept of a request's start to name a method httptools refused."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The per-worker limits (module doc); built from ``Settings``."""

    header_timeout: float = 20.0
    max_header_bytes: int = 64 * 1024
    max_header_fields: int = 200
    max_connections: int = 1000

    @classmethod
    def of(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            header_timeout=float(settings.header_timeout),
            max_header_bytes=settings.max_header_bytes,
            max_header_fields=settings.max_header_fields,
            max_connections=settings.max_connections,
        )

    def fitted(self, open_files: int) -> ConnectionLimits:
        """These limits with ``max_connections`` lowered so that the connections and
        the refused ones still lingering fit in ``open_files`` descriptors."""
        room = max(1, (open_files - FD_RESERVE) // 2)
        if self.max_connections <= room:
            return self
        log.warning("max_connections %d lowered to %d: the open-files limit is %d",
                    self.max_connections, room, open_files)  # fmt: skip
        return ConnectionLimits(self.header_timeout, self.max_header_bytes,
                                self.max_header_fields, room)  # fmt: skip


@functools.cache
def process_limits() -> ConnectionLimits:
    """This worker's limits: the settings ``davbind serve`` handed to it (defaults when
    run otherwise), fitted to the process's open-files limit."""
    text = os.environ.get("DAVBIND_SETTINGS_JSON")
    settings = Settings.from_json(text) if text else Settings()
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limits = ConnectionLimits.of(settings)
    return limits if soft == resource.RLIM_INFINITY else limits.fitted(soft)


class Refusal(Exception):
    """Raised in a parser callback: answer ``status`` with ``text`` and close."""

    def __init__(self, status: int, text: str) -> None:
        super().__init__(f"{status} {text}")
        self.status = status
        self.text = text


def refusal_bytes(status: int, text: str) -> bytes:
    reason = HTTPStatus(status).phrase
    body = f"{status} {reason}: {text}\n".encode()
    retry = b"retry-after: 1\r\n" if status == 503 else b""
    return b"".join([
        f"HTTP/1.1 {status} {reason}\r\n".encode(),
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: %d\r\n" % len(body), retry,
        b"connection: close\r\n\r\n", body,
    ])  # fmt: skip


def refused_method(start: bytes) -> Refusal | None:
    """The answer to a method httptools does not know, by the app's rule (501 for a
    token, else 400), read from the request's first bytes; None while its end is not
    among them."""
    line = start.lstrip(b"\r\n")
    method = line.split(b" ", 1)[0]
    if b" " not in line and len(line) < METHOD_PEEK:
        return None
    err = unknown_method(method.decode("latin-1"))
    return Refusal(err.status, err.message)


class _Worker:
    """What the connections of one uvicorn server share: those waiting for a request
    head, oldest first, and how many refused ones are lingering."""

    __slots__ = ("lingering", "waiting")

    def __init__(self) -> None:
        self.waiting: dict[GuardedProtocol, None] = {}
        self.lingering = 0


_workers: weakref.WeakKeyDictionary[ServerState, _Worker] = weakref.WeakKeyDictionary()


class _Parser:
    """httptools' parser, with each read checked against the connection's limits."""

    __slots__ = ("_conn", "_parser")

    def __init__(self, parser: httptools.HttpRequestParser, conn: GuardedProtocol) -> None:
        self._parser = parser
        self._conn = conn

    def feed_data(self, data: bytes) -> None:
        self._conn.feed(self._parser, data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._parser, name)


class GuardedProtocol(ZeroCopyProtocol):
    """The zero-copy protocol with the limits of the module doc."""

    limits: ClassVar[ConnectionLimits | None] = None
    """Set on a subclass to override the process's limits (tests)."""

    def __init__(self, config: Config, server_state: ServerState,
                 app_state: dict[str, Any], _loop: asyncio.AbstractEventLoop | None = None,
                 ) -> None:  # fmt: skip
        super().__init__(config, server_state, app_state, _loop)
        self._limits = self.limits or process_limits()
        self._worker = _workers.setdefault(server_state, _Worker())
        self.parser = _Parser(self.parser, self)  # type: ignore[assignment]
        self._in_head = False  # between a request's first byte and its complete head
        self._head_bytes = 0
        self._fields = 0
        self._field_bytes = 0
        self._start: bytes | None = b""  # the request's first bytes; None: not known
        self._fresh = False  # no request ended earlier in the read being parsed
        self._chunk = b""
        self._answered = False
        self._deadline: asyncio.TimerHandle | None = None
        self._refused = False
        self._pending: bytes | None = None  # a refusal waiting for earlier answers
        self._linger: asyncio.TimerHandle | None = None
        self._peek: bytes | None = None  # the start of a request with an unknown method

    # -- connection ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._wait()
        self._arm(self._head_expired)
        if len(self.connections) > self._limits.max_connections:
            victim = next((c for c in self._worker.waiting if c is not self), None)
            if victim is None:
                self._refuse(503, "too many connections; try again shortly")
            else:
                victim._evict()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._worker.waiting.pop(self, None)
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
            self._worker.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._peek is not None:
            self._peek_method(data)
        elif not self._refused:
            super().data_received(data)

    def _peek_method(self, data: bytes, final: bool = False) -> None:
        """Collect the start of a request whose method httptools refused until the
        method is known (``final``: it cannot be, the request's start is unknown)."""
        assert self._peek is not None
        self._peek += data[: METHOD_PEEK - len(self._peek)]
        refusal = refused_method(self._peek)
        if refusal is None and not final:
            return
        self._peek = None
        if refusal is None:
            refusal = Refusal(400, "malformed request method")
        self._refuse(refusal.status, refusal.text)

    def on_response_complete(self) -> None:
        self._answered = True
        super().on_response_complete()
        if self.transport.is_closing() or self.pipeline or not self.cycle.response_complete:
            return
        if self._pending is not None:
            self._close_with(self._pending)
        else:  # idle, or already trickling in its next head: either may be evicted
            self._wait()

    # -- parsing -----------------------------------------------------------------------

    def feed(self, parser: httptools.HttpRequestParser, data: bytes) -> None:
        """Feed one read to the parser; a limit crossed or a request httptools cannot
        take becomes a refusal here (uvicorn's answer to a parser error is a bare 400)."""
        self._fresh, self._chunk = True, data
        if self._in_head:
            self._head_bytes += len(data)
            if self._start is not None and len(self._start) < METHOD_PEEK:
                self._start += data[: METHOD_PEEK - len(self._start)]
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            raise
        except httptools.HttpParserInvalidMethodError:
            # httptools gives up within the method; its end may come in a later read
            self._peek = self._start or b""
            self._peek_method(b"", final=self._start is None)
            return
        except httptools.HttpParserCallbackError as exc:
            if not isinstance(exc.__context__, Refusal):
                raise
            self._refuse(exc.__context__.status, exc.__context__.text)
            return
        except httptools.HttpParserError:
            self._refuse(400, "invalid HTTP request")
            return
        finally:
            self._chunk = b""
        if self._in_head and self._head_bytes > self._limits.max_header_bytes:
            too_large = self._too_large()
            self._refuse(too_large.status, too_large.text)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head, self._fields, self._field_bytes = True, 0, 0
        # A request that began a read is counted from there (exactly); one pipelined
        # behind another in the same read is counted from the next read on.
        self._head_bytes = len(self._chunk) if self._fresh else 0
        self._start = self._chunk[:METHOD_PEEK] if self._fresh else None
        if self._deadline is None:
            self._arm(self._head_expired)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._fields += 1
        if self._fields > self._limits.max_header_fields:
            raise Refusal(431, f"more than {self._limits.max_header_fields} header fields")
        self._field_bytes += len(name) + len(value) + 4  # ": " and CRLF
        self._check_size()
        super().on_header(name, value)

    def _check_size(self) -> None:
        """The head as parsed so far (a head that arrived within one read is only seen
        here, after the fact; ``feed`` bounds one still arriving)."""
        if len(self.url) + self._field_bytes > self._limits.max_header_bytes:
            raise self._too_large()

    def _too_large(self) -> Refusal:
        return Refusal(431, f"request head larger than {self._limits.max_header_bytes} bytes")

    def on_headers_complete(self) -> None:
        self._check_size()
        if b"#" in self.url:
            raise Refusal(400, "a request-target must not carry a fragment")
        self._in_head = False
        self._disarm()
        self._worker.waiting.pop(self, None)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._fresh = False
        super().on_message_complete()

    # -- timers and refusals -----------------------------------------------------------

    def _arm(self, callback: Callable[[], None]) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self._limits.header_timeout, callback)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _busy(self) -> bool:
        """An answer is still being produced or sent on this connection."""
        return bool(self.pipeline) or (self.cycle is not None and not self.cycle.response_complete)

    def _wait(self) -> None:
        """Join the end of the worker's waiting list."""
        self._worker.waiting.pop(self, None)
        self._worker.waiting[self] = None

    def _head_expired(self) -> None:
        self._deadline = None
        if self._refused or self.transport.is_closing():
            return
        if self._busy():
            self.cycle.keep_alive = False  # the answer in flight is the last one
            return
        self._refuse(408, f"no complete request head within {self._limits.header_timeout:g} s")

    def _evict(self) -> None:
        """Make room for a newer connection (module doc)."""
        if self._answered and not self._in_head:
            self._worker.waiting.pop(self, None)
            self.transport.close()
        else:
            self._refuse(408, "closed to make room for other connections")

    def _refuse(self, status: int, text: str) -> None:
        """Stop reading requests; answer ``status`` once earlier answers are out."""
        self._refused = True
        self._peek = None
        self._in_head = False
        self._disarm()
        self._worker.waiting.pop(self, None)
        self.connections.discard(self)  # counted as lingering from now on
        answer = refusal_bytes(status, text)
        if self._busy():
            self._pending = answer
        else:
            self._close_with(answer)

    def _close_with(self, answer: bytes) -> None:
        """Send ``answer``, half-close, and close after ``LINGER`` seconds (or when the
        client closes its side first)."""
        self._pending = None
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(answer)
        if self._worker.lingering >= self._limits.max_connections or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._worker.lingering += 1
        self._linger = self.loop.call_later(LINGER, transport.abort)
