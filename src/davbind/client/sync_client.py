"""``Client``: the blocking WebDAV client over ``httpx.Client``.

A shell that only moves bytes: every method hands a generator of ``operations`` to
``_run``, which performs each request it yields and sends the answer back in (the
protocol logic is written once there, for this client and ``AsyncClient`` alike).
RFC 4918 §9 (methods), RFC 5842 §4–§8 (bindings, 208, ``DAV: bind``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import TypeVar

import httpx

from davbind.client import messages
from davbind.client import operations as ops
from davbind.client.endpoint import Endpoint, Settings
from davbind.client.errors import TransportError
from davbind.client.listing import Entry, Listing
from davbind.client.messages import LIST_PROPS, LockToken
from davbind.client.multistatus import Response, iter_responses
from davbind.client.transfer import Progress, Sink, Source, read_chunks

T = TypeVar("T")


class Client(Endpoint[httpx.BaseTransport]):
    """WebDAV client for the server at ``base_url``; paths are relative to it."""

    _http: httpx.Client

    def _connect(self, transport: httpx.BaseTransport | None, settings: Settings) -> None:
        self._http = httpx.Client(transport=transport, **settings)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ the I/O

    @contextlib.contextmanager
    def _open(self, exchange: ops.Exchange) -> Iterator[httpx.Response]:
        """The response to ``exchange`` with its body not yet read."""
        request = exchange.request
        upload = exchange.upload
        content = read_chunks(upload, exchange.progress) if upload else request.body or None
        try:
            with self._http.stream(
                request.method, request.url, headers=list(request.headers), content=content
            ) as response:
                yield response
        except httpx.TransportError as exc:
            raise TransportError(f"{request.method} {request.url}: {exc}") from exc

    def _exchange(self, exchange: ops.Exchange) -> ops.Reply:
        with self._open(exchange) as response:
            sink = ops.consumer_for(exchange, response.status_code)
            if sink is None:
                return ops.Reply(response.status_code, response.headers, response.read())
            sink.start(response.headers)
            for chunk in response.iter_bytes():
                sink.feed(chunk)
            return ops.Reply(response.status_code, response.headers)

    def _outcome(self, exchange: ops.Exchange) -> ops.Reply | Exception:
        try:
            return self._exchange(exchange)
        except Exception as exc:  # the operation decides what a failure means
            return exc

    def _run(self, op: ops.Op[T]) -> T:
        """Drive one operation: perform what it asks, hand back what came."""
        with ops.Run(op) as run:
            while run.pending is not None:
                run.resume(self._outcome(run.pending))
            return run.result

    # ------------------------------------------------------------------ reading

    def options(self, path: str = "/") -> frozenset[str]:
        """The compliance classes the server announces (``{"1", "2", "bind"}``)."""
        return self._run(ops.options(self.url(path)))

    def iter_propfind(
        self, path: str, depth: str = "1", props: Sequence[str] | None = LIST_PROPS
    ) -> Iterator[Response]:
        """The raw responses of one PROPFIND, parsed while they arrive."""
        exchange = ops.Exchange(messages.propfind(self.url(path), depth, props))
        with self._open(exchange) as response:
            if response.status_code not in exchange.request.expect:
                body = response.read()
                ops.judge(exchange, ops.Reply(response.status_code, response.headers, body))
            yield from iter_responses(response.iter_bytes())

    def propfind(
        self, path: str, depth: str = "1", props: Sequence[str] | None = LIST_PROPS, *,
        include: Sequence[str] = (),
    ) -> Listing:  # fmt: skip
        """One PROPFIND folded into a :class:`Listing` (``props=None``: allprop)."""
        return self._run(ops.propfind(self.url(path), depth, props, include))

    def ls(self, path: str = "/") -> Listing:
        """Depth 1: the target and its members, folded (two bindings of one file = one
        entry with an alias); ``listing.tree().children`` are the members by name."""
        return self._run(ops.propfind(self.url(path), "1"))

    def info(self, path: str) -> Entry:
        """All properties of one resource, resource-id and parent-set included."""
        return self._run(ops.info(self.url(path)))

    def exists(self, path: str) -> bool:
        return self._run(ops.exists(self.url(path)))

    def walk(
        self, path: str = "/", props: Sequence[str] = LIST_PROPS, *, max_depth: int | None = None
    ) -> Listing:
        """Everything below ``path``, each resource once (``operations.walk``)."""
        return self._run(ops.walk(self.url(path), props, max_depth))

    def get(self, path: str, dest: Sink, *, progress: Progress | None = None) -> int:
        """Stream the content of ``path`` into ``dest`` (a path or a binary file)."""
        return self._run(ops.get(self.url(path), dest, progress))

    def cat(self, path: str, start: int | None = None, end: int | None = None) -> bytes:
        """The content of ``path`` (or the byte range ``[start, end)``) in memory."""
        return self._run(ops.cat(self.url(path), start, end))

    # ------------------------------------------------------------------ writing

    def put(
        self, path: str, source: Source, *, content_type: str | None = None,
        progress: Progress | None = None, overwrite: bool = True, lock_token: str | None = None,
    ) -> int:  # fmt: skip
        """Upload ``source`` (path, bytes or binary file) streamed; 201 new, 204 replaced."""
        opts = ops.PutOptions(content_type, progress, overwrite, lock_token)
        return self._run(ops.put(self.url(path), source, opts, self.prime_url()))

    def mkcol(self, path: str) -> None:
        self._run(ops.done(messages.mkcol(self.url(path))))

    def makedirs(self, path: str, *, exist_ok: bool = True) -> None:
        """MKCOL every missing collection on the way to ``path`` (like ``mkdir -p``)."""
        self._run(ops.makedirs(self.base_url, path, exist_ok))

    def delete(self, path: str, *, lock_token: str | None = None) -> None:
        """DELETE: removes this binding; other bindings keep the resource (RFC 5842 §2.4)."""
        self._run(ops.done(messages.delete(self.url(path), lock_token=lock_token)))

    def copy(self, src: str, dst: str, *, overwrite: bool = True, depth: str = "infinity") -> int:
        request = messages.copy(self.url(src), self.url(dst), overwrite=overwrite, depth=depth)
        return self._run(ops.status_of(request))

    def move(
        self, src: str, dst: str, *, overwrite: bool = True, lock_token: str | None = None
    ) -> int:
        request = messages.move(
            self.url(src), self.url(dst), overwrite=overwrite, lock_token=lock_token
        )
        return self._run(ops.status_of(request))

    def bind(self, existing: str, new_path: str, *, overwrite: bool = True) -> int:
        """BIND: ``new_path`` becomes another path of the resource at ``existing``."""
        request = messages.bind(self.url(new_path), self.url(existing), overwrite=overwrite)
        return self._run(ops.status_of(request))

    def unbind(self, path: str, *, lock_token: str | None = None) -> None:
        self._run(ops.done(messages.unbind(self.url(path), lock_token=lock_token)))

    def rebind(self, existing: str, new_path: str, *, overwrite: bool = True) -> int:
        """REBIND: move the binding ``existing`` to ``new_path``, keeping the resource."""
        request = messages.rebind(self.url(new_path), self.url(existing), overwrite=overwrite)
        return self._run(ops.status_of(request))

    def lock(
        self, path: str, *, exclusive: bool = True, depth: str = "0", timeout: int | None = None,
        owner: str | None = None,
    ) -> LockToken:  # fmt: skip
        return self._run(ops.lock(self.url(path), exclusive, depth, timeout, owner))

    def unlock(self, path: str, token: str | LockToken) -> None:
        raw = token.token if isinstance(token, LockToken) else token
        self._run(ops.done(messages.unlock(self.url(path), raw)))

    def proppatch(
        self, path: str, set_props: Mapping[str, str] | None = None, remove: Iterable[str] = (),
        *, lock_token: str | None = None,
    ) -> None:  # fmt: skip
        """Set (text values) and remove properties; all or nothing (RFC 4918 §9.2)."""
        self._run(ops.proppatch(self.url(path), set_props, remove, lock_token))
