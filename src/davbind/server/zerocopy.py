"""The uvicorn seam: uvicorn's httptools protocol with the ASGI
``http.response.zerocopysend`` extension added, over ``sendfile(2)``.

This is the only place davbind reaches into uvicorn.  ``ZeroCopyProtocol`` subclasses
``HttpToolsProtocol`` and overrides two callbacks (``connection_made``,
``on_headers_complete``), each calling uvicorn's own first; ``ZeroCopySend`` wraps one
``RequestResponseCycle``'s ``send`` and uses these attributes of it: ``flow``
(``write_paused``, ``drain``), ``disconnected``, ``response_started``,
``response_complete``, ``chunked_encoding``, ``expected_content_length``, ``keep_alive``,
``transport``, ``scope``, ``message_event`` and ``on_response``.  They are not a public
API, so the uvicorn versions are bounded in ``pyproject.toml`` and the test command runs
the zero-copy tests against the lowest and the highest version allowed.  Everything else
(parsing, keep-alive, pipelining, flow control, timeouts, shutdown) is uvicorn's.

ASGI HTTP spec, "Zero Copy Send": a scope that lists the extension accepts
``{"type": "http.response.zerocopysend", "file", "offset", "count", "more_body"}`` where
``http.response.body`` would go.  The bytes on the wire are those of a plain body: the
framing (RFC 9112 §6.2 Content-Length, §7.1 chunked) is uvicorn's, unchanged.

Why not through the transport: uvloop has no ``loop.sendfile``, and a body read into
Python bytes is copied twice more and costs a thread hop per chunk.  The rules kept:

* offered on plain TCP only: TLS needs the bytes in user space;
* bytes leave in order: the transport's buffer (the header block) has drained before
  the first ``sendfile``; nothing else writes to the connection meanwhile (the cycle is
  its only writer);
* the socket is used through a duplicate descriptor, because uvloop refuses
  ``add_writer`` on a descriptor its transport owns; the duplicate also stays valid if
  the transport closes under a running copy;
* a body that cannot be finished (the client went away, the file ended early, the task
  was cancelled at shutdown) closes the connection: a keep-alive connection must never
  carry a body shorter than its framing announced.  The file itself belongs to the
  application, which closes it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle
from uvicorn.protocols.utils import is_ssl

from davbind.server.http import ZEROCOPY

log = logging.getLogger("davbind")

MAX_CALL = 8 * 1024 * 1024
"""Most bytes one ``sendfile`` call may copy: the copy runs on the event loop's thread,
so this bounds how long other connections wait (a few milliseconds at most)."""


class ShortFile(Exception):
    """The file ended before ``count`` bytes were sent (it was truncated)."""


async def _writable(loop: asyncio.AbstractEventLoop, fd: int) -> None:
    """Wait until ``fd`` accepts more bytes (or has failed: the next call says how)."""
    ready = loop.create_future()

    def wake() -> None:
        if not ready.done():
            ready.set_result(None)

    loop.add_writer(fd, wake)
    try:
        await ready
    finally:
        loop.remove_writer(fd)


async def copy(
    loop: asyncio.AbstractEventLoop, out: int, fd: int, offset: int, count: int,
    gone: Callable[[], bool],
) -> None:  # fmt: skip
    """Send ``count`` bytes of file ``fd`` from ``offset`` to the non-blocking socket
    ``out``.  Raises ``OSError`` (the peer went away), ``ShortFile``, or
    ``ConnectionAbortedError`` once ``gone()`` says the connection was lost."""
    while count:
        try:
            n = os.sendfile(out, fd, offset, min(count, MAX_CALL))
        except BlockingIOError:
            await _writable(loop, out)
            if gone():
                raise ConnectionAbortedError("connection lost") from None
            continue
        if n == 0:
            raise ShortFile(f"file ended {count} bytes early, at offset {offset}")
        offset += n
        count -= n


def _source(message: Any) -> tuple[int, int | None, int]:
    """The message's descriptor, its explicit offset (None: the file position) and the
    count (omitted: to the end of the file)."""
    file = message["file"]
    fd = file if isinstance(file, int) else file.fileno()
    offset = message.get("offset")
    start = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
    count = message.get("count")
    if count is None:
        count = max(0, os.fstat(fd).st_size - start)
    return fd, offset, count


class ZeroCopySend:
    """The ASGI ``send`` of one uvicorn request/response cycle, with the extension
    added; every other message goes to uvicorn's own ``send``."""

    __slots__ = ("_cycle", "_send")

    def __init__(self, cycle: RequestResponseCycle) -> None:
        self._cycle = cycle
        self._send = cycle.send

    async def __call__(self, message: Any) -> None:
        if message["type"] != ZEROCOPY:
            await self._send(message)
        else:
            await self._zerocopy(message)

    async def _zerocopy(self, message: Any) -> None:
        cycle = self._cycle
        if cycle.flow.write_paused and not cycle.disconnected:
            await cycle.flow.drain()
        if cycle.disconnected:
            return
        if not cycle.response_started or cycle.response_complete:
            raise RuntimeError(f"Unexpected ASGI message {ZEROCOPY!r} outside a response body.")
        more = bool(message.get("more_body", False))
        fd, offset, count = _source(message)
        if cycle.scope["method"] == "HEAD":
            count = 0
        prefix = suffix = b""
        if cycle.chunked_encoding:
            if count:
                prefix, suffix = b"%x\r\n" % count, b"\r\n"
            if not more:
                suffix += b"0\r\n\r\n"
        elif count > cycle.expected_content_length:
            raise RuntimeError("Response content longer than Content-Length")
        if prefix:
            cycle.transport.write(prefix)
        if count:
            start = os.lseek(fd, 0, os.SEEK_CUR) if offset is None else offset
            if not await self._copy(fd, start, count):
                return
            if offset is None:  # the spec reads from the file position: move it on
                os.lseek(fd, start + count, os.SEEK_SET)
        if not cycle.chunked_encoding:
            cycle.expected_content_length -= count
        if suffix:
            cycle.transport.write(suffix)
        if not more:
            if cycle.expected_content_length and cycle.scope["method"] != "HEAD":
                raise RuntimeError("Response content shorter than Content-Length")
            cycle.response_complete = True
            cycle.message_event.set()
            if not cycle.keep_alive:
                cycle.transport.close()
            cycle.on_response()

    async def _copy(self, fd: int, offset: int, count: int) -> bool:
        """True once all bytes are sent; False: the connection is closed (and marked
        disconnected, so later messages are dropped as uvicorn drops them)."""
        cycle = self._cycle
        transport = cycle.transport
        loop = asyncio.get_running_loop()
        out = os.dup(transport.get_extra_info("socket").fileno())
        try:
            while transport.get_write_buffer_size():  # what uvloop holds goes first
                await _writable(loop, out)
                if cycle.disconnected:
                    return False
                await asyncio.sleep(0)  # uvloop's own writer runs on this readiness too
            await copy(loop, out, fd, offset, count, lambda: cycle.disconnected)
            return True
        except ShortFile as exc:
            log.warning("%s %s: %s; closing the connection",
                        cycle.scope["method"], cycle.scope["path"], exc)  # fmt: skip
        except OSError as exc:  # EPIPE, ECONNRESET, ...: the client went away
            log.debug("zero-copy send ended: %r", exc)
        except BaseException:  # cancelled (shutdown) or worse: the body stays unfinished
            cycle.disconnected = True
            transport.close()
            raise
        finally:
            os.close(out)
        cycle.disconnected = True
        transport.close()
        return False


WRITE_BUFFER_HIGH = 1024 * 1024
"""A large streamed answer (a listing of thousands of members) leaves in fewer, larger
writes with fewer pause/resume round trips; memory per connection stays bounded."""


class ZeroCopyProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol; on plain TCP every request's scope offers the
    zero-copy extension (module doc)."""

    _zerocopy: bool

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        transport.set_write_buffer_limits(high=WRITE_BUFFER_HIGH)
        self._zerocopy = (
            hasattr(os, "sendfile")
            and not is_ssl(transport)
            and transport.get_extra_info("socket") is not None
        )

    def on_headers_complete(self) -> None:
        previous = self.cycle
        super().on_headers_complete()
        cycle = self.cycle
        if self._zerocopy and cycle is not None and cycle is not previous:
            # the task that runs the app has not started yet: it sees both changes
            self.scope.setdefault("extensions", {})[ZEROCOPY] = {}
            cycle.send = ZeroCopySend(cycle)  # type: ignore[method-assign]
