"""The rendered members of listings, kept per process: what a sync client's next
PROPFIND of a folder it listed before mostly repeats.

A client that keeps a folder in sync (rclone, the Nextcloud and Windows clients, davfs2)
asks for the same collection over and over, Depth 1, with the same properties; between
two polls one or two members change, most do not.  Rendering every member again, and
reading every member's full row to do it, was two thirds of such a listing's cost.

**Key** (one per listed collection): ``(VERSION, principal, shape, collection key)`` —
the principal is the request's ``Access`` (who asks, and what anonymous requests may),
the shape is the form and the properties asked for (``Shape``).  The value holds, per
segment, the member's ``(key, cgen)`` and the text of its ``<D:response>`` after the
collection's href (the href's start depends on the URL the collection was reached by;
the rest depends on the member alone).

**Invalidation** (one rule): a member's text is used only if the member's ``(key,
cgen)``, read in the listing's own snapshot, equals the one it was rendered from.
``cgen`` counts every change a listing shows of a resource (content, type, length,
dates, dead properties, a collection's membership; ``storage.model.Resource``) and keys
are never reused, so a text can never be older than the snapshot that serves it, on any
node: the check reads the store, not a local notion of what changed.  Each complete
listing of a collection replaces its entry, so members that are gone leave with it.

Only properties that depend on the member's row and dead properties are ever in a
text: a shape that asks for anything computed with the request's context (privileges,
``parent-set``, ``lockdiscovery`` in a named request) is not kept (``Shape.of`` returns
``None``), and allprop's ``lockdiscovery`` is appended outside the text.  ``VERSION``
changes with the renderer; the cache lives in memory only, so a new release starts
empty anyway.  Bounded in bytes (least recently listed collection out first); reader
threads share it, hence the lock.  One per store (``Services.listings``): resource keys
name resources of one store only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from davbind.protocol.xmlbody import PropfindRequest
from davbind.server.access import Access
from davbind.server.liveprops import REGISTRY, ROW_RENDERERS

VERSION = 1
"""Changes whenever a member's rendering changes."""

DEFAULT_BYTES = 64 * 1024 * 1024
ENTRY_OVERHEAD = 160
"""Bytes an entry costs beyond its text (tuple, dict slot, segment), for the bound."""

Texts = dict[str, tuple[int, int, str]]
"""segment -> (key, cgen, text) of the members of one collection."""


@dataclass(frozen=True, slots=True)
class Shape:
    """What a listing asked for, as far as it changes a member's text."""

    kind: str  # "allprop" or "prop"
    names: tuple[str, ...]
    minimal: bool

    @staticmethod
    def of(spec: PropfindRequest, *, minimal: bool, as_json: bool) -> Shape | None:
        """The shape of a request whose member texts may be kept, else ``None``: XML
        allprop without ``include``, or named properties each taken from the row or
        the dead properties (RFC 4918 §9.1)."""
        if as_json:
            return None
        if spec.kind == "allprop" and not spec.include:
            return Shape("allprop", (), minimal)
        if spec.kind == "prop" and all(_from_row(n) for n in spec.names):
            return Shape("prop", tuple(spec.names), minimal)
        return None


def _from_row(name: str) -> bool:
    return name in ROW_RENDERERS or name == "{DAV:}displayname" or name not in REGISTRY


Key = tuple[int, Access, Shape, int]


class ListingCache:
    """Member texts of recently listed collections (module doc)."""

    def __init__(self, max_bytes: int = DEFAULT_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Key, tuple[Texts, int]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def texts(self, key: Key) -> Texts | None:
        """The entry of a collection (never changed once kept: readers need no lock)."""
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            self._entries.move_to_end(key)
            return found[0]

    def keep(self, key: Key, texts: Texts) -> None:
        size = sum(len(t[2]) for t in texts.values()) + ENTRY_OVERHEAD * len(texts)
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._size -= old[1]
            if size > self.max_bytes:
                return
            self._entries[key] = (texts, size)
            self._size += size
            while self._size > self.max_bytes:
                _, (_, dropped) = self._entries.popitem(last=False)
                self._size -= dropped

    def count(self, hits: int, misses: int) -> None:
        with self._lock:
            self.hits += hits
            self.misses += misses

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size(self) -> int:
        """The bytes counted against ``max_bytes``."""
        return self._size

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0



class Recording:
    """One request's use of the cache: the kept texts of each collection it lists and
    the new entries it builds, kept when the listing is complete (``finish``).

    What a request builds is held until its end, so it is bounded: once the texts it
    rendered pass a quarter of the cache (a Depth-infinity walk of a large tree, or one
    collection of tens of thousands of members), it stops building and keeps nothing, so
    a listing's memory stays flat whatever its size (what it reuses is the cache's)."""

    def __init__(self, cache: ListingCache, principal: Access, shape: Shape) -> None:
        self.cache, self.principal, self.shape = cache, principal, shape
        self._old: dict[int, Texts] = {}
        self._new: dict[int, Texts] = {}
        self._budget = cache.max_bytes // 4
        self.abandoned = False

    def key(self, collection: int) -> Key:
        return (VERSION, self.principal, self.shape, collection)

    def known(self, collection: int) -> bool:
        """Whether the collection was listed before in this shape by this principal.  The
        entry found is the one this request uses (``pair``), even if the cache drops it
        meanwhile: a listing that reads stamps because of it must find its texts."""
        texts = self.cache.texts(self.key(collection))
        if texts is not None:
            self._old[collection] = texts
        return texts is not None

    def pair(self, collection: int) -> tuple[Texts, Texts]:
        """(kept texts, texts of this listing) of one collection; once abandoned, the
        second is a dictionary nobody keeps."""
        old = self._old.get(collection)
        if old is None:
            old = self._old[collection] = self.cache.texts(self.key(collection)) or {}
        if self.abandoned:
            return old, {}
        new = self._new.get(collection)
        if new is None:
            new = self._new[collection] = {}
        return old, new

    def spend(self, rendered: int) -> None:
        """Account for ``rendered`` bytes of new texts; past the budget, keep nothing."""
        self._budget -= rendered
        if self._budget < 0 and not self.abandoned:
            self.abandoned = True
            self._new.clear()

    def finish(self) -> None:
        """The listing was produced to the end: its entries replace the kept ones."""
        for collection, texts in self._new.items():
            self.cache.keep(self.key(collection), texts)
        self._new.clear()
