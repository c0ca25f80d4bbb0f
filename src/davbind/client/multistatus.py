"""Reading WebDAV response bodies: the multistatus, incrementally, and error bodies.

What it holds: :class:`MultistatusParser`, fed with chunks of a 207 body, hands back each
``<D:response>`` (RFC 4918 §13, §14.16, §14.24) as a frozen :class:`Response` as soon as
its end tag is read and then forgets it, so a body of any length is parsed in bounded
memory; :func:`parse_error_body` for ``<D:error>`` bodies (RFC 4918 §16) and
:func:`lock_timeout` for LOCK answers (§9.10, §14.29).

The rules it keeps:

- Untrusted XML: expat with a DOCTYPE, any entity declaration or external reference
  refused at its first token (the defusedxml settings, RFC 4918 §20.6), raised as
  :class:`ForbiddenXML`.  A body cut off before ``</D:multistatus>`` raises
  :class:`TruncatedResponse`; other malformed XML :class:`ProtocolError`.
- Lenient on content, as RFC 4918 §17 asks: unknown elements are skipped, a status line
  that is not ``HTTP/x.y NNN ...`` gives ``status=None``, any namespace prefix works
  (names are matched as namespace URI + local name).
- Both 208 forms of RFC 5842 §7.1 are kept as sent: ``Response.status`` is the
  response-level status (the bare form), ``PropStat.status`` the propstat one.  Deciding
  what they mean is ``listing``'s job.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import NoReturn
from xml.etree.ElementTree import Element, TreeBuilder, tostring
from xml.parsers import expat

from davbind.client.errors import ForbiddenXML, ProtocolError, TruncatedResponse

CHUNK = 64 * 1024
_SEP = "}"
_D = "DAV:" + _SEP
_STATUS = re.compile(r"^\s*HTTP/\d+(?:\.\d+)?\s+(\d{3})\b")
_BARE_STATUS = re.compile(r"^\s*(\d{3})\b")
_STATUS_PREFIX = re.compile(r"^\d{3}(?: [A-Za-z -]*)?:\s*")  # "404 Not Found: why" -> "why"


@dataclass(frozen=True, slots=True)
class PropValue:
    """A property value: its character data, and its XML when it has child elements."""

    text: str
    xml: str | None = None  # standalone fragment (namespaces declared) or None for text
    children: tuple[str, ...] = ()  # Clark names of the child elements
    hrefs: tuple[str, ...] = ()  # every DAV:href inside, in document order


@dataclass(frozen=True, slots=True)
class PropStat:
    """One ``<D:propstat>`` (RFC 4918 §14.22): properties sharing one status."""

    status: int | None
    props: Mapping[str, PropValue] = field(default_factory=dict)
    conditions: tuple[str, ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class Response:
    """One ``<D:response>`` (RFC 4918 §14.24), hrefs exactly as the server wrote them."""

    hrefs: tuple[str, ...]
    status: int | None = None  # the response-level status (status form)
    propstats: tuple[PropStat, ...] = ()
    conditions: tuple[str, ...] = ()
    description: str = ""
    location: str | None = None

    @property
    def href(self) -> str:
        return self.hrefs[0] if self.hrefs else ""


@dataclass(frozen=True, slots=True)
class Parent:
    """One ``<D:parent>`` of ``DAV:parent-set`` (RFC 5842 §3.2)."""

    href: str
    segment: str


def parse_status(line: str) -> int | None:
    """``HTTP/1.1 208 Already Reported`` -> 208; a bare ``208 ...`` is accepted too."""
    match = _STATUS.match(line) or _BARE_STATUS.match(line)
    return int(match.group(1)) if match else None


def _clark(name: str) -> str:
    return "{" + name if _SEP in name else name


def _forbid(*_args: object) -> NoReturn:
    raise ForbiddenXML("DTDs, entity declarations and external entities are refused")


def hardened_parser() -> expat.XMLParserType:
    """A namespace-aware expat parser that refuses DTDs, entities and external refs."""
    parser = expat.ParserCreate(namespace_separator=_SEP)
    parser.StartDoctypeDeclHandler = _forbid
    parser.EntityDeclHandler = _forbid
    parser.UnparsedEntityDeclHandler = _forbid
    parser.ExternalEntityRefHandler = _forbid
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.buffer_text = True
    return parser


_TEXT_MODES = frozenset(
    {"href", "status", "desc", "lochref", "mdesc", "token", "pstatus", "pdesc", "property"}
)


class MultistatusParser:
    """Incremental ``<D:multistatus>`` reader: ``feed()`` chunks, get finished responses."""

    def __init__(self) -> None:
        self._parser = hardened_parser()
        self._parser.StartElementHandler = self._start
        self._parser.EndElementHandler = self._end
        self._parser.CharacterDataHandler = self._data
        self._modes: list[str] = []
        self._text: list[str] = []
        self._ready: list[Response] = []
        self._done = False
        self.description = ""
        self.sync_token: str | None = None
        self._reset_response()

    def _reset_response(self) -> None:
        self._hrefs: list[str] = []
        self._status: int | None = None
        self._propstats: list[PropStat] = []
        self._conditions: list[str] = []
        self._rdesc = ""
        self._location: str | None = None
        self._reset_propstat()

    def _reset_propstat(self) -> None:
        self._pstatus: int | None = None
        self._props: dict[str, PropValue] = {}
        self._pconditions: list[str] = []
        self._pdesc = ""
        self._builder: TreeBuilder | None = None
        self._prop_name = ""
        self._prop_attrs: dict[str, str] = {}

    # ------------------------------------------------------------------ expat handlers

    def _start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self._modes[-1] if self._modes else "doc"
        mode = "skip"
        if parent == "doc":
            if name != _D + "multistatus":
                raise ProtocolError(f"expected <D:multistatus>, got <{_clark(name)}>")
            mode = "ms"
        elif parent == "ms":
            mode = {
                _D + "response": "resp",
                _D + "responsedescription": "mdesc",
                _D + "sync-token": "token",
            }.get(name, "skip")
        elif parent == "resp":
            mode = {
                _D + "href": "href",
                _D + "status": "status",
                _D + "propstat": "ps",
                _D + "error": "err",
                _D + "responsedescription": "desc",
                _D + "location": "loc",
            }.get(name, "skip")
        elif parent == "ps":
            mode = {
                _D + "prop": "prop",
                _D + "status": "pstatus",
                _D + "error": "perr",
                _D + "responsedescription": "pdesc",
            }.get(name, "skip")
        elif parent == "prop":
            mode = "property"
            self._prop_name = _clark(name)
            self._prop_attrs = {_clark(k): v for k, v in attrs.items()}
        elif parent in ("property", "nested"):
            mode = "nested"
            if self._builder is None:
                self._builder = TreeBuilder()
                self._builder.start(self._prop_name, self._prop_attrs)
                self._builder.data("".join(self._text))
            self._builder.start(_clark(name), {_clark(k): v for k, v in attrs.items()})
        elif parent == "err":
            self._conditions.append(name.rpartition(_SEP)[2] if name.startswith(_D) else name)
        elif parent == "perr":
            self._pconditions.append(name.rpartition(_SEP)[2] if name.startswith(_D) else name)
        elif parent == "loc" and name == _D + "href":
            mode = "lochref"
        if mode in _TEXT_MODES:
            self._text = []
        self._modes.append(mode)

    def _data(self, data: str) -> None:
        mode = self._modes[-1] if self._modes else "doc"
        if mode == "nested" and self._builder is not None:
            self._builder.data(data)
        elif mode in _TEXT_MODES:
            if mode == "property" and self._builder is not None:
                self._builder.data(data)
            else:
                self._text.append(data)

    def _end(self, name: str) -> None:
        mode = self._modes.pop()
        if mode == "nested" and self._builder is not None:
            self._builder.end(_clark(name))
        elif mode == "property":
            self._props[self._prop_name] = self._finish_property()
        elif mode in ("href", "status", "desc", "lochref", "pstatus", "pdesc", "mdesc", "token"):
            self._end_text(mode, "".join(self._text))
            self._text = []
        elif mode == "ps":
            self._propstats.append(
                PropStat(self._pstatus, self._props, tuple(self._pconditions), self._pdesc)
            )
            self._reset_propstat()
        elif mode == "resp":
            self._ready.append(
                Response(
                    tuple(self._hrefs),
                    self._status,
                    tuple(self._propstats),
                    tuple(self._conditions),
                    self._rdesc,
                    self._location,
                )
            )
            self._reset_response()
        elif mode == "ms":
            self._done = True

    def _end_text(self, mode: str, text: str) -> None:
        if mode == "href":
            self._hrefs.append(text.strip())
        elif mode == "status":
            self._status = parse_status(text)
        elif mode == "pstatus":
            self._pstatus = parse_status(text)
        elif mode == "desc":
            self._rdesc = text.strip()
        elif mode == "pdesc":
            self._pdesc = text.strip()
        elif mode == "lochref":
            self._location = text.strip()
        elif mode == "mdesc":
            self.description = text.strip()
        else:
            self.sync_token = text.strip()

    def _finish_property(self) -> PropValue:
        builder, self._builder = self._builder, None
        if builder is None:
            return PropValue("".join(self._text))
        builder.end(self._prop_name)
        elem: Element = builder.close()
        children = tuple(child.tag for child in elem)
        hrefs = tuple((h.text or "").strip() for h in elem.iter("{DAV:}href"))
        text = "".join(elem.itertext()).strip()
        return PropValue(text, tostring(elem, encoding="unicode"), children, hrefs)

    # ------------------------------------------------------------------ public API

    def feed(self, data: bytes) -> list[Response]:
        """Parse one chunk; return the responses completed by it (in document order)."""
        try:
            self._parser.Parse(data, False)
        except expat.ExpatError as exc:
            raise ProtocolError(f"multistatus is not well-formed XML: {exc}") from exc
        ready, self._ready = self._ready, []
        return ready

    def close(self) -> list[Response]:
        """End of body: the last responses; TruncatedResponse if the document is cut."""
        try:
            self._parser.Parse(b"", True)
        except expat.ExpatError as exc:
            if exc.code in (
                expat.errors.codes[expat.errors.XML_ERROR_NO_ELEMENTS],
                expat.errors.codes[expat.errors.XML_ERROR_UNCLOSED_TOKEN],
            ):
                raise TruncatedResponse("multistatus body ends before </D:multistatus>") from exc
            raise ProtocolError(f"multistatus is not well-formed XML: {exc}") from exc
        if not self._done:
            raise TruncatedResponse("multistatus body ends before </D:multistatus>")
        ready, self._ready = self._ready, []
        return ready


def iter_responses(chunks: Iterable[bytes]) -> Iterator[Response]:
    """Responses of a multistatus arriving as ``chunks``, one at a time."""
    parser = MultistatusParser()
    for chunk in chunks:
        yield from parser.feed(chunk)
    yield from parser.close()


async def aiter_responses(chunks: AsyncIterable[bytes]) -> AsyncIterator[Response]:
    """The async twin of :func:`iter_responses`."""
    parser = MultistatusParser()
    async for chunk in chunks:
        for response in parser.feed(chunk):
            yield response
    for response in parser.close():
        yield response


def slices(body: bytes, size: int = CHUNK) -> Iterator[bytes]:
    """A whole body as chunks, so even an in-memory body is parsed incrementally."""
    view = memoryview(body)
    for start in range(0, len(body), size):
        yield bytes(view[start : start + size])


def parse_multistatus(body: bytes) -> list[Response]:
    """Every response of a complete multistatus body."""
    return list(iter_responses(slices(body)))


def _small_tree(body: bytes) -> Element | None:
    """A small trusted-shape body as an element tree, hardened; None if unreadable."""
    builder = TreeBuilder()
    parser = hardened_parser()
    parser.StartElementHandler = lambda n, a: builder.start(
        _clark(n), {_clark(k): v for k, v in a.items()}
    )
    parser.EndElementHandler = lambda n: builder.end(_clark(n))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(body, True)
        root: Element = builder.close()
    except (expat.ExpatError, ForbiddenXML, AssertionError, IndexError):
        return None
    return root


def parse_error_body(body: bytes, content_type: str | None) -> tuple[tuple[str, ...], str]:
    """(condition names, message) of an error response (RFC 4918 §16); lenient.

    ``DAV:`` children of ``<D:error>`` are conditions (local names); the message is a
    ``responsedescription`` or davbind's ``message`` element, or for a text body its first
    non-empty line.  An unreadable body gives ``((), "")``.
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    head = body[: 256 * 1024]
    if media.endswith("xml") or head.lstrip().startswith(b"<"):
        root = _small_tree(head)
        if root is None or root.tag != "{DAV:}error":
            return (), ""
        conditions = tuple(
            child.tag[len("{DAV:}") :] if child.tag.startswith("{DAV:}") else child.tag
            for child in root
            if child.tag not in ("{DAV:}responsedescription", "{urn:davbind}message")
        )
        message = root.findtext("{urn:davbind}message") or root.findtext(
            "{DAV:}responsedescription"
        )
        return conditions, (message or "").strip()[:500]
    if media.startswith("text/"):
        for line in head.decode("utf-8", errors="replace").splitlines():
            if line.strip() and not line.lstrip().startswith("<"):
                return (), _STATUS_PREFIX.sub("", line.strip(), count=1)[:500]
    return (), ""


def lock_timeout(body: bytes) -> str | None:
    """The ``DAV:timeout`` of the first active lock in a LOCK answer (RFC 4918 §9.10.1)."""
    root = _small_tree(body)
    if root is None:
        return None
    found = root.find(".//{DAV:}activelock/{DAV:}timeout")
    return (found.text or "").strip() if found is not None else None


def parse_parent_set(value: PropValue) -> tuple[Parent, ...]:
    """The parents in a ``DAV:parent-set`` value (RFC 5842 §3.2)."""
    if value.xml is None:
        return ()
    root = _small_tree(value.xml.encode())
    if root is None:
        return ()
    return tuple(
        Parent((p.findtext("{DAV:}href") or "").strip(), (p.findtext("{DAV:}segment") or ""))
        for p in root.iter("{DAV:}parent")
    )
