"""Whole-response cache for repeated reads: GET, HEAD and PROPFIND.

Sync clients poll the same listings and fetch the same small files again and again while
nothing changes.  An entry is the complete HTTP/1.1 response a handler produced (status
line, headers, body), keyed by the request (method, request-target, every header that
could change the answer, body) and tagged with the store generation read *before* the
handler read anything (``MetadataStore.generation``).  It is replayed only while the
generation is unchanged: any commit, by any worker process, changes it, so a replayed
answer is byte for byte what the handler would produce at that instant.  This is not an
HTTP cache in the sense of RFC 9111: nothing is ever served stale, and clients see no
difference except speed.

Never stored: answers to conditional or ranged requests (RFC 9110 §13, §14: ``If-*``,
``Range``, and the WebDAV ``If`` header, RFC 4918 §10.4), requests with credentials,
request bodies over 64 KiB, answers over ``item_bytes``, and PROPFIND answers while any
lock exists (``lockdiscovery`` shows a remaining timeout that changes with the clock,
RFC 4918 §15.8, and locks expire without a commit).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable
from http import HTTPStatus

from davbind.storage.interface import MetadataStore

CACHEABLE_METHODS = frozenset({"GET", "HEAD", "PROPFIND"})
MAX_REQUEST_BODY = 64 * 1024

# Headers that cannot change a GET/HEAD/PROPFIND answer (RFC 9110 §10.1, §12.5; no
# content coding is ever applied) and so stay out of the key.
_IGNORED = frozenset({
    b"user-agent", b"accept-encoding", b"accept-language", b"connection", b"keep-alive",
    b"content-length", b"te", b"referer", b"origin", b"cache-control", b"pragma",
})
# Headers whose presence makes a request uncacheable: preconditions and ranges are
# evaluated against validators (RFC 9110 §13.2), credentials select a principal.
_BYPASS = frozenset({
    b"if", b"if-match", b"if-none-match", b"if-modified-since", b"if-unmodified-since",
    b"if-range", b"range", b"authorization", b"cookie", b"expect", b"transfer-encoding",
    b"upgrade",
})

Key = tuple[str, bytes, tuple[tuple[bytes, bytes], ...], bytes]


def request_key(
    method: str, target: bytes, headers: Iterable[tuple[bytes, bytes]], body: bytes
) -> Key | None:
    """The cache key of a request, or ``None`` when its answer must not be cached.

    ``headers`` are (lower-case name, value) pairs in arrival order; order is kept (a
    client repeating a request repeats it), so two keys are equal only when the requests
    are equal in everything that can change the answer."""
    if method not in CACHEABLE_METHODS or len(body) > MAX_REQUEST_BODY:
        return None
    kept: list[tuple[bytes, bytes]] = []
    for name, value in headers:
        if name in _IGNORED:
            continue
        if name in _BYPASS:
            return None
        kept.append((name, value))
    return (method, target, tuple(kept), body)


def status_line(status: int) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = ""
    return b"HTTP/1.1 %d %s\r\n" % (status, reason.encode("ascii"))


def wire(status: int, headers: Iterable[tuple[bytes, bytes]], body: bytes) -> tuple[bytes, bytes]:
    """A response as (status line, header block + blank line + body); the server's own
    headers (Date, Server) go between the two when it is replayed."""
    block = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return status_line(status), block + b"\r\n" + body


class ResponseCache:
    """Per-process LRU of whole responses, valid for exactly one store generation."""

    def __init__(self, store: MetadataStore, max_bytes: int, item_bytes: int) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.item_bytes = item_bytes
        self._entries: OrderedDict[Key, tuple[bytes, bytes]] = OrderedDict()
        self._size = 0
        self._generation = -1  # the generation every entry belongs to
        self.hits = 0
        self.stores = 0

    def generation(self) -> int:
        return self.store.generation()

    def lookup(self, key: Key) -> tuple[bytes, bytes] | None:
        """The stored (status line, rest) for ``key`` if it is still exact, else None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        generation = self.store.generation()
        if generation != self._generation:
            self._reset(generation)  # something was committed: every entry is stale
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry

    def put(self, key: Key, generation: int, head: bytes, rest: bytes) -> bool:
        """Keep a response computed from data read at ``generation`` (taken before the
        handler read anything).  Refused when something was committed since."""
        size = len(head) + len(rest) + 256
        if size > self.item_bytes or size > self.max_bytes:
            return False
        current = self.store.generation()
        if current != generation:
            return False
        if current != self._generation:
            self._reset(current)
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old[0]) + len(old[1]) + 256
        self._entries[key] = (head, rest)
        self._size += size
        while self._size > self.max_bytes:
            _, (h, r) = self._entries.popitem(last=False)
            self._size -= len(h) + len(r) + 256
        self.stores += 1
        return True

    def _reset(self, generation: int) -> None:
        self._entries.clear()
        self._size = 0
        self._generation = generation

    def __len__(self) -> int:
        return len(self._entries)
