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

Small answers are kept in memory and replayed by the connection protocol (``h1``).
Larger streamed answers (a big PROPFIND multistatus) are copied to a file in the
cache directory as they are sent and, once complete, replayed from that file in 1 MiB
chunks by the app, so memory stays flat whatever the size of the listing.  Copying costs
a write of the whole answer, so a large answer is admitted only the second time it is
computed in one generation: one asked again while nothing changed is kept, one asked
once after every change (a listing re-read after each write) never pays for the copy.

A replay (``lookup``, called by ``h1`` from the socket callbacks of one event-loop poll)
reads the generation at most once per poll: every request handled there had been sent
before the poll began (a client that does not pipeline sends its next request only once
it has the last answer), so every commit its client could know of came before that read;
the value is forgotten by a callback that runs before the next poll.  Nothing that runs
between polls (tasks, where handlers commit and answer) uses it: they read afresh.  One
``PRAGMA data_version`` per poll instead of one per replay is a sixth of the cost of a
replayed small GET.

Never stored: answers to conditional or ranged requests (RFC 9110 §13, §14: ``If-*``,
``Range``, and the WebDAV ``If`` header, RFC 4918 §10.4), requests with credentials,
request bodies over 64 KiB, answers over ``item_bytes``, and PROPFIND answers while any
lock exists (``lockdiscovery`` shows a remaining timeout that changes with the clock,
RFC 4918 §15.8, and locks expire without a commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

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


FILE_CHUNK = 1024 * 1024
_counter = itertools.count()


@dataclass(frozen=True, slots=True)
class StoredFile:
    """A large answer kept on disk: status, header fields (Content-Length included),
    and the file holding the body."""

    status: int
    headers: tuple[tuple[str, str], ...]
    path: str
    size: int


def file_chunks(fh: BinaryIO) -> Iterator[bytes]:
    """The body of a stored answer, 1 MiB at a time; the file closes with the iterator."""
    try:
        while chunk := fh.read(FILE_CHUNK):
            yield chunk
    finally:
        fh.close()


class Spool:
    """Copies a streamed body to a cache file while it is sent (``ResponseCache.tee``)."""

    def __init__(self, cache: ResponseCache, key: Key, generation: int, status: int,
                 headers: list[tuple[str, str]], limit: int) -> None:  # fmt: skip
        assert cache.spill_dir is not None
        self.cache, self.key, self.generation = cache, key, generation
        self.status, self.headers, self.limit = status, headers, limit
        self.path = str(cache.spill_dir / f"{os.getpid()}-{next(_counter)}")
        self.file: BinaryIO | None = open(self.path, "wb")  # noqa: SIM115 (closed in keep/discard)
        self.size = 0

    def write(self, chunk: bytes) -> None:
        if self.file is None:
            return
        self.size += len(chunk)
        if self.size > self.limit:
            self.discard()
            return
        self.file.write(chunk)

    def keep(self) -> None:
        if self.file is None:
            return
        self.file.close()
        self.file = None
        headers = (*self.headers, ("Content-Length", str(self.size)))
        stored = StoredFile(self.status, headers, self.path, self.size)
        if not self.cache.put_file(self.key, self.generation, stored):
            _unlink(self.path)

    def discard(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            _unlink(self.path)


class _Tee:
    """A sync body iterator that also feeds a ``Spool``; kept only if sent to the end."""

    def __init__(self, body: Iterator[bytes], spool: Spool) -> None:
        self._body, self._spool = body, spool

    def __iter__(self) -> _Tee:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._body)
        except StopIteration:
            self._spool.keep()
            raise
        self._spool.write(chunk)
        return chunk

    def close(self) -> None:
        self._spool.discard()  # a no-op once kept
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


class ResponseCache:
    """Per-process LRU of whole responses, valid for exactly one store generation."""

    def __init__(
        self, store: MetadataStore, max_bytes: int, item_bytes: int,
        spill_dir: Path | None = None, disk_bytes: int = 0,
    ) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.item_bytes = item_bytes
        self.spill_dir = spill_dir if disk_bytes > 0 else None
        self.disk_bytes = disk_bytes
        if self.spill_dir is not None:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
        self._entries: OrderedDict[Key, tuple[bytes, bytes]] = OrderedDict()
        self._files: OrderedDict[Key, StoredFile] = OrderedDict()
        self._disk = 0
        self._size = 0
        self._generation = -1  # the generation every entry belongs to
        self._computed: OrderedDict[Key, int] = OrderedDict()  # key -> generation, large
        self._memo: tuple[asyncio.AbstractEventLoop, int] | None = None
        self.hits = 0
        self.stores = 0

    def generation(self) -> int:
        return self.store.generation()

    def _polled_generation(self) -> int:
        """The generation for replays made in this poll's callbacks (module doc)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return self.store.generation()  # no loop, no polls to share it within
        memo = self._memo
        if memo is not None and memo[0] is loop:  # a loop that ended may not have forgotten
            return memo[1]
        generation = self.store.generation()
        self._memo = (loop, generation)
        loop.call_soon(self._forget)  # ready callbacks run before the next poll
        return generation

    def _forget(self) -> None:
        self._memo = None

    def lookup(self, key: Key) -> tuple[bytes, bytes] | None:
        """The stored (status line, rest) for ``key`` if it is still exact, else None.
        Only for ``h1``'s replays, from the socket callbacks of a poll (module doc)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        generation = self._polled_generation()
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

    # --- large answers, on disk --------------------------------------------------------

    def tee(self, body: Iterator[bytes], key: Key, generation: int, status: int,
            headers: list[tuple[str, str]]) -> Iterator[bytes]:  # fmt: skip
        """Wrap a streamed body so that, sent to its end, it is kept for replay (from the
        second time it is computed in this generation on, see the module doc)."""
        if self.spill_dir is None or not self._computed_before(key, generation):
            return body
        limit = self.disk_bytes // 4
        return _Tee(body, Spool(self, key, generation, status, headers, limit))

    COMPUTED_KEYS = 1024

    def _computed_before(self, key: Key, generation: int) -> bool:
        before = self._computed.pop(key, None)
        self._computed[key] = generation
        if len(self._computed) > self.COMPUTED_KEYS:
            self._computed.popitem(last=False)
        return before == generation

    def put_file(self, key: Key, generation: int, stored: StoredFile) -> bool:
        if self.spill_dir is None or self.store.generation() != generation:
            return False
        if generation != self._generation:
            self._reset(generation)
        old = self._files.pop(key, None)
        if old is not None:
            self._drop_file(old)
        self._files[key] = stored
        self._disk += stored.size
        while self._disk > self.disk_bytes:
            _, evicted = self._files.popitem(last=False)
            self._drop_file(evicted)
        self.stores += 1
        return True

    def lookup_file(self, key: Key) -> tuple[StoredFile, BinaryIO] | None:
        """A stored large answer and its body, opened (an eviction that unlinks the
        file afterwards does not disturb a replay in progress)."""
        stored = self._files.get(key)
        if stored is None:
            return None
        generation = self.store.generation()
        if generation != self._generation:
            self._reset(generation)
            return None
        try:
            fh = open(stored.path, "rb")  # noqa: SIM115 (closed by file_chunks)
        except FileNotFoundError:
            del self._files[key]
            self._disk -= stored.size
            return None
        self._files.move_to_end(key)
        self.hits += 1
        return stored, fh

    @property
    def has_files(self) -> bool:
        return bool(self._files)

    def _drop_file(self, stored: StoredFile) -> None:
        self._disk -= stored.size
        _unlink(stored.path)

    def _reset(self, generation: int) -> None:
        self._entries.clear()
        self._size = 0
        for stored in self._files.values():
            _unlink(stored.path)
        self._files.clear()
        self._disk = 0
        self._generation = generation

    def close(self) -> None:
        """Remove this process's cache files."""
        self._reset(-1)

    def sweep(self) -> int:
        """Remove every file in the cache directory (before workers start)."""
        n = 0
        if self.spill_dir is not None:
            for leftover in self.spill_dir.iterdir():
                _unlink(str(leftover))
                n += 1
        return n

    def __len__(self) -> int:
        return len(self._entries)
