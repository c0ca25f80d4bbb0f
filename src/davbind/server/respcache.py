"""Whole-response cache for repeated reads: GET, HEAD and PROPFIND.

Sync clients poll the same listings and fetch the same small files again and again while
nothing changes.  An entry is the complete HTTP/1.1 response a handler produced (status
line, headers, body), keyed by the request (method, request-target, every header that
could change the answer, body) and tagged with the store generation read *before* the
handler read anything (``MetadataStore.generation``).  It is replayed while the
generation is unchanged: any commit, by any worker process, changes it, so a replayed
answer is byte for byte what the handler would produce at that instant.  This is not an
HTTP cache in the sense of RFC 9111: nothing is ever served stale, and clients see no
difference except speed.

Most answers depend on far less than the whole store: a file's GET on the resource at
that path, a Depth-0 or Depth-1 PROPFIND on one resource and its members (and on there
being no lock at all).  A handler says so with a ``Depends``; the entry then also keeps the
store's ``fingerprint`` of it, and after a commit it is checked once against the
fingerprint now (a few indexed queries) instead of dropped: a write in one folder does
not throw away the listings of every other.  Answers without one go with the
generation that made them.

Small answers are kept in memory and replayed by the connection protocol (``h1``);
larger streamed ones are copied to the cache directory as they are sent (``respspool``)
and replayed by the app.  Copying costs a write of the whole answer, so a large answer
is admitted only the second time the same answer is computed (same fingerprint, or
same generation): one asked again while nothing it shows changed is kept, one asked
once after every change to it never pays for the copy.

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
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import BinaryIO

from davbind.server.respspool import Spool, StoredFile, Tee, sweep, unlink
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


@dataclass(frozen=True, slots=True)
class Depends:
    """What an answer depends on: the resource the request path resolves to, with
    ``members`` each of its members too, and with ``no_locks`` that no lock exists
    anywhere (RFC 4918 §15.8: every ``lockdiscovery`` is then empty)."""

    segments: tuple[str, ...]
    members: bool = False
    no_locks: bool = False


Fingerprint = tuple[int, ...]


class _Entry:
    """One kept answer: in memory (``head``, ``rest``) or on disk (``file``)."""

    __slots__ = ("depends", "file", "fingerprint", "head", "rest", "tag")

    def __init__(
        self, tag: int, depends: Depends | None, fingerprint: Fingerprint | None,
        head: bytes = b"", rest: bytes = b"", file: StoredFile | None = None,
    ) -> None:
        self.tag, self.depends, self.fingerprint = tag, depends, fingerprint
        self.head, self.rest, self.file = head, rest, file

    @property
    def size(self) -> int:
        return self.file.size if self.file is not None else len(self.head) + len(self.rest) + 256


class ResponseCache:
    """Per-process LRU of whole responses, each valid while its generation, or the
    fingerprint of what it depends on, is unchanged (module doc)."""

    COMPUTED_KEYS = 1024

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
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        self._files: OrderedDict[Key, _Entry] = OrderedDict()
        self._disk = 0
        self._size = 0
        # key -> what made its last large answer (fingerprint, or generation), for admission
        self._computed: OrderedDict[Key, object] = OrderedDict()
        self._memo: tuple[asyncio.AbstractEventLoop, int] | None = None
        # exact request bytes -> their key, kept by the connection protocol (``h1``) so
        # that a request repeated byte for byte is looked up without being parsed
        self.raw_keys: dict[bytes, Key] = {}
        self.hits = 0
        self.stores = 0
        self.revalidated = 0

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

    def fingerprint(self, depends: Depends) -> Fingerprint | None:
        """The store's fingerprint of ``depends`` now; ``None`` when it cannot vouch for an
        answer (the path does not resolve, or a lock exists and the answer needs none)."""
        with self.store.read() as txn:
            if depends.no_locks and txn.has_locks():
                return None
            return txn.fingerprint(depends.segments, depends.members)

    def _valid(self, entry: _Entry, generation: int) -> bool:
        """Whether ``entry`` is still exact at ``generation``: made at it, or the fingerprint of
        what it depends on unchanged since (then it is tagged with ``generation``: counters only
        grow, so an unchanged fingerprint means nothing it shows changed in between)."""
        if entry.tag == generation:
            return True
        if entry.depends is None or entry.fingerprint is None:
            return False
        if self.fingerprint(entry.depends) != entry.fingerprint:
            return False
        entry.tag = generation
        self.revalidated += 1
        return True

    def lookup(self, key: Key) -> tuple[bytes, bytes] | None:
        """The stored (status line, rest) for ``key`` if it is still exact, else None.
        Only for ``h1``'s replays, from the socket callbacks of a poll (module doc)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if not self._valid(entry, self._polled_generation()):
            del self._entries[key]
            self._size -= entry.size
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        return entry.head, entry.rest

    def put(
        self, key: Key, generation: int, head: bytes, rest: bytes,
        depends: Depends | None = None, fingerprint: Fingerprint | None = None,
    ) -> bool:
        """Keep a response computed from data read at ``generation`` (taken before the
        handler read anything), with the fingerprint of what it depends on taken after the handler
        read.  Refused when something was committed since ``generation``: the answer and
        the fingerprint then need not belong to the same state."""
        entry = _Entry(generation, depends, fingerprint, head, rest)
        if entry.size > self.item_bytes or entry.size > self.max_bytes:
            return False
        if self.store.generation() != generation:
            return False
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= old.size
        self._entries[key] = entry
        self._size += entry.size
        while self._size > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self._size -= evicted.size
        self.stores += 1
        return True

    # --- large answers, on disk (respspool) --------------------------------------------

    def tee(self, body: Iterator[bytes], key: Key, generation: int, status: int,
            headers: list[tuple[str, str]], depends: Depends | None = None,
            fingerprint: Fingerprint | None = None) -> Iterator[bytes]:  # fmt: skip
        """Wrap a streamed body so that, sent to its end, it is kept for replay (from the
        second time the same answer is computed on, see the module doc)."""
        if self.spill_dir is None:
            return body
        made_by = fingerprint if depends is not None and fingerprint is not None else generation
        if not self._computed_before(key, made_by):
            return body

        def keep(stored: StoredFile) -> bool:
            return self._put_file(key, _Entry(generation, depends, fingerprint, file=stored))

        return Tee(body, Spool(self.spill_dir, status, headers, self.disk_bytes // 4, keep))

    def _computed_before(self, key: Key, made_by: object) -> bool:
        before = self._computed.pop(key, None)
        self._computed[key] = made_by
        if len(self._computed) > self.COMPUTED_KEYS:
            self._computed.popitem(last=False)
        return before == made_by

    def _put_file(self, key: Key, entry: _Entry) -> bool:
        if self.store.generation() != entry.tag:
            return False
        old = self._files.pop(key, None)
        if old is not None:
            self._drop_file(old)
        self._files[key] = entry
        self._disk += entry.size
        while self._disk > self.disk_bytes:
            _, evicted = self._files.popitem(last=False)
            self._drop_file(evicted)
        self.stores += 1
        return True

    def lookup_file(self, key: Key) -> tuple[StoredFile, BinaryIO] | None:
        """A stored large answer and its body, opened (an eviction that unlinks the
        file afterwards does not disturb a replay in progress)."""
        entry = self._files.get(key)
        if entry is None or entry.file is None:
            return None
        if not self._valid(entry, self.store.generation()):
            del self._files[key]
            self._drop_file(entry)
            return None
        try:
            fh = open(entry.file.path, "rb")  # noqa: SIM115 (closed by file_chunks)
        except FileNotFoundError:
            del self._files[key]
            self._disk -= entry.size
            return None
        self._files.move_to_end(key)
        self.hits += 1
        return entry.file, fh

    @property
    def has_files(self) -> bool:
        return bool(self._files)

    def _drop_file(self, entry: _Entry) -> None:
        self._disk -= entry.size
        if entry.file is not None:
            unlink(entry.file.path)

    def close(self) -> None:
        """Forget every answer and remove this process's cache files."""
        for entry in self._files.values():
            self._drop_file(entry)
        self._files.clear()
        self._entries.clear()
        self._size = 0

    def sweep(self) -> int:
        """Remove every file in the cache directory (before workers start)."""
        return 0 if self.spill_dir is None else sweep(self.spill_dir)

    def __len__(self) -> int:
        return len(self._entries)
