"""What a check works with: the client, its own sub-collection, and recorded evidence.

What it holds: :class:`Context` (the ``davbind.client.Client`` of the run, a plain
``httpx.Client`` for requests whose exact status matters, the scratch collection and the
check's own sub-collection, the server's compliance classes), :class:`Reply` and
:class:`Exchange` (what was sent and answered), and the two exceptions a check raises
through ``ctx.fail`` / ``ctx.skip``.

The rules kept here:

- Every request of a run goes through one recording transport (:class:`Recorder`), the
  client library's included, so a failure always carries evidence: request line, the
  headers that decide WebDAV semantics (Depth, Overwrite, DAV, If, Destination,
  Lock-Token), the status and the first :data:`EXCERPT` bytes of the body.
- A body is never read without a bound (:data:`MAX_BODY`): a server that enumerates a
  binding loop forever (RFC 5842 §2.1.1) makes the reply ``truncated``, not the checker
  hang.
- Paths given to a context are relative to the URL under test (as for ``Client``);
  :meth:`Context.href` turns one into the server path that multistatus hrefs are
  compared with (RFC 4918 §8.3, ``client.hrefs``).
- A request goes with the run's credentials unless it says otherwise: ``anonymous``
  sends none (only headers the check sets itself), ``auth`` another user's
  (:class:`User`, the second user of the ``auth`` checks).
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NoReturn
from urllib.parse import quote, unquote, urlsplit

import httpx

from davbind.client import Client, Listing, LockToken, Response, fold_multistatus
from davbind.client import messages as msg
from davbind.client.errors import DAVClientError
from davbind.client.hrefs import normalize_href
from davbind.client.multistatus import iter_responses, parse_error_body, slices

EXCERPT = 400
MAX_BODY = 4 * 1024 * 1024
DAV = "{DAV:}"
RESOURCE_ID = DAV + "resource-id"
#: Request headers shown in evidence: the ones that change what a WebDAV request means.
SHOWN_HEADERS = ("depth", "overwrite", "dav", "if", "destination", "lock-token", "timeout")
_LOCKTOKEN = re.compile(rb"locktoken>\s*<(?:[\w.-]+:)?href>([^<]+)<", re.IGNORECASE)
#: Namespace of the dead properties the checks write.
CHECK_NS = "urn:davbind:check"
#: Every success status: where any 2xx means "done", the exact code is not judged.
OK = frozenset(range(200, 300))


@dataclass(frozen=True, slots=True)
class User:
    """A user the checks act as besides the run's own: name, credentials, and the URL
    of their own space (None when it is not known)."""

    name: str
    auth: httpx.Auth
    space: str | None


def space_of(url: str, user: str | None, other: str) -> str | None:
    """``url`` with its last path segment named ``user`` renamed ``other`` (the other
    user's space on servers that keep one collection per user, ``/home/alice/`` or
    ``/remote.php/dav/files/alice/``); None when no segment is named ``user``."""
    if not user:
        return None
    parts = urlsplit(url)
    segments = parts.path.split("/")
    named = [i for i, seg in enumerate(segments) if unquote(seg) == user]
    if not named:
        return None
    segments[named[-1]] = quote(other, safe="")
    return parts._replace(path="/".join(segments)).geturl()


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its answer, as evidence."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None
    excerpt: str

    def line(self) -> str:
        hdrs = "".join(f" [{k}: {v}]" for k, v in self.request_headers)
        status = "no answer" if self.status is None else str(self.status)
        return f"{self.method} {self.url}{hdrs} -> {status}"

    def render(self) -> str:
        out = [self.line()]
        if self.request_body:
            out.append(f"  sent: {self.request_body}")
        if self.excerpt:
            out.append(f"  body: {self.excerpt}")
        return "\n".join(out)


@dataclass(slots=True)
class _Record:
    """Mutable while the body streams in; frozen into an :class:`Exchange` on demand."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: str
    status: int | None = None
    head: bytearray = field(default_factory=bytearray)

    def freeze(self) -> Exchange:
        text = bytes(self.head[:EXCERPT]).decode("utf-8", errors="replace")
        return Exchange(self.method, self.url, self.request_headers, self.request_body,
                        self.status, " ".join(text.split()))  # fmt: skip


class _TeeStream(httpx.SyncByteStream):
    """Passes the body through, keeping its first bytes in the record."""

    def __init__(self, inner: httpx.SyncByteStream, record: _Record) -> None:
        self._inner = inner
        self._record = record

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if len(self._record.head) < EXCERPT:
                self._record.head.extend(chunk[: EXCERPT - len(self._record.head)])
            yield chunk

    def close(self) -> None:
        self._inner.close()


class Recorder(httpx.BaseTransport):
    """An httpx transport that remembers every exchange (see the module docstring)."""

    def __init__(self, inner: httpx.BaseTransport | None = None, *, verify: bool = True) -> None:
        self._inner = inner or httpx.HTTPTransport(verify=verify)
        self.records: deque[_Record] = deque(maxlen=50)
        self.count = 0  # exchanges recorded so far

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        shown = tuple((k, v) for k, v in request.headers.items() if k.lower() in SHOWN_HEADERS)
        content = request.content if isinstance(request.stream, httpx.ByteStream) else b""
        sent = " ".join(content[:200].decode("utf-8", errors="replace").split())
        record = _Record(request.method, str(request.url), shown, sent)
        self.records.append(record)
        self.count += 1
        response = self._inner.handle_request(request)
        record.status = response.status_code
        assert isinstance(response.stream, httpx.SyncByteStream)
        return httpx.Response(
            response.status_code, headers=response.headers,
            stream=_TeeStream(response.stream, record), extensions=response.extensions,
        )  # fmt: skip

    def close(self) -> None:
        self._inner.close()

    def last(self) -> Exchange | None:
        return self.records[-1].freeze() if self.records else None

    def recent(self, since: int, most: int = 2) -> tuple[Exchange, ...]:
        """The last ``most`` exchanges recorded after the ``count`` ``since``."""
        n = min(most, self.count - since, len(self.records))
        return tuple(r.freeze() for r in list(self.records)[len(self.records) - n:]) if n else ()


@dataclass(frozen=True, slots=True)
class Reply:
    """A whole answer (body cut at :data:`MAX_BODY`, then ``truncated``)."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    url: str
    exchange: Exchange
    truncated: bool = False

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def conditions(self) -> tuple[str, ...]:
        """The precondition elements of a ``<D:error>`` body (RFC 4918 §16)."""
        return parse_error_body(self.body, self.headers.get("content-type"))[0]

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


#: What a failure may point at; an exception means "the last exchange".
Evidence = Reply | Exchange | BaseException


class CheckFailed(Exception):
    """The server broke the rule the check tests."""

    def __init__(self, detail: str, evidence: tuple[Exchange, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.evidence = evidence


class CheckSkipped(Exception):
    """The check does not apply to this server (the reason says why)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SetupFailed(Exception):
    """A request that only prepares the check's scene was refused, so the rule the check
    tests could not be judged: reported as a skip with this detail, never as a failure
    of the check (the check that tests that request reports it)."""

    def __init__(self, detail: str, evidence: tuple[Exchange, ...] = ()) -> None:
        super().__init__(detail)
        self.detail = detail
        self.evidence = evidence


class Context:
    """Everything a check function gets; one per run, ``home`` set per check."""

    def __init__(
        self,
        client: Client,
        http: httpx.Client,
        recorder: Recorder,
        *,
        user: str | None = None,
        authenticated: bool = False,
        second: User | None = None,
    ) -> None:
        self.base_url = client.base_url
        self.client = client
        self.http = http
        self.recorder = recorder
        self.classes: frozenset[str] = frozenset()
        self.scratch = "/"
        self.home = "/"
        self.since = 0  # recorder count when the running check started
        self.tokens: list[LockToken] = []  # held by the running check
        self.granted: list[LockToken] = []  # every lock of the run, for the clean-up
        self.user = user  # the run's user name, when known
        self.authenticated = authenticated  # the run was given credentials
        self.second = second  # another user, for the ``auth`` checks

    # ------------------------------------------------------------------ paths

    def path(self, *parts: str) -> str:
        """A path inside the check's own collection: ``path("a/", "b.txt")``."""
        return self.home + "".join(parts)

    def url(self, path: str) -> str:
        return self.client.url(path)

    def href(self, path: str) -> str:
        """The server path of ``path``, normalised as multistatus hrefs are."""
        return normalize_href(urlsplit(self.url(path)).path)

    # ------------------------------------------------------------------ requests

    def send(
        self,
        method: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        auth: httpx.Auth | None = None,
        anonymous: bool = False,
    ) -> Reply:
        """One request whose status the check judges itself (never raises for a status);
        as another user with ``auth``, without credentials when ``anonymous``."""
        url = path if "://" in path else self.url(path)
        hdrs = list(headers)
        chosen = None if anonymous else auth or httpx.USE_CLIENT_DEFAULT
        try:
            with self.http.stream(method, url, headers=hdrs, content=body or None,
                                  auth=chosen) as r:  # fmt: skip
                chunks: list[bytes] = []
                size = 0
                truncated = False
                for chunk in r.iter_bytes():
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BODY:
                        truncated = True
                        break
        except httpx.TransportError as exc:
            self.fail(f"{method} {url}: no answer ({exc.__class__.__name__}: {exc})")
        exchange = self.recorder.last()
        assert exchange is not None
        return Reply(r.status_code, r.headers, b"".join(chunks), url, exchange, truncated)

    def send_request(
        self,
        request: msg.Request,
        *,
        drop: Collection[str] = (),
        add: Iterable[tuple[str, str]] = (),
        body: bytes | None = None,
        auth: httpx.Auth | None = None,
    ) -> Reply:
        """Send a request built by ``client.messages``, with headers dropped or added."""
        lowered = {d.lower() for d in drop}
        headers = [(k, v) for k, v in request.headers if k.lower() not in lowered]
        content = request.body if body is None else body
        return self.send(request.method, request.url, headers=[*headers, *add], body=content,
                         auth=auth)  # fmt: skip

    def propfind(
        self,
        path: str,
        depth: str,
        props: Sequence[str] | None = (DAV + "resourcetype", RESOURCE_ID),
        *,
        bind: bool | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Reply:
        """PROPFIND with or without ``DAV: bind`` (RFC 5842 §8.2); by default with it
        only when the server announces bindings (RFC 4918 §10.1 asks clients not to send
        a DAV header otherwise)."""
        aware = "bind" in self.classes if bind is None else bind
        request = msg.propfind(self.url(path), depth, props, bind=aware)
        return self.send_request(request, add=headers)

    def responses(self, reply: Reply) -> list[Response]:
        """The responses of a 207 body; a body that is not a multistatus fails the check."""
        try:
            return list(iter_responses(slices(reply.body)))
        except DAVClientError as exc:
            cut = " (body cut at the checker's limit)" if reply.truncated else ""
            self.fail(f"{reply.exchange.method} answer is not a valid multistatus{cut}: {exc}",
                      reply)  # fmt: skip

    def listing(self, reply: Reply) -> Listing:
        """``fold_multistatus`` of a 207 reply: one entry per resource, with aliases."""
        self.responses(reply)  # fail with evidence on a malformed body
        return fold_multistatus(reply.body, reply.url)

    def resource_id(self, path: str) -> str | None:
        """``DAV:resource-id`` of the resource at ``path`` (RFC 5842 §3.1), or None."""
        reply = self.propfind(path, "0", [RESOURCE_ID])
        self.expect_status(reply, {207}, f"PROPFIND of {path}")
        entry = self.listing(reply).root
        return entry.resource_id if entry is not None else None

    def exists(self, path: str) -> bool:
        """PROPFIND Depth 0: 207 → True, 404 → False, anything else fails the check."""
        reply = self.propfind(path, "0", [DAV + "resourcetype"])
        if reply.status not in (207, 404):
            self.fail(f"PROPFIND of {path} answered {reply.status}", reply)
        return reply.status == 207

    def exists_quietly(self, path: str) -> bool:
        """Anything but 404 to PROPFIND Depth 0 counts as still there (for the clean-up)."""
        return self.propfind(path, "0", [DAV + "resourcetype"]).status != 404

    def content(self, path: str) -> bytes | None:
        """GET: the body for 200, None for 404; anything else fails the check."""
        reply = self.send("GET", path)
        if reply.status == 404:
            return None
        self.expect_status(reply, {200}, f"GET {path}")
        return reply.body

    # ------------------------------------------------------------------ set-up helpers
    # A refusal here raises SetupFailed: these requests build the scene, they are not
    # what the running check judges.

    def mkcol(self, path: str) -> None:
        self.setup_status(self.send_request(msg.mkcol(self.url(path))), OK, f"MKCOL {path}")

    def put(self, path: str, data: bytes) -> None:
        reply = self.send_request(msg.put(self.url(path)), body=data)
        self.setup_status(reply, OK, f"PUT {path}")

    def delete(self, path: str) -> None:
        self.setup_status(self.send("DELETE", path), OK, f"DELETE {path}")

    def lock(self, path: str, *, depth: str = "0") -> LockToken:
        """LOCK ``path`` (exclusive write, RFC 4918 §9.10); the lock is released after
        the check.  A refusal, or a grant without a token, is a failed set-up."""
        request = msg.lock(self.url(path), depth=depth, timeout=600, owner="davbind check")
        reply = self.send_request(request)
        self.setup_status(reply, OK, f"LOCK {path}")
        token = self.adopt(reply)
        if token is None:
            raise SetupFailed(f"LOCK {path} answered {reply.status} without a lock token "
                              f"(no Lock-Token header, none in DAV:lockdiscovery)",
                              (reply.exchange,))  # fmt: skip
        return LockToken(token, reply.url)

    def setup_status(self, reply: Reply, allowed: Collection[int], what: str) -> None:
        """Raise :class:`SetupFailed` unless ``reply.status`` is one of ``allowed``."""
        if reply.status not in allowed:
            cond = f" [{', '.join(reply.conditions)}]" if reply.conditions else ""
            raise SetupFailed(f"{what}: expected {_statuses(allowed)}, got {reply.status}{cond}",
                              (reply.exchange,))  # fmt: skip

    def adopt(self, reply: Reply) -> str | None:
        """Remember the lock a LOCK answer granted (``Lock-Token`` header, else the
        token in the body's lockdiscovery), for release after the check."""
        raw = (reply.header("lock-token") or "").strip().strip("<>")
        if not raw and reply.ok:
            found = _LOCKTOKEN.search(reply.body)
            raw = found.group(1).decode("utf-8", errors="replace").strip() if found else ""
        if not reply.ok or not raw:
            return None
        token = LockToken(raw, reply.url)
        self.tokens.append(token)
        self.granted.append(token)
        return raw

    def unlock(self, token: LockToken, path: str | None = None) -> Reply:
        reply = self.send_request(msg.unlock(self.url(path) if path else token.url, token.token))
        if reply.ok:
            self.tokens = [t for t in self.tokens if t.token != token.token]
        return reply

    # ------------------------------------------------------------------ verdicts

    def evidence(self, items: Iterable[Evidence]) -> tuple[Exchange, ...]:
        out: list[Exchange] = []
        for item in items:
            if isinstance(item, Reply):
                out.append(item.exchange)
            elif isinstance(item, Exchange):
                out.append(item)
            elif (last := self.recorder.last()) is not None:  # an error: the last request
                out.append(last)
        return tuple(out)

    def fail(self, detail: str, *evidence: Evidence) -> NoReturn:
        """Fail the check; without explicit evidence its last two exchanges are shown
        (typically the request that should have changed something, and the look)."""
        shown = self.evidence(evidence) or self.recorder.recent(self.since)
        raise CheckFailed(detail, shown)

    def skip(self, reason: str) -> NoReturn:
        raise CheckSkipped(reason)

    def expect(self, condition: bool, detail: str, *evidence: Evidence) -> None:
        if not condition:
            self.fail(detail, *evidence)

    def expect_status(self, reply: Reply, allowed: Collection[int], what: str) -> None:
        """Fail unless ``reply.status`` is one of ``allowed``."""
        if reply.status not in allowed:
            cond = f" [{', '.join(reply.conditions)}]" if reply.conditions else ""
            self.fail(f"{what}: expected {_statuses(allowed)}, got {reply.status}{cond}", reply)

    def expect_condition(
        self, reply: Reply, allowed: Collection[int], condition: str, what: str
    ) -> None:
        """A refused request: status in ``allowed`` and ``<D:condition/>`` in the
        ``<D:error>`` body (RFC 4918 §16; the RFC 5842 §4–§6 precondition names)."""
        self.expect_status(reply, allowed, what)
        if condition not in reply.conditions:
            found = ", ".join(reply.conditions) or "no <D:error> element"
            self.fail(f"{what}: {reply.status} without <D:{condition}/> ({found})", reply)


def _statuses(allowed: Collection[int]) -> str:
    """``201``, ``200 or 204``, ``2xx`` (a whole success range is not spelled out)."""
    if set(allowed) >= OK:
        return "2xx"
    return " or ".join(str(s) for s in sorted(allowed))
