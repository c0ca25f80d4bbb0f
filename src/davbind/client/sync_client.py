"""``Client``: the blocking WebDAV client over ``httpx.Client``.

A thin shell (DESIGN.md, client layer): every request comes from a builder in
``messages``, every answer is judged there, multistatus bodies are streamed through the
incremental parser into ``listing.Folder``, and the Depth-1 fallback of ``walk`` is the
sans-I/O ``walker.Depth1Walk``.  ``async_client.AsyncClient`` is the same shell with
``await``.  RFC 4918 §9 (methods), RFC 5842 §4–§8 (bindings, 208, ``DAV: bind``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType

import httpx

from davbind.client import messages
from davbind.client.auth import DAVAuth
from davbind.client.errors import (
    MethodNotAllowed,
    NotFound,
    StatusError,
    TransportError,
    TruncatedResponse,
)
from davbind.client.hrefs import normalize_path, path_url
from davbind.client.listing import Entry, Folder, Listing
from davbind.client.messages import LIST_PROPS, LockToken, Request
from davbind.client.multistatus import MultistatusParser, Response, iter_responses, lock_timeout
from davbind.client.transfer import (
    Meter,
    Progress,
    Sink,
    Source,
    content_length,
    open_sink,
    open_source,
    read_chunks,
)
from davbind.client.walker import Depth1Walk

AuthArg = httpx.Auth | tuple[str, str] | None


def make_auth(auth: AuthArg) -> httpx.Auth | None:
    """``(user, password)`` becomes a :class:`DAVAuth` that answers Basic or Digest."""
    if isinstance(auth, tuple):
        return DAVAuth(*auth)
    return auth


class Client:
    """WebDAV client for the server at ``base_url``; paths are relative to it."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthArg = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        verify: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.auth = make_auth(auth)
        self._http = httpx.Client(
            auth=self.auth, timeout=timeout, headers=headers, verify=verify,
            transport=transport, follow_redirects=False,
        )  # fmt: skip

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (decoded or encoded; see ``hrefs.path_url``)."""
        return path_url(self.base_url, path)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ plumbing

    def _send(
        self, request: Request, content: bytes | Iterable[bytes] | None = None
    ) -> httpx.Response:
        try:
            response = self._http.request(
                request.method, request.url, headers=list(request.headers),
                content=content if content is not None else (request.body or None),
            )  # fmt: skip
        except httpx.TransportError as exc:
            raise TransportError(f"{request.method} {request.url}: {exc}") from exc
        messages.check(
            request, response.status_code, response.headers.get("content-type"), response.content
        )
        return response

    @contextlib.contextmanager
    def _stream(self, request: Request) -> Iterator[httpx.Response]:
        try:
            with self._http.stream(
                request.method, request.url, headers=list(request.headers),
                content=request.body or None,
            ) as response:  # fmt: skip
                if response.status_code not in request.expect:
                    body = response.read()
                    messages.check(
                        request, response.status_code, response.headers.get("content-type"), body
                    )
                yield response
        except httpx.TransportError as exc:
            raise TransportError(f"{request.method} {request.url}: {exc}") from exc

    def _prime_auth(self) -> None:
        """Learn the auth scheme before a streamed body that could not be replayed."""
        if isinstance(self.auth, DAVAuth) and not self.auth.primed:
            with contextlib.suppress(StatusError):
                probe = messages.propfind(self.base_url, "0", [messages.DAV + "resourcetype"])
                self._send(probe)

    # ------------------------------------------------------------------ reading

    def options(self, path: str = "/") -> frozenset[str]:
        """The compliance classes the server announces (``{"1", "2", "bind"}``)."""
        return messages.dav_classes(self._send(messages.options(self.url(path))).headers)

    def iter_propfind(
        self, path: str, depth: str = "1", props: Sequence[str] | None = LIST_PROPS
    ) -> Iterator[Response]:
        """The raw responses of one PROPFIND, parsed while they arrive."""
        return self._iter_request(messages.propfind(self.url(path), depth, props))

    def propfind(
        self,
        path: str,
        depth: str = "1",
        props: Sequence[str] | None = LIST_PROPS,
        *,
        include: Sequence[str] = (),
    ) -> Listing:
        """One PROPFIND folded into a :class:`Listing` (``props=None``: allprop)."""
        request = messages.propfind(self.url(path), depth, props, include=include)
        folder = Folder(request.url)
        parser = MultistatusParser()
        with self._stream(request) as response:
            for chunk in response.iter_bytes():
                for item in parser.feed(chunk):
                    folder.add(item)
        for item in parser.close():
            folder.add(item)
        folder.description = parser.description
        return folder.listing()

    def ls(self, path: str = "/") -> Listing:
        """Depth 1: the target and its members, folded (two bindings of one file = one
        entry with an alias); ``listing.tree().children`` are the members by name."""
        return self.propfind(path, "1")

    def info(self, path: str) -> Entry:
        """All properties of one resource, resource-id and parent-set included."""
        listing = self.propfind(path, "0", None, include=messages.INFO_INCLUDE)
        entry = listing.root or (listing.entries[0] if listing.entries else None)
        if entry is None:
            raise NotFound(404, method="PROPFIND", url=self.url(path), message="empty answer")
        return entry

    def exists(self, path: str) -> bool:
        try:
            self.propfind(path, "0", [messages.DAV + "resourcetype"])
        except NotFound:
            return False
        return True

    def walk(
        self, path: str = "/", props: Sequence[str] = LIST_PROPS, *, max_depth: int | None = None
    ) -> Listing:
        """Everything below ``path``, each resource once (see the module docs of
        ``listing`` and ``walker``): one Depth-infinity PROPFIND with ``DAV: bind``, or a
        Depth-1 walk when the server refuses or truncates it."""
        url = self.url(path)
        request = messages.propfind(url, "infinity", props)
        try:
            folder = Folder(url)
            with self._stream(request) as response:
                for item in iter_responses(response.iter_bytes()):
                    if messages.cut_short(item):
                        raise TruncatedResponse(f"a response says {item.status}")
                    folder.add(item)
            return folder.listing()
        except StatusError as exc:
            if not messages.may_fall_back(exc):
                raise
            note = f"Depth: infinity refused ({messages.describe(exc)})"
        except TruncatedResponse as exc:
            note = f"Depth: infinity answer cut short ({exc})"
        walk = Depth1Walk(url, max_depth=max_depth)
        skipped = 0
        while (next_url := walk.next_url()) is not None:
            try:
                walk.feed(list(self._iter_request(messages.propfind(next_url, "1", props))))
            except StatusError:
                if walk.requests == 0:
                    raise
                walk.feed([])
                skipped += 1
        extra = f", {skipped} collections unreadable" if skipped else ""
        return walk.listing(f"{note}; walked with Depth: 1 ({walk.requests} requests{extra})")

    def _iter_request(self, request: Request) -> Iterator[Response]:
        with self._stream(request) as response:
            yield from iter_responses(response.iter_bytes())

    def get(self, path: str, dest: Sink, *, progress: Progress | None = None) -> int:
        """Stream the content of ``path`` into ``dest`` (a path or a binary file)."""
        request = messages.get(self.url(path))
        with self._stream(request) as response, open_sink(dest) as out:
            meter = Meter(content_length(response.headers.get("content-length")), progress)
            for chunk in response.iter_bytes():
                out.write(chunk)
                meter.add(chunk)
        return meter.done

    def cat(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The content of ``path`` (or the byte range ``[start, end)``) in memory."""
        response = self._send(messages.get(self.url(path), start, end))
        if start is not None and response.status_code == 200:  # server ignored Range
            return response.content[start:end]
        return response.content

    # ------------------------------------------------------------------ writing

    def put(
        self,
        path: str,
        source: Source,
        *,
        content_type: str | None = None,
        progress: Progress | None = None,
        overwrite: bool = True,
        lock_token: str | None = None,
    ) -> int:
        """Upload ``source`` (path, bytes or binary file) streamed; 201 new, 204 replaced."""
        self._prime_auth()
        with open_source(source) as upload:
            request = messages.put(
                self.url(path),
                content_type=content_type,
                size=upload.size,
                overwrite=overwrite,
                lock_token=lock_token,
            )
            return self._send(request, read_chunks(upload, progress)).status_code

    def mkcol(self, path: str) -> None:
        self._send(messages.mkcol(self.url(path)))

    def makedirs(self, path: str, *, exist_ok: bool = True) -> None:
        """MKCOL every missing collection on the way to ``path`` (like ``mkdir -p``)."""
        segments = [s for s in normalize_path(path).split("/") if s]
        for i in range(1, len(segments) + 1):
            prefix = "/" + "/".join(segments[:i]) + "/"
            try:
                self.mkcol(prefix)
            except MethodNotAllowed:  # RFC 4918 §9.3.1: 405 = something is mapped there
                if i == len(segments) and not exist_ok:
                    raise

    def delete(self, path: str, *, lock_token: str | None = None) -> None:
        """DELETE: removes this binding; other bindings keep the resource (RFC 5842 §2.4)."""
        self._send(messages.delete(self.url(path), lock_token=lock_token))

    def copy(self, src: str, dst: str, *, overwrite: bool = True, depth: str = "infinity") -> int:
        return self._send(
            messages.copy(self.url(src), self.url(dst), overwrite=overwrite, depth=depth)
        ).status_code

    def move(
        self, src: str, dst: str, *, overwrite: bool = True, lock_token: str | None = None
    ) -> int:
        request = messages.move(
            self.url(src), self.url(dst), overwrite=overwrite, lock_token=lock_token
        )
        return self._send(request).status_code

    def bind(self, existing: str, new_path: str, *, overwrite: bool = True) -> int:
        """BIND: ``new_path`` becomes another path of the resource at ``existing``."""
        request = messages.bind(self.url(new_path), self.url(existing), overwrite=overwrite)
        return self._send(request).status_code

    def unbind(self, path: str, *, lock_token: str | None = None) -> None:
        self._send(messages.unbind(self.url(path), lock_token=lock_token))

    def rebind(self, existing: str, new_path: str, *, overwrite: bool = True) -> int:
        """REBIND: move the binding ``existing`` to ``new_path``, keeping the resource."""
        request = messages.rebind(self.url(new_path), self.url(existing), overwrite=overwrite)
        return self._send(request).status_code

    def lock(
        self,
        path: str,
        *,
        exclusive: bool = True,
        depth: str = "0",
        timeout: int | None = None,
        owner: str | None = None,
    ) -> LockToken:
        request = messages.lock(
            self.url(path), exclusive=exclusive, depth=depth, timeout=timeout, owner=owner
        )
        response = self._send(request)
        return messages.lock_token(request, response.headers, lock_timeout(response.content))

    def unlock(self, path: str, token: str | LockToken) -> None:
        raw = token.token if isinstance(token, LockToken) else token
        self._send(messages.unlock(self.url(path), raw))

    def proppatch(
        self,
        path: str,
        set_props: Mapping[str, str] | None = None,
        remove: Iterable[str] = (),
        *,
        lock_token: str | None = None,
    ) -> None:
        """Set (text values) and remove properties; all or nothing (RFC 4918 §9.2)."""
        request = messages.proppatch(self.url(path), set_props, remove, lock_token=lock_token)
        response = self._send(request)
        messages.check_proppatch(request, response.status_code, response.content)
