"""``/.well-known/davbind/health``: whether this worker can answer from its store.

GET or HEAD answers 200 ``{"status": "ok", "store": "ok", "duration_ms": ..., "pid": ...}``
when a trivial read of the metadata store (the root's row, in a reader thread like every
storage call) returns within ``TIMEOUT`` seconds, else 503 ``{"status": "error",
"error": "..."}``; ``pid`` names the worker process that answered.  Other methods get
405.  The path lives under ``/.well-known/``, which RFC 8615 §3 reserves for such
site-wide resources, so no WebDAV resource is hidden.

Probes of concurrent health requests share one read: a store that hangs ties up one
reader thread, however often a load balancer asks.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from davbind.server.http import Response, Send, send_response
from davbind.server.storage_threads import StorageThreads
from davbind.storage.interface import Txn

PATH = "/.well-known/davbind/health"
TIMEOUT = 2.0
"""Seconds the trivial read may take before the worker is reported unhealthy."""


def _probe(txn: Txn) -> None:
    _ = txn.root  # reads the root row


class Health:
    """Answers health requests for one worker (module doc)."""

    def __init__(self, threads: StorageThreads, timeout: float = TIMEOUT) -> None:
        self.threads = threads
        self.timeout = timeout
        self._probe: asyncio.Future[None] | None = None

    async def check(self) -> tuple[int, dict[str, object]]:
        """(status, document) of one health request."""
        started = time.perf_counter()
        if self._probe is None or self._probe.done():
            self._probe = asyncio.ensure_future(self.threads.read(_probe))
        try:
            await asyncio.wait_for(asyncio.shield(self._probe), self.timeout)
        except TimeoutError:
            error = f"the metadata store did not answer within {self.timeout:g} s"
            return 503, {"status": "error", "error": error}
        except Exception as exc:
            return 503, {"status": "error", "error": f"{type(exc).__name__}: {exc}"}
        millis = round((time.perf_counter() - started) * 1000, 3)
        return 200, {"status": "ok", "store": "ok", "duration_ms": millis, "pid": os.getpid()}

    async def respond(self, method: str, send: Send) -> None:
        if method not in ("GET", "HEAD"):
            allow = [("Allow", "GET, HEAD"), ("Content-Type", "text/plain; charset=utf-8")]
            await send_response(send, Response(405, allow, b"405 Method Not Allowed\n"))
            return
        status, document = await self.check()
        headers = [("Content-Type", "application/json"), ("Cache-Control", "no-store")]
        body = json.dumps(document).encode() + b"\n"
        await send_response(send, Response(status, headers, body), head=method == "HEAD")
