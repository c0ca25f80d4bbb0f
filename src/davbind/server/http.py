"""Request and response values over raw ASGI (no web framework).

Bodies stream both ways: ``Request.stream()`` yields chunks as they arrive and
``Response.body`` may be an iterator of chunks, sent as they are produced, or a
``FileBody`` (a byte range of an open file), handed to the server as one ASGI
``http.response.zerocopysend`` message when the scope offers that extension (ASGI HTTP
spec, "Zero Copy Send") and read in chunks otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import split_path
from davbind.server.access import UNRESTRICTED, Access
from davbind.server.filebody import FileBody

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ZEROCOPY = "http.response.zerocopysend"


def offers_zerocopy(scope: Scope) -> bool:
    """Whether the server takes ``http.response.zerocopysend`` messages."""
    return ZEROCOPY in (scope.get("extensions") or {})


class Request:
    """One HTTP request: method, decoded path segments, headers, streamed body."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.method: str = scope["method"].upper()
        raw = scope.get("raw_path") or scope["path"].encode("utf-8")
        raw_path = raw.decode("latin-1").split("?", 1)[0]
        if "#" in raw_path:
            raise DAVError(400, "a request URI must not carry a fragment")
        self.raw_path = raw_path
        self.scheme: str = scope.get("scheme", "http")
        self.headers: dict[str, list[str]] = {}
        for k, v in scope["headers"]:
            self.headers.setdefault(k.decode("latin-1").lower(), []).append(v.decode("latin-1"))
        self.query: str = scope.get("query_string", b"").decode("latin-1")
        self._receive = receive
        self._consumed = False
        self.body_read: bytes | None = None  # the whole body, once ``body()`` has read it
        self.segments: tuple[str, ...] = split_path(raw_path)
        self.trailing_slash = raw_path.endswith("/")
        self.principal: str | None = None
        self.access: Access = UNRESTRICTED  # set by the app from ``server.auth``

    def header(self, name: str) -> str | None:
        values = self.headers.get(name)
        return ", ".join(values) if values else None

    def header_lines(self, name: str) -> list[str]:
        return self.headers.get(name, [])

    @property
    def host(self) -> str:
        return self.header("host") or "localhost"

    def declared_length(self) -> int | None:
        value = self.header("content-length")
        if value is None:
            return None
        try:
            n = int(value)
        except ValueError as exc:
            raise DAVError(400, "malformed Content-Length") from exc
        if n < 0:
            raise DAVError(400, "negative Content-Length")
        return n

    def has_body(self) -> bool:
        length = self.declared_length()
        return bool(length) or "chunked" in (self.header("transfer-encoding") or "").lower()

    async def stream(self, limit: int) -> AsyncIterator[bytes]:
        """Yield body chunks; ``DAVError(413)`` once more than ``limit`` bytes arrive."""
        if self._consumed:
            return
        self._consumed = True
        length = self.declared_length()
        if length is not None and length > limit:
            raise DAVError(413, f"request body larger than {limit} bytes")
        total = 0
        while True:
            message = await self._receive()
            if message["type"] == "http.disconnect":
                raise ClientGone()
            chunk = message.get("body", b"")
            total += len(chunk)
            if total > limit:
                raise DAVError(413, f"request body larger than {limit} bytes")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def body(self, limit: int) -> bytes:
        if self.body_read is not None:
            return self.body_read
        parts = [chunk async for chunk in self.stream(limit)]
        self.body_read = b"".join(parts)
        return self.body_read


class ClientGone(Exception):
    """The client disconnected in the middle of its request body."""


Body = bytes | Iterator[bytes] | AsyncIterator[bytes] | FileBody


@dataclass(slots=True)
class Response:
    """A status, header fields and a body (bytes, chunks, or a ``FileBody``)."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: Body = b""

    def header(self, name: str, value: str) -> Response:
        self.headers.append((name, value))
        return self


def wire_headers(response: Response) -> list[tuple[bytes, bytes]]:
    """The header fields as sent: lower-case names, Content-Length for whole bodies."""
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    body = response.body
    bodiless = response.status in (204, 304) or response.status < 200
    if isinstance(body, bytes) and not bodiless and all(k != b"content-length" for k, _ in headers):
        headers.append((b"content-length", str(len(body)).encode()))
    return headers


async def send_response(
    send: Send, response: Response, *, head: bool = False, zerocopy: bool = False
) -> None:
    """Send status, headers and (streamed) body; ``zerocopy``: the scope offers the
    extension (``offers_zerocopy``)."""
    headers = wire_headers(response)
    body = response.body
    if isinstance(body, FileBody):
        try:
            await send({"type": "http.response.start", "status": response.status,
                        "headers": headers})  # fmt: skip
            await _send_file(send, body, zerocopy=zerocopy, head=head)
        finally:
            body.close()  # whatever happened: the descriptor is not left to the collector
        return
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    if head:
        await send({"type": "http.response.body", "body": b""})
        await _aclose(body)
        return
    if isinstance(body, bytes):
        await send({"type": "http.response.body", "body": body})
        return
    try:
        if isinstance(body, Iterator):
            for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        else:
            async for chunk in body:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    finally:
        await _aclose(body)
    await send({"type": "http.response.body", "body": b""})


async def _send_file(send: Send, body: FileBody, *, zerocopy: bool, head: bool) -> None:
    fd = body.fileno() if zerocopy and not head else None
    if fd is not None:
        await send({"type": ZEROCOPY, "file": fd, "offset": body.offset, "count": body.count,
                    "more_body": False})  # fmt: skip
        return
    if not head:  # a server without the extension, or a file without a descriptor
        async with contextlib.aclosing(body.chunks()) as chunks:
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _aclose(body: Body) -> None:
    """Close a streamed body however sending it ended (it may hold a read snapshot)."""
    aclose = getattr(body, "aclose", None)
    if aclose is not None:
        await aclose()
        return
    close = getattr(body, "close", None)
    if close is not None:
        close()
