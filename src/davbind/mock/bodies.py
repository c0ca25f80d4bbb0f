"""Turning a canned :class:`~davbind.mock.model.Reply` into headers and body chunks.

The rules kept here:

- Bodies are produced lazily: an inline or file body is cut into ``chunks`` pieces, a
  generated body is formatted ``batch`` items at a time while it is sent, so a
  100,000-response multistatus never exists in memory as a whole.
- ``${origin}``, ``${host}`` and ``${path}`` are the only substitutions, made in body
  text and header values; nothing else in a body is touched.
- A body without a ``Content-Type`` is sent as ``application/xml; charset="utf-8"``
  (scenarios are about multistatus bodies).  ``Content-Length`` is added only when the
  body is sent in one piece (and the status is not 204 or 304); otherwise the body goes
  out chunked.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from davbind.mock.model import Generate, Reply

XML_TYPE = 'application/xml; charset="utf-8"'


@dataclass(frozen=True, slots=True)
class Origin:
    """How the client addressed the mock: ``${origin}``, ``${host}`` and ``${path}``."""

    scheme: str
    host: str
    path: str = "/"

    @property
    def origin(self) -> str:
        return f"{self.scheme}://{self.host}"

    def _pairs(self) -> tuple[tuple[str, str], ...]:
        return (("${origin}", self.origin), ("${host}", self.host), ("${path}", self.path))

    def expand(self, text: str) -> str:
        if "${" not in text:
            return text
        for key, value in self._pairs():
            text = text.replace(key, value)
        return text

    def expand_bytes(self, data: bytes) -> bytes:
        if b"${" not in data:
            return data
        for key, value in self._pairs():
            data = data.replace(key.encode(), value.encode("latin-1"))
        return data


def split(data: bytes, pieces: int) -> list[bytes]:
    """``data`` cut into ``pieces`` nearly equal non-empty parts (fewer if it is short)."""
    pieces = max(1, min(pieces, len(data)))
    size, extra = divmod(len(data), pieces)
    out, start = [], 0
    for k in range(pieces):
        end = start + size + (1 if k < extra else 0)
        out.append(data[start:end])
        start = end
    return out


def generated(gen: Generate, origin: Origin) -> Iterator[bytes]:
    """The generated body, one chunk per ``gen.batch`` items."""
    template = gen.format_string
    values = {"origin": origin.origin, "host": origin.host, "path": origin.path}
    yield origin.expand(gen.head + gen.prefix).encode("utf-8")
    for start in range(0, gen.count, gen.batch):
        stop = min(start + gen.batch, gen.count)
        items = (template.format(i=i, n=i + 1, **values) for i in range(start, stop))
        yield "".join(items).encode("utf-8")
    yield origin.expand(gen.suffix + gen.tail).encode("utf-8")


def body_chunks(reply: Reply, origin: Origin) -> Iterator[bytes]:
    """The body of ``reply`` as it is sent."""
    if reply.generate is not None:
        yield from generated(reply.generate, origin)
        return
    body = origin.expand_bytes(reply.body)
    if body:
        yield from split(body, reply.chunks)


def response_headers(reply: Reply, origin: Origin) -> list[tuple[str, str]]:
    """Header lines of ``reply`` with the defaults described in the module docstring."""
    headers = [(name, origin.expand(value)) for name, value in reply.headers]
    names = {name.lower() for name, _ in headers}
    has_body = bool(reply.body) or reply.generate is not None
    if has_body and "content-type" not in names:
        headers.append(("Content-Type", XML_TYPE))
    one_piece = reply.generate is None and reply.chunks == 1
    bodiless = reply.status in (204, 304)  # RFC 9110 §8.6: no Content-Length on these
    framed = "content-length" in names or "transfer-encoding" in names
    if one_piece and not bodiless and not framed:
        headers.append(("Content-Length", str(len(origin.expand_bytes(reply.body)))))
    return headers
