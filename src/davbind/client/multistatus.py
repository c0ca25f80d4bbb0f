"""Reading WebDAV response bodies: the multistatus, incrementally, and error bodies.

What it holds: :class:`MultistatusParser`, fed with chunks of a 207 body, hands back each
``<D:response>`` (RFC 4918 §13, §14.16, §14.24) as a frozen :class:`Response` as soon as
its end tag is read and then forgets it, so a body of any length is parsed in bounded
memory; :func:`parse_error_body` for ``<D:error>`` bodies (RFC 4918 §16) and
:func:`lock_timeout` for LOCK answers (§9.10, §14.29).

The rules it keeps:

- Untrusted XML: a DOCTYPE, any entity declaration or external reference is refused at
  its first token (the defusedxml settings, RFC 4918 §20.6) and raised as
  :class:`ForbiddenXML` — the multistatus prolog is checked by a hardened expat before
  the C-accelerated ``XMLPullParser`` builds anything (see :class:`MultistatusParser`).
  A body cut off before ``</D:multistatus>`` raises :class:`TruncatedResponse`; other
  malformed XML :class:`ProtocolError`.
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
from typing import NoReturn, cast
from xml.etree.ElementTree import Element, ParseError, TreeBuilder, XMLPullParser, tostring
from xml.parsers import expat

from davbind.client.errors import ForbiddenXML, ProtocolError, TruncatedResponse

CHUNK = 64 * 1024
_SEP = "}"  # expat's namespace separator, as ElementTree uses it
_STATUS = re.compile(r"^\s*HTTP/\d+(?:\.\d+)?\s+(\d{3})\b")
_BARE_STATUS = re.compile(r"^\s*(\d{3})\b")
_STATUS_PREFIX = re.compile(r"^\d{3}(?: [A-Za-z -]*)?:\s*")  # "404 Not Found: why" -> "why"


@dataclass(frozen=True, slots=True)
class PropValue:
    """A property value: its character data, and its element when it has child elements.

    ``element`` is kept as parsed (treat it as read-only); ``xml`` serialises it on demand,
    so a listing of many resources does not pay for strings nobody reads.
    """

    text: str
    children: tuple[str, ...] = ()  # Clark names of the child elements
    hrefs: tuple[str, ...] = ()  # every DAV:href inside, in document order
    element: Element | None = field(default=None, repr=False, compare=False)

    @property
    def xml(self) -> str | None:
        """The value as a standalone XML fragment (namespaces declared), or None for text."""
        return None if self.element is None else tostring(self.element, encoding="unicode")


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


_MULTISTATUS = "{DAV:}multistatus"
_RESPONSE = "{DAV:}response"
_HREF = "{DAV:}href"
_STATUS_EL = "{DAV:}status"
_PROPSTAT = "{DAV:}propstat"
_PROP = "{DAV:}prop"
_ERROR = "{DAV:}error"
_DESCRIPTION = "{DAV:}responsedescription"
_LOCATION = "{DAV:}location"
_SYNC_TOKEN = "{DAV:}sync-token"


class _RootSeen(Exception):
    """Raised by the prolog guard when the root element starts: the guard's job is done."""


def _root_seen(*_args: object) -> NoReturn:
    raise _RootSeen


def _condition_names(error: Element) -> tuple[str, ...]:
    return tuple(c.tag[6:] if c.tag.startswith("{DAV:}") else c.tag for c in error)


def _text(elem: Element) -> str:
    return "".join(elem.itertext()).strip()


def element_value(prop: Element) -> PropValue:
    if len(prop) == 0:
        return PropValue(prop.text or "")
    prop.tail = None  # the element is kept (PropValue.xml); its tail is not part of it
    hrefs = tuple((h.text or "").strip() for h in prop.iter(_HREF))
    return PropValue(_text(prop), tuple(c.tag for c in prop), hrefs, prop)


def _propstat(elem: Element) -> PropStat:
    status: int | None = None
    props: dict[str, PropValue] = {}
    conditions: tuple[str, ...] = ()
    description = ""
    for child in elem:
        tag = child.tag
        if tag == _PROP:
            for prop in child:
                props[prop.tag] = element_value(prop)
        elif tag == _STATUS_EL:
            status = parse_status(child.text or "")
        elif tag == _ERROR:
            conditions = _condition_names(child)
        elif tag == _DESCRIPTION:
            description = _text(child)
    return PropStat(status, props, conditions, description)


def _response(elem: Element) -> Response:
    hrefs: list[str] = []
    status: int | None = None
    propstats: list[PropStat] = []
    conditions: tuple[str, ...] = ()
    description = ""
    location: str | None = None
    for child in elem:  # unknown children are ignored (RFC 4918 §17)
        tag = child.tag
        if tag == _HREF:
            hrefs.append((child.text or "").strip())
        elif tag == _PROPSTAT:
            propstats.append(_propstat(child))
        elif tag == _STATUS_EL:
            status = parse_status(child.text or "")
        elif tag == _ERROR:
            conditions = _condition_names(child)
        elif tag == _DESCRIPTION:
            description = _text(child)
        elif tag == _LOCATION:
            location = (child.findtext(_HREF) or "").strip() or None
    return Response(tuple(hrefs), status, tuple(propstats), conditions, description, location)


class MultistatusParser:
    """Incremental ``<D:multistatus>`` reader: ``feed()`` chunks, get finished responses.

    Two expat parsers see the bytes.  A guard with the defusedxml settings reads the
    prolog and stops at the root element's start tag: a DOCTYPE can only stand before it
    (XML 1.0 §2.8), so once the root has started no entity can ever be declared and any
    entity reference is an error.  The C-accelerated ``XMLPullParser`` builds each
    ``<D:response>``; when its end tag is read it becomes a :class:`Response` and the
    element is removed from the tree, so memory holds one response at a time.
    """

    def __init__(self) -> None:
        self._guard: expat.XMLParserType | None = hardened_parser()
        self._guard.StartElementHandler = _root_seen
        self._pull: XMLPullParser[Element] = XMLPullParser(events=("start", "end"))
        self._root: Element | None = None
        self._depth = 0
        self._done = False
        self.description = ""
        self.sync_token: str | None = None

    def _check_prolog(self, data: bytes, final: bool) -> None:
        if self._guard is None:
            return
        try:
            self._guard.Parse(data, final)
        except _RootSeen:
            self._guard = None
        except expat.ExpatError:
            self._guard = None  # the pull parser reports the same error in its own words

    def _drain(self) -> list[Response]:
        ready: list[Response] = []
        for pair in self._pull.read_events():
            # only "start"/"end" events were asked for: (event, element) pairs
            event, elem = cast(tuple[str, Element], pair)
            if event == "start":
                self._depth += 1
                if self._depth == 1:
                    if elem.tag != _MULTISTATUS:
                        raise ProtocolError(f"expected <D:multistatus>, got <{elem.tag}>")
                    self._root = elem
                continue
            self._depth -= 1
            if self._depth == 1 and self._root is not None:
                tag = elem.tag
                if tag == _RESPONSE:
                    ready.append(_response(elem))
                elif tag == _DESCRIPTION:
                    self.description = _text(elem)
                elif tag == _SYNC_TOKEN:
                    self.sync_token = _text(elem)
                self._root.remove(elem)  # the only child left: O(1), memory stays flat
            elif self._depth == 0:
                self._done = True
        return ready

    def feed(self, data: bytes) -> list[Response]:
        """Parse one chunk; return the responses completed by it (in document order)."""
        self._check_prolog(data, False)
        try:
            self._pull.feed(data)
            return self._drain()  # a syntax error is queued as an event and raised here
        except ParseError as exc:
            raise ProtocolError(f"multistatus is not well-formed XML: {exc}") from exc

    def close(self) -> list[Response]:
        """End of body: the last responses; TruncatedResponse if the document is cut."""
        self._check_prolog(b"", True)
        try:
            self._pull.close()
            ready = self._drain()
        except ParseError as exc:
            if exc.code in _TRUNCATION_CODES:
                raise TruncatedResponse("multistatus body ends before </D:multistatus>") from exc
            raise ProtocolError(f"multistatus is not well-formed XML: {exc}") from exc
        if not self._done:
            raise TruncatedResponse("multistatus body ends before </D:multistatus>")
        return ready


_TRUNCATION_CODES = frozenset(
    expat.errors.codes[m]
    for m in (expat.errors.XML_ERROR_NO_ELEMENTS, expat.errors.XML_ERROR_UNCLOSED_TOKEN)
)


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


def small_tree(body: bytes) -> Element | None:
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
        root = small_tree(head)
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
    root = small_tree(body)
    if root is None:
        return None
    found = root.find(".//{DAV:}activelock/{DAV:}timeout")
    return (found.text or "").strip() if found is not None else None


def parse_parent_set(value: PropValue) -> tuple[Parent, ...]:
    """The parents in a ``DAV:parent-set`` value (RFC 5842 §3.2)."""
    root = value.element
    if root is None:
        return ()
    return tuple(
        Parent((p.findtext("{DAV:}href") or "").strip(), (p.findtext("{DAV:}segment") or ""))
        for p in root.iter("{DAV:}parent")
    )
