"""Rendered runs of a listing, kept per worker and found again by what they show.

A PROPFIND Depth 1 answer after one member changed differs from the previous one in that
member's ``<D:response>`` only, yet the answer cache (``respcache``) must drop it whole:
its fingerprint covers the collection.  Rendering 10,000 members again from their
stored texts took ~47 ms, twice nginx's listing of the same directory.  So the lean
listing path (``propfind._LeanRuns``) also keeps each run of members it renders (one
``member_batches`` batch, up to 512 members) under a key made of everything those bytes
depend on:

* the form of the answer (``variant``: allprop or the property names asked for, the
  lockdiscovery every member shows, ``return=minimal``);
* the href of the collection (the prefix of every member's href);
* each member as (segment, key, is-collection, ``cgen``).  Every change of a resource
  that shows in its properties bumps its ``cgen`` (the render cache relies on the same
  rule, ``propcache``), and keys are never reused (``AUTOINCREMENT``), so equal keys
  mean equal bytes.

After a change, the listing still reads every member's row, but only the run holding
the changed member is rendered again (and only its members' texts are read).  A key is
compared in full on a hit (a dict lookup), never by hash alone.  The cache belongs to
one ``Services`` (one store): keys of two stores are unrelated.  It is bounded in bytes
(LRU), so memory does not grow with the size of the listings served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable

PER_MEMBER = 64
"""Bytes counted per member of a key, on top of the text (the key's tuples)."""


class RunCache:
    """LRU of rendered runs: key -> text, at most ``max_bytes`` counted."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[str, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> str | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found[0]

    def has(self, key: Hashable) -> bool:
        """Whether ``key`` is kept (made the most recent; not counted as a hit)."""
        with self._lock:
            if key not in self._items:
                return False
            self._items.move_to_end(key)
            return True

    def put(self, key: Hashable, text: str, members: int) -> None:
        cost = len(text) + PER_MEMBER * members
        if cost > self.max_bytes:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._items[key] = (text, cost)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._items.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    @property
    def size(self) -> int:
        """Bytes counted now."""
        return self._bytes
