"""The values a mock scenario is made of: matchers, canned replies, expectations.

What it holds: frozen dataclasses built once by :mod:`davbind.mock.loader` from a
scenario file and never changed afterwards; the mutable bookkeeping (which expectation
was met how often) lives in :mod:`davbind.mock.ledger`.

The rules kept here:

- A :class:`Matcher` compares one expected value with what a request carried: a plain
  string compares exactly, a string starting with ``re:`` is a Python regular
  expression searched in the value (``re.search``; anchor it with ``^…$``), ``True``
  means "present", ``False`` "absent".  An absent header is compared as ``""``, so a
  negative look-ahead such as ``re:^(?!.*bind)`` also accepts a request without it.
- Paths compare exactly as sent, or equal once both are percent-decoded (``/café/``
  in a scenario matches ``/caf%C3%A9/`` and ``/caf%c3%a9/``); a ``re:`` path is
  searched in the raw path as sent.  An exact path containing ``?`` also compares the
  query string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

Mode = Literal["ordered", "keyed"]
GenerateKind = Literal["multistatus", "raw"]

REGEX_PREFIX = "re:"
MULTISTATUS_HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">\n'
MULTISTATUS_TAIL = "</D:multistatus>\n"
EXPANSIONS = ("origin", "host", "path")  # ${name} in reply bodies and header values


@dataclass(frozen=True, slots=True)
class Matcher:
    """One expected value: exact text, a ``re:`` pattern, or presence (``True``/``False``)."""

    source: str | bool
    pattern: re.Pattern[str] | None = None

    @classmethod
    def of(cls, source: str | bool) -> Matcher:
        """Compile ``source``; ``re.error`` for a bad pattern."""
        if isinstance(source, str) and source.startswith(REGEX_PREFIX):
            return cls(source, re.compile(source[len(REGEX_PREFIX):]))
        return cls(source)

    def matches(self, value: str | None) -> bool:
        """Whether a header value (``None`` when absent) is the expected one."""
        if isinstance(self.source, bool):
            return (value is not None) == self.source
        text = value if value is not None else ""
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return text == self.source

    def found_in(self, text: str) -> bool:
        """Whether a request body contains the expected text (or matches the pattern)."""
        if self.pattern is not None:
            return self.pattern.search(text) is not None
        return str(self.source) in text

    def matches_path(self, raw_path: str) -> bool:
        """Whether a raw request path (as sent, percent-encoded) is the expected one."""
        if self.pattern is not None:
            return self.pattern.search(raw_path) is not None
        expected = str(self.source)
        return raw_path == expected or unquote(raw_path) == unquote(expected)

    def show(self) -> str:
        if isinstance(self.source, bool):
            return "<present>" if self.source else "<absent>"
        return self.source

    def quoted(self) -> str:
        """For messages: exact text in quotes, a ``re:`` pattern as written in the
        scenario (``repr`` would double its backslashes), presence as ``<present>``."""
        if isinstance(self.source, bool) or self.pattern is not None:
            return self.show()
        return repr(self.source)


@dataclass(frozen=True, slots=True)
class Generate:
    """A body produced item by item while it is sent, never held whole in memory.

    The body is ``head + prefix + template*count + suffix + tail``; ``head`` and
    ``tail`` open and close a ``DAV:multistatus`` for kind ``multistatus`` and are empty
    for kind ``raw``.  ``template`` is a ``str.format`` string with ``{i}`` (0-based)
    and ``{n}`` (1-based), where ``${origin}``, ``${host}`` and ``${path}`` work as in
    other bodies; ``batch`` items go into one chunk.
    """

    kind: GenerateKind
    count: int
    template: str
    prefix: str = ""
    suffix: str = ""
    batch: int = 500

    @property
    def format_string(self) -> str:
        """``template`` with ``${origin}``/``${host}``/``${path}`` as format fields, so the
        values are inserted by ``str.format`` itself (braces in them stay literal)."""
        text = self.template
        for name in EXPANSIONS:
            text = text.replace("${" + name + "}", "{" + name + "}")
        return text

    @property
    def head(self) -> str:
        return MULTISTATUS_HEAD if self.kind == "multistatus" else ""

    @property
    def tail(self) -> str:
        return MULTISTATUS_TAIL if self.kind == "multistatus" else ""


@dataclass(frozen=True, slots=True)
class Reply:
    """The canned response of one expectation.

    ``body`` is the inline text or the content of ``body_file`` (read when the scenario
    is loaded), sent in ``chunks`` pieces; ``generate`` replaces it for huge bodies.
    ``${origin}`` (``http://host:port`` as the client addressed the mock), ``${host}``
    and ``${path}`` (the raw request path) are expanded in the body and in header values
    at request time.
    """

    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    chunks: int = 1
    generate: Generate | None = None


@dataclass(frozen=True, slots=True)
class Expectation:
    """One expected request and its reply; ``times`` 0 means "any number, none required"."""

    index: int  # 1-based position in the scenario file
    method: str
    path: Matcher
    reply: Reply
    headers: tuple[tuple[str, Matcher], ...] = ()  # lower-case names
    body_contains: tuple[Matcher, ...] = ()
    times: int = 1

    def request_line(self, origin: str) -> str:
        """What a client must send, with the full URL: ``PROPFIND http://h:p/Coll/
        [depth: infinity] (once)``; a ``re:`` path is shown as the pattern."""
        path = self.path.show()
        target = f"{origin}{path}" if self.path.pattern is None else f"{origin} + path {path}"
        text = f"{self.method} {target}"
        if self.headers:
            text += " [" + ", ".join(f"{k}: {m.show()}" for k, m in self.headers) + "]"
        if self.body_contains:
            text += " body with " + ", ".join(m.quoted() for m in self.body_contains)
        return f"{text} ({_times(self.times)})"

    @property
    def label(self) -> str:
        """``#2 PROPFIND /Coll/ [depth: infinity, dav: re:\\bbind\\b]``"""
        text = f"#{self.index} {self.method} {self.path.show()}"
        if self.headers:
            text += " [" + ", ".join(f"{k}: {m.show()}" for k, m in self.headers) + "]"
        return text


def _times(times: int) -> str:
    if times == 0:
        return "any number of times, optional"
    return "once" if times == 1 else f"{times} times"


@dataclass(frozen=True, slots=True)
class Scenario:
    """A scenario file: expectations matched in order or by key, strict or lenient."""

    name: str
    expectations: tuple[Expectation, ...]
    description: str = ""
    mode: Mode = "keyed"
    strict: bool = True
    source: str = "<string>"
