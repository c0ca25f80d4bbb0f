"""Every client operation once, without I/O: generators that yield requests.

The rule kept here: ``Client`` and ``AsyncClient`` only move bytes.  Each operation is a
generator that yields an :class:`Exchange` (the request, an upload to stream with it,
and where a streamed answer body should go) and is sent back the :class:`Reply`; it
returns the operation's result.  A shell runs it with ``run`` — a loop that performs
each exchange and sends the reply in, or throws the failure in — blocking or with
``await``; the protocol logic (what to ask, what the answer means, when a walk falls
back to Depth 1) is written once, here, on top of the builders and interpreters of
``messages``.

RFC 4918 §9 (methods), RFC 5842 §4–§8 (bindings, 208, ``DAV: bind``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Generic, Protocol, TypeVar
from urllib.parse import urlsplit

from davbind.client import messages, placement
from davbind.client.errors import (
    MethodNotAllowed,
    NotFound,
    StatusError,
    TruncatedResponse,
)
from davbind.client.hrefs import normalize_path, parent_href, path_url
from davbind.client.listing import PARENT_SET, Entry, Folder, Listing
from davbind.client.messages import LIST_PROPS, LockToken, Request
from davbind.client.multistatus import MultistatusParser, Response, lock_timeout
from davbind.client.multistatus_json import JsonMultistatusParser, is_json
from davbind.client.reported import RESOURCE_ID
from davbind.client.transfer import (
    Meter,
    Progress,
    Sink,
    Source,
    Upload,
    content_length,
    open_sink,
    open_source,
)
from davbind.client.walker import Depth1Walk

T = TypeVar("T")


class Consumer(Protocol):
    """Where a streamed answer body goes, chunk by chunk, as it arrives."""

    def start(self, headers: Mapping[str, str]) -> None: ...

    def feed(self, chunk: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request to perform.  With ``consumer`` a successful answer's body is streamed
    into it (and ``Reply.content`` is empty); any other answer is read whole."""

    request: Request
    upload: Upload | None = None
    progress: Progress | None = None
    consumer: Consumer | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What came back: status, headers and (unless streamed) the body."""

    status: int
    headers: Mapping[str, str]
    content: bytes = b""


#: An operation: yields exchanges, is sent their replies, returns its result.
Op = Generator[Exchange, Reply, T]


class Run(Generic[T]):
    """One operation being driven by a shell: ``pending`` is the exchange to perform
    next (None once finished), ``resume`` hands in its reply or its failure, ``result``
    is what the operation returned.  As a context manager it closes the operation on
    the way out, so an interrupted one still cleans up (a partial download is removed).
    """

    def __init__(self, op: Op[T]) -> None:
        self._op = op
        self._result: tuple[T] | None = None
        self.pending: Exchange | None = None
        self._step(lambda: next(op))

    def _step(self, advance: Callable[[], Exchange]) -> None:
        try:
            self.pending = advance()
        except StopIteration as stop:
            self.pending = None
            self._result = (stop.value,)

    def resume(self, outcome: Reply | Exception) -> None:
        if isinstance(outcome, Exception):
            self._step(lambda: self._op.throw(outcome))
        else:
            self._step(lambda: self._op.send(outcome))

    @property
    def result(self) -> T:
        if self._result is None:
            raise RuntimeError("the operation has not finished")
        return self._result[0]

    def __enter__(self) -> Run[T]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._op.close()


def consumer_for(exchange: Exchange, status: int) -> Consumer | None:
    """Where the answer body goes as it arrives: a success's to the exchange's consumer;
    None means read it whole (an error body, for :func:`judge`)."""
    return exchange.consumer if status in exchange.request.expect else None


def judge(exchange: Exchange, reply: Reply) -> None:
    """Raise the typed error unless ``reply`` means success (``messages.check``)."""
    request = exchange.request
    messages.check(request, reply.status, reply.headers.get("content-type"), reply.content)


def send(exchange: Exchange) -> Op[Reply]:
    """Perform ``exchange``; raise the typed error unless its status means success."""
    reply = yield exchange
    judge(exchange, reply)
    return reply


def status_of(request: Request) -> Op[int]:
    return (yield from send(Exchange(request))).status


def done(request: Request) -> Op[None]:
    yield from send(Exchange(request))


class Multistatus:
    """A consumer that parses a 207 body while it arrives, handing each response on:
    the XML multistatus, or davbind's JSON form when the answer's Content-Type says so."""

    def __init__(self, add: Callable[[Response], None]) -> None:
        self.parser: MultistatusParser | JsonMultistatusParser = MultistatusParser()
        self._add = add

    def start(self, headers: Mapping[str, str]) -> None:
        if is_json(headers.get("content-type")):
            self.parser = JsonMultistatusParser()

    def feed(self, chunk: bytes) -> None:
        for item in self.parser.feed(chunk):
            self._add(item)

    def finish(self) -> None:
        for item in self.parser.close():
            self._add(item)


class Download:
    """A consumer that writes a GET body to ``out``, metering progress."""

    def __init__(self, out: IO[bytes], progress: Progress | None) -> None:
        self._out = out
        self._progress = progress
        self.meter: Meter | None = None

    def start(self, headers: Mapping[str, str]) -> None:
        self.meter = Meter(content_length(headers.get("content-length")), self._progress)

    def feed(self, chunk: bytes) -> None:
        self._out.write(chunk)
        if self.meter is not None:
            self.meter.add(chunk)


def responses(request: Request) -> Op[list[Response]]:
    """Every response of one PROPFIND (for a Depth-1 step of a walk)."""
    items: list[Response] = []
    sink = Multistatus(items.append)
    yield from send(Exchange(request, consumer=sink))
    sink.finish()
    return items


# --------------------------------------------------------------------------- reading


def options(url: str) -> Op[frozenset[str]]:
    reply = yield from send(Exchange(messages.options(url)))
    return messages.dav_classes(reply.headers)


def propfind(
    url: str, depth: str, props: Sequence[str] | None = LIST_PROPS, include: Sequence[str] = ()
) -> Op[Listing]:
    """One PROPFIND folded into a :class:`Listing` while its body arrives."""
    request = messages.propfind(url, depth, props, include=include, prefer_json=True)
    folder = Folder(request.url)
    sink = Multistatus(folder.add)
    yield from send(Exchange(request, consumer=sink))
    sink.finish()
    folder.description = sink.parser.description
    return folder.listing()


def info(url: str) -> Op[Entry]:
    """All properties of one resource, and where it lives (``placement``): every path
    through its ``DAV:parent-set`` (or, without one, its parent's listing), and whether
    it is on a binding loop (also asking its ancestors' ``DAV:resource-id``)."""
    listing = yield from propfind(url, "0", None, messages.INFO_INCLUDE)
    entry = listing.root or (listing.entries[0] if listing.entries else None)
    if entry is None:
        raise NotFound(404, method="PROPFIND", url=url, message="empty answer")
    if not entry.href.startswith("/"):  # answered for another origin: nothing to add
        return entry
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    ids: list[str | None] = []
    if entry.collection and entry.resource_id is not None:  # only a collection can loop
        for above in placement.ancestors(entry.href):
            with contextlib.suppress(StatusError):
                found = yield from propfind(origin + above, "0", [RESOURCE_ID])
                ids.append(found.root.resource_id if found.root is not None else None)
    siblings = None
    parent = parent_href(entry.href)
    if PARENT_SET not in entry.props and parent is not None:
        with contextlib.suppress(StatusError):
            siblings = yield from propfind(origin + parent, "1")
    return replace(entry, placement=placement.place(entry, url, ids, siblings))


def exists(url: str) -> Op[bool]:
    try:
        yield from propfind(url, "0", [messages.DAV + "resourcetype"])
    except NotFound:
        return False
    return True


def _infinity(url: str, props: Sequence[str]) -> Op[Listing]:
    """The one Depth-infinity PROPFIND; a 507/508 response inside it cuts it short."""
    folder = Folder(url)

    def add(item: Response) -> None:
        if messages.cut_short(item):
            raise TruncatedResponse(f"a response says {item.status}")
        folder.add(item)

    sink = Multistatus(add)
    request = messages.propfind(url, "infinity", props, prefer_json=True)
    yield from send(Exchange(request, consumer=sink))
    sink.finish()
    return folder.listing()


def walk(url: str, props: Sequence[str] = LIST_PROPS, max_depth: int | None = None) -> Op[Listing]:
    """Everything below ``url``, each resource once: one Depth-infinity PROPFIND with
    ``DAV: bind``, or a Depth-1 walk (``walker``) when the server refuses or cuts it."""
    try:
        return (yield from _infinity(url, props))
    except StatusError as exc:
        if not messages.may_fall_back(exc):
            raise
        note = f"Depth: infinity refused ({messages.describe(exc)})"
    except TruncatedResponse as exc:
        note = f"Depth: infinity answer cut short ({exc})"
    steps = Depth1Walk(url, max_depth=max_depth)
    skipped = 0
    while (next_url := steps.next_url()) is not None:
        try:
            step = messages.propfind(next_url, "1", props, prefer_json=True)
            steps.feed((yield from responses(step)))
        except StatusError:
            if steps.requests == 0:
                raise
            steps.feed([])
            skipped += 1
    extra = f", {skipped} collections unreadable" if skipped else ""
    return steps.listing(f"{note}; walked with Depth: 1 ({steps.requests} requests{extra})")


def get(url: str, dest: Sink, progress: Progress | None = None) -> Op[int]:
    """Stream the body into ``dest``; a path is only replaced once the body is whole."""
    with open_sink(dest) as out:
        sink = Download(out, progress)
        yield from send(Exchange(messages.get(url), consumer=sink))
    return sink.meter.done if sink.meter is not None else 0


def cat(url: str, start: int | None = None, end: int | None = None) -> Op[bytes]:
    reply = yield from send(Exchange(messages.get(url, start, end)))
    if start is not None and reply.status == 200:  # the server ignored Range
        return reply.content[start:end]
    return reply.content


# --------------------------------------------------------------------------- writing


def prime_auth(base_url: str) -> Op[None]:
    """Learn the auth scheme before a streamed body that could not be replayed."""
    with contextlib.suppress(StatusError):
        yield from send(Exchange(messages.propfind(base_url, "0", [messages.DAV + "resourcetype"])))


@dataclass(frozen=True, slots=True)
class PutOptions:
    content_type: str | None = None
    progress: Progress | None = None
    overwrite: bool = True
    lock_token: str | None = None


def put(url: str, source: Source, opts: PutOptions, prime: str | None = None) -> Op[int]:
    """Upload ``source`` streamed (201 new, 204 replaced); ``prime``: a URL to probe first
    so an authenticating server's challenge does not meet an unreplayable body."""
    if prime is not None:
        yield from prime_auth(prime)
    with open_source(source) as upload:
        request = messages.put(
            url, content_type=opts.content_type, size=upload.size,
            overwrite=opts.overwrite, lock_token=opts.lock_token,
        )  # fmt: skip
        reply = yield from send(Exchange(request, upload, opts.progress))
    return reply.status


def makedirs(base_url: str, path: str, exist_ok: bool = True) -> Op[None]:
    """MKCOL every missing collection on the way to ``path`` (like ``mkdir -p``)."""
    segments = [s for s in normalize_path(path).split("/") if s]
    for i in range(1, len(segments) + 1):
        prefix = "/" + "/".join(segments[:i]) + "/"
        try:
            yield from done(messages.mkcol(path_url(base_url, prefix)))
        except MethodNotAllowed:  # RFC 4918 §9.3.1: 405 = something is mapped there
            if i == len(segments) and not exist_ok:
                raise


def lock(
    url: str, exclusive: bool, depth: str, timeout: int | None, owner: str | None
) -> Op[LockToken]:
    request = messages.lock(url, exclusive=exclusive, depth=depth, timeout=timeout, owner=owner)
    reply = yield from send(Exchange(request))
    return messages.lock_token(request, reply.headers, lock_timeout(reply.content))


def proppatch(
    url: str, set_props: Mapping[str, str] | None, remove: Iterable[str], lock_token: str | None
) -> Op[None]:
    """Set (text values) and remove properties; all or nothing (RFC 4918 §9.2)."""
    request = messages.proppatch(url, set_props, remove, lock_token=lock_token)
    reply = yield from send(Exchange(request))
    messages.check_proppatch(request, reply.status, reply.content)
