"""The ASGI middleware around davbind's app: access log, metrics, health endpoint, and
the log level of davbind's own loggers.

Per request it counts the request body bytes the app receives, notes the status and
counts the response body bytes as each message is handed to the server (an
``http.response.zerocopysend`` message counts its ``count``: those bytes never pass
through Python), then writes one access line (``server.access_log``) and records the
metrics (``server.metrics``).  A request the app never answered is logged as 499 when
the client went away, 500 when the app raised.  ``/.well-known/davbind/health`` is
answered here (``server.health``), before the app.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry

from davbind.server.access_log import GONE, AccessLog, record_of
from davbind.server.health import PATH as HEALTH_PATH
from davbind.server.health import Health
from davbind.server.http import ZEROCOPY, Message, Receive, Scope, Send
from davbind.server.metrics import HttpMetrics, multiprocess_dir
from davbind.server.services import Services

log = logging.getLogger("davbind")

TRACE = 5  # uvicorn's level below DEBUG


class _Exchange:
    """One request's ``receive`` and ``send``, counting as they pass."""

    __slots__ = ("_receive", "_send", "bytes_in", "bytes_out", "head", "status")

    def __init__(self, receive: Receive, send: Send, head: bool) -> None:
        self._receive = receive
        self._send = send
        self.head = head
        self.status = 0
        self.bytes_in = 0
        self.bytes_out = 0

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            self.bytes_in += len(message.get("body", b""))
        return message

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "http.response.body":
            await self._send(message)
            self.bytes_out += len(message.get("body", b""))
        elif kind == "http.response.start":
            await self._send(message)
            self.status = message["status"]
        elif kind == ZEROCOPY:
            count = 0 if self.head else _zerocopy_count(message)  # before it moves the file
            await self._send(message)
            self.bytes_out += count
        else:
            await self._send(message)


def _zerocopy_count(message: Message) -> int:
    """The bytes a zero-copy message sends: ``count``, or (ASGI, "Zero Copy Send") up to
    the end of the file from ``offset`` or the file's position."""
    count = message.get("count")
    if count is not None:
        return int(count)
    file = message["file"]
    fd = file if isinstance(file, int) else file.fileno()
    offset = message.get("offset")
    start = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
    return max(0, os.fstat(fd).st_size - start)


class Observed:
    """``app`` with an access log, metrics and a health endpoint (module doc).
    ``access`` or ``metrics`` None: that part is off."""

    def __init__(self, app: Any, health: Health, access: AccessLog | None = None,
                 metrics: HttpMetrics | None = None) -> None:  # fmt: skip
        self.app = app
        self.health = health
        self.access = access
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if scope["type"] == "lifespan" and self.metrics is not None:
                send = self._on_shutdown(send)
            await self.app(scope, receive, send)
            return
        started = time.time()
        t0 = time.perf_counter()
        method = scope["method"]
        exchange = _Exchange(receive, send, method == "HEAD")
        metrics = self.metrics
        if metrics is not None:
            metrics.in_flight.inc()
        try:
            if scope["path"] == HEALTH_PATH:
                await self.health.respond(method, exchange.send)
            else:
                await self.app(scope, exchange.receive, exchange.send)
        except BaseException:
            if not exchange.status:
                exchange.status = 500
            raise
        finally:
            status = exchange.status or GONE
            duration = time.perf_counter() - t0
            if metrics is not None:
                metrics.in_flight.dec()
                metrics.observe(method, status, duration, exchange.bytes_in,
                                exchange.bytes_out)  # fmt: skip
            if self.access is not None:
                self.access.write(record_of(scope, status, exchange.bytes_in,
                                            exchange.bytes_out, started, duration))  # fmt: skip

    def _on_shutdown(self, send: Send) -> Send:
        metrics = self.metrics
        assert metrics is not None

        async def sending(message: Message) -> None:
            if message["type"] == "lifespan.shutdown.complete":
                metrics.close()
            await send(message)

        return sending


def observe(app: Any, services: Services, methods: Iterable[str]) -> Observed:
    """Wrap ``app`` as ``services.settings`` says (access log on or off and its format,
    metrics on when a metrics port is set); ``methods``: those the app serves (any other
    is one metrics label, ``other``)."""
    settings = services.settings
    access = AccessLog(settings.access_log_format) if settings.access_log else None
    metrics = None
    if settings.metrics_port:
        # with the multiprocess directory, values go to its files for the listener; else
        # (the app built without ``davbind serve``) they stay readable in this process
        registry = None if multiprocess_dir() is not None else CollectorRegistry()
        metrics = HttpMetrics(methods, registry, listings=services.listings)
    return Observed(app, Health(services.threads), access, metrics)


def configure_logging(level: str) -> None:
    """davbind's loggers (``davbind`` and below, not the access log) at ``level``, to
    stderr in uvicorn's style; once per process."""
    logger = logging.getLogger("davbind")
    logger.setLevel(TRACE if level == "trace" else getattr(logging, level.upper()))
    if not any(getattr(h, "_davbind", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s: %(message)s"))
        handler._davbind = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
