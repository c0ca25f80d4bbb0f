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
class Substitutions:
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


def generated(gen: Generate, subs: Substitutions) -> Iterator[bytes]:
    """The generated body, one chunk per ``gen.batch`` items."""
    template = gen.format_string
    values = {"origin": subs.origin, "host": subs.host, "path": subs.path}
    yield subs.expand(gen.head + gen.prefix).encode("utf-8")
    for start in range(0, gen.count, gen.batch):
        stop = min(start + gen.batch, gen.count)
        items = (template.format(i=i, n=i + 1, **values) for i in range(start, stop))
        yield "".join(items).encode("utf-8")
    yield subs.expand(gen.suffix + gen.tail).encode("utf-8")


def render(reply: Reply, subs: Substitutions) -> tuple[list[tuple[str, str]], Iterator[bytes]]:
    """Header lines (with the defaults of the module docstring) and body chunks of ``reply``."""
    headers = [(name, subs.expand(value)) for name, value in reply.headers]
    names = {name.lower() for name, _ in headers}
    has_body = bool(reply.body) or reply.generate is not None
    if has_body and "content-type" not in names:
        headers.append(("Content-Type", XML_TYPE))
    if reply.generate is not None:
        return headers, generated(reply.generate, subs)
    body = subs.expand_bytes(reply.body)
    bodiless = reply.status in (204, 304)  # RFC 9110 §8.6: no Content-Length on these
    framed = "content-length" in names or "transfer-encoding" in names
    if reply.chunks == 1 and not bodiless and not framed:
        headers.append(("Content-Length", str(len(body))))
    return headers, iter(split(body, reply.chunks) if body else ())
