"""The access log: one line per request, written once its answer has been handed over.

Two formats:

* ``text``: Apache's and nginx's "combined" format with two fields added at the end, so
  log tools that read "combined" read it::

      127.0.0.1 - alice [05/May/2025:14:03:59 +0200] "GET /a.txt HTTP/1.1" 200 4096 "-"
          "curl/8.5.0" 0 1.234

  (one line; broken here to fit)

  client address, ``-`` (identd, never used), user, time the request arrived (local
  time), request line as received (path and query undecoded), status, response body
  bytes, Referer, User-Agent, request body bytes, duration in milliseconds.  Text from
  the client is quoted with ``"`` and ``\\`` escaped; bytes that are not printable ASCII
  are written ``\\xHH``, so one request is always one line.
* ``json``: one JSON object per line with the same fields (``time`` in ISO 8601, UTC).

``user`` is the authenticated user: the name the authentication layer (``server.auth``)
stores under the ASGI scope key ``USER_KEY`` (``"user"``), ``-`` when there is none.
No other request header than User-Agent and Referer is read: credentials
(``Authorization``, cookies) never reach the log.

Lines go to stdout directly, not through ``logging``: a log record, its handler's lock
and a flush per line cost more than the rest of a small GET's bookkeeping together.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any, NamedTuple

USER_KEY = "user"
"""The ASGI scope key under which authentication puts the user's name (a ``str``)."""

PIPE_BUF = 4096
"""Writes of up to this many bytes to a pipe are never interleaved with another
process's (POSIX): the workers share stdout, so lines are written in whole-line batches
no larger than this."""

GONE = 499
"""Status logged when the client went away before any answer (nginx's convention)."""


class AccessRecord(NamedTuple):
    """What one line says about one request (a named tuple: built once per request,
    it must cost next to nothing)."""

    time: float  # epoch seconds, when the request arrived
    client: str
    user: str | None
    method: str
    target: bytes  # path and query string, as received
    http_version: str
    status: int
    bytes_out: int  # response body bytes handed to the server (zero-copy ones included)
    bytes_in: int  # request body bytes the application read
    duration_ms: float
    referer: bytes | None
    user_agent: bytes | None


def record_of(scope: Any, status: int, bytes_in: int, bytes_out: int, started: float,
              duration: float) -> AccessRecord:  # fmt: skip
    """The record of one finished request, from its ASGI scope and what was counted."""
    referer = agent = None
    for name, value in scope["headers"]:
        if name == b"user-agent":
            agent = value
        elif name == b"referer":
            referer = value
    client = scope.get("client")
    target = scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string")
    user = scope.get(USER_KEY)
    return AccessRecord(
        time=started,
        client=client[0] if client else "-",
        user=user if isinstance(user, str) and user else None,
        method=scope["method"],
        target=target + b"?" + query if query and b"?" not in target else target,
        http_version=scope.get("http_version", "1.1"),
        status=status,
        bytes_out=bytes_out,
        bytes_in=bytes_in,
        duration_ms=duration * 1000.0,
        referer=referer,
        user_agent=agent,
    )


def escape(data: bytes, space: bool = False) -> str:
    """``data`` as printable ASCII: ``"`` and ``\\`` backslashed, other bytes outside
    0x20-0x7E (and a space, with ``space``) as ``\\xHH``."""
    if data.isascii():
        text = data.decode("ascii")
        plain = text.isprintable() and '"' not in text and "\\" not in text
        if plain and (not space or " " not in text):
            return text
    out = []
    for b in data:
        if b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif 0x20 < b < 0x7F or (b == 0x20 and not space):
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("utf-8", "backslashreplace")


class AccessLog:
    """Formats records as ``text`` or ``json`` lines and writes them to ``sink``
    (default: stdout's descriptor).  Lines of requests that end in the same event-loop
    iteration are written together, right after it: one ``write(2)`` for many lines
    under load, and no line waits longer than that iteration."""

    def __init__(self, fmt: str = "text", sink: Callable[[bytes], None] | None = None) -> None:
        if fmt not in ("text", "json"):
            raise ValueError(f"access log format must be text or json, not {fmt!r}")
        self.format = fmt
        self._line = self.text_line if fmt == "text" else self.json_line
        self._sink = sink or _write_stdout
        self._pending: list[str] = []
        self._second = -1
        self._stamp = ""

    def write(self, record: AccessRecord) -> None:
        if not self._pending:
            try:
                asyncio.get_running_loop().call_soon(self.flush)
            except RuntimeError:  # no event loop (a direct call): write now
                self._pending.append(self._line(record))
                self.flush()
                return
        self._pending.append(self._line(record))

    def flush(self) -> None:
        lines, self._pending = self._pending, []
        batch: list[bytes] = []
        size = 0
        for line in lines:
            data = line.encode() + b"\n"
            if batch and size + len(data) > PIPE_BUF:
                self._sink(b"".join(batch))
                batch, size = [], 0
            batch.append(data)
            size += len(data)
        if batch:
            self._sink(b"".join(batch))

    def _time(self, t: float) -> str:
        """The seconds part of the time stamp, formatted once per second."""
        second = int(t)
        if second != self._second:
            self._second = second
            if self.format == "text":
                self._stamp = time.strftime("%d/%b/%Y:%H:%M:%S %z", time.localtime(second))
            else:
                self._stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        return self._stamp

    def text_line(self, r: AccessRecord) -> str:
        user = "-" if r.user is None else escape(r.user.encode(), space=True)
        referer = "-" if r.referer is None else escape(r.referer)
        agent = "-" if r.user_agent is None else escape(r.user_agent)
        return (
            f'{r.client} - {user} [{self._time(r.time)}] '
            f'"{escape(r.method.encode())} {escape(r.target)} HTTP/{r.http_version}" '
            f'{r.status} {r.bytes_out} "{referer}" "{agent}" {r.bytes_in} {r.duration_ms:.3f}'
        )

    def json_line(self, r: AccessRecord) -> str:
        millis = int((r.time % 1) * 1000)
        return json.dumps({
            "time": f"{self._time(r.time)}.{millis:03d}Z",
            "client": r.client,
            "user": r.user if r.user is not None else "-",
            "method": r.method,
            "path": r.target.decode("utf-8", "backslashreplace"),
            "http_version": r.http_version,
            "status": r.status,
            "bytes_out": r.bytes_out,
            "bytes_in": r.bytes_in,
            "duration_ms": round(r.duration_ms, 3),
            "referer": _text(r.referer),
            "user_agent": _text(r.user_agent),
        }, separators=(",", ":"))  # fmt: skip


def _write_stdout(data: bytes) -> None:
    """All of ``data`` to descriptor 1, past Python's buffers (one call when it fits the
    pipe: a blocking write of up to ``PIPE_BUF`` bytes is whole)."""
    sys.stdout.flush()  # anything printed before goes first
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
