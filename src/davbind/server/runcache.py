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
* at Depth 1: the collection's key and ``cgen``, which every change of membership bumps,
  so it fixes which members each run holds, plus the run's position and its members'
  ``cgen``; at Depth infinity: each member as (segment, key, ``cgen``).  Every change of
  a resource that shows in its properties bumps its ``cgen`` (the render cache relies on
  the same rule, ``propcache``), and keys are never reused (``AUTOINCREMENT``), so equal
  keys mean equal bytes.

After a change of a member, a Depth 1 listing seen whole before (under the same
membership) reads only its members' counters (``Txn.member_gens``, one column) and
renders again only the run that holds the change, reading that run's rows alone; any
other listing reads its members in one query, as without this cache, and fills it.  A key is
compared in full on a hit (a dict lookup), never by hash alone.  The cache belongs to
one ``Services`` (one store): keys of two stores are unrelated.  It is bounded in bytes
(LRU), and its texts are kept in files in ``<data>/runs/`` (swept at startup, like the
answer cache's directory), so a worker's memory does not grow with the size of the
listings served.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections import OrderedDict
from collections.abc import Hashable
from pathlib import Path

PER_MEMBER = 64
"""Bytes counted per member of a key, on top of the text (the key's tuples)."""
_counter = itertools.count()


class RunCache:
    """LRU of rendered runs: key -> text, at most ``max_bytes`` counted.  With a
    ``directory``, texts live in files there (the page cache, not the worker's memory:
    the runs of a 10,000-member listing are ~7 MB, read back in ~2 ms) and only keys
    stay in memory; empty texts (markers) are kept in memory either way."""

    def __init__(self, max_bytes: int, directory: Path | None = None) -> None:
        self.max_bytes = max_bytes
        self._dir = str(directory) if directory is not None else None
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
        self._items: OrderedDict[Hashable, tuple[str, int, bool]] = OrderedDict()
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
        value, _, on_disk = found
        if not on_disk:
            return value
        try:
            with open(value, "rb") as fh:
                return fh.read().decode("utf-8")
        except FileNotFoundError:  # evicted meanwhile, or the directory was swept
            with self._lock:
                self.hits -= 1
                self.misses += 1
            return None

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
        value, on_disk = text, False
        if self._dir is not None and text:
            value, on_disk = f"{self._dir}/run-{os.getpid()}-{next(_counter)}", True
            try:
                with open(value, "wb") as fh:
                    fh.write(text.encode("utf-8"))
            except OSError:  # a full disk, a directory gone: the run is just not kept
                with contextlib.suppress(OSError):
                    os.unlink(value)
                return
        dropped: list[str] = []
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
                if old[2]:
                    dropped.append(old[0])
            self._items[key] = (value, cost, on_disk)
            self._bytes += cost
            while self._bytes > self.max_bytes:
                _, (gone, gone_cost, gone_on_disk) = self._items.popitem(last=False)
                self._bytes -= gone_cost
                if gone_on_disk:
                    dropped.append(gone)
        for path in dropped:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)

    def clear(self) -> None:
        with self._lock:
            items, self._items, self._bytes = self._items, OrderedDict(), 0
        for value, _, on_disk in items.values():
            if on_disk:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(value)

    @property
    def size(self) -> int:
        """Bytes counted now."""
        return self._bytes
