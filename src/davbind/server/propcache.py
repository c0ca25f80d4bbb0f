"""Pre-rendered property fragments, kept in the metadata store per resource.

A listing is dominated by rendering the same properties of unchanged resources again and
again.  The first time a resource is rendered, the values of its *cacheable* properties
(live ones that depend on the resource alone, and its dead properties) are stored with
the resource as one opaque text; the store bumps the resource's change counter on any
change, which makes the text stale.  Lock and binding state (``lockdiscovery``,
``parent-set``) is never cached.  Texts are written back in small batches from the
listing itself, so memory stays flat, and they live in the database, so every worker
process shares them and they survive restarts.

Text layout: ``A \\x1e B \\x1d N FORMAT``, items separated by ``\\x1f`` in each part.  A is
what ``allprop`` returns (RFC 4918 §9.1): one slot per cacheable live allprop property in
registry order (empty where the property is not defined on the resource), then the dead
property values; B holds the slots of the cacheable live properties ``allprop`` leaves out
(``resource-id``, RFC 5842 §3); N names the dead properties, in the order of their
values.  Slots sit at fixed places, so a listing of named properties works out once per
set of dead names where each one is (``Picker``) and then only splits each member's text;
an allprop listing takes A and drops the separators.  XML text never holds these control
characters (XML 1.0 §2.2).  FORMAT carries a checksum of the slot list: a text written
for another registry (an older release's) is treated as absent, rebuilt and written back.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import operator
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeGuard

from davbind.server.liveprops import REGISTRY, PropContext
from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import Resource

log = logging.getLogger("davbind.propcache")

BATCH = 256
_LIVE_A = tuple(n for n, p in REGISTRY.items() if p.cacheable and p.allprop)
_LIVE_B = tuple(n for n, p in REGISTRY.items() if p.cacheable and not p.allprop)
FORMAT = f"\x1c{zlib.crc32(repr((_LIVE_A, _LIVE_B)).encode()):08x}"
_SEP, _GROUP, _BODY = "\x1f", "\x1e", "\x1d"


def build(txn: Txn, resource: Resource) -> str:
    """Render every cacheable property of ``resource`` into the cache text."""
    ctx = PropContext(txn, resource, ())
    a = [REGISTRY[n].render(ctx) or "" for n in _LIVE_A]
    b = [REGISTRY[n].render(ctx) or "" for n in _LIVE_B]
    dead = [d for d in txn.dead_props(resource.key) if d.name not in REGISTRY]
    a += [d.xml for d in dead]
    names = _SEP.join(d.name for d in dead)
    return f"{_SEP.join(a)}{_GROUP}{_SEP.join(b)}{_BODY}{names}{FORMAT}"


def fresh(text: str | None) -> TypeGuard[str]:
    """Whether ``text`` is a cache text in this layout (not absent, not an old one)."""
    return text is not None and text.endswith(FORMAT)


def allprop_part(text: str) -> str:
    """The concatenated fragments ``allprop`` returns."""
    return text.partition(_GROUP)[0].replace(_SEP, "")


def table(text: str) -> dict[str, str]:
    """Clark name -> fragment for every cached property."""
    head, _, names = text[: -len(FORMAT)].partition(_BODY)
    a, _, b = head.partition(_GROUP)
    values_a = a.split(_SEP)
    dead = names.split(_SEP) if names else []
    pairs = [
        *zip(_LIVE_A, values_a, strict=False),
        *zip(dead, values_a[len(_LIVE_A) :], strict=True),
        *zip(_LIVE_B, b.split(_SEP), strict=False),
    ]
    return {name: value for name, value in pairs if value}


def lookup(text: str, name: str) -> str | None:
    """The cached fragment of one property."""
    return table(text).get(name)


class Picker:
    """The fragments of the named properties of a PROPFIND (RFC 4918 §9.1) out of cache
    texts, in request order, with the names not found.  Where each name sits depends only
    on the dead property names, so it is worked out once per such set (a ``_Plan``); a
    member then costs one split and C-level picks (a listing does this per member)."""

    MAX_PLANS = 256

    def __init__(self, names: Sequence[str]) -> None:
        self.names = tuple(names)
        self._plans: dict[str, _Plan] = {}

    def pick(self, text: str) -> tuple[Sequence[str], tuple[str, ...]]:
        head, _, tail = text.partition(_BODY)  # tail: the dead names and FORMAT
        plan = self._plans.get(tail)
        if plan is None:
            plan = self._plan(tail)
        items = head.replace(_GROUP, _SEP).split(_SEP)
        items.append("")  # where names found nowhere point
        picks = plan.get(items)
        empty = picks.count("")
        if empty == 0:
            return picks, ()
        found = list(filter(None, picks))
        if empty == len(plan.nowhere):
            return found, plan.nowhere
        # a live property this member does not have (getcontentlength on a collection)
        return found, tuple(itertools.compress(self.names, map(operator.not_, picks)))

    def _plan(self, tail: str) -> _Plan:
        dead = tail[: -len(FORMAT)]
        dead_names = dead.split(_SEP) if dead else []
        position = {n: i for i, n in enumerate(_LIVE_A)}
        position.update((n, len(_LIVE_A) + i) for i, n in enumerate(dead_names))
        b_at = len(_LIVE_A) + len(dead_names)
        position.update((n, b_at + i) for i, n in enumerate(_LIVE_B))
        nowhere = b_at + max(len(_LIVE_B), 1)  # an empty B still splits into one item
        where = [position.get(n, nowhere) for n in self.names]
        if len(self._plans) >= self.MAX_PLANS:
            self._plans.clear()
        plan = self._plans[tail] = _Plan(
            _getter(where), tuple(n for n in self.names if n not in position)
        )
        return plan


@dataclass(frozen=True, slots=True)
class _Plan:
    """``get``: a member's split items -> the picks in request order; ``nowhere``: the
    names no member with these dead properties has."""

    get: Callable[[list[str]], tuple[str, ...]]
    nowhere: tuple[str, ...]


def _getter(where: list[int]) -> Callable[[list[str]], tuple[str, ...]]:
    if len(where) == 1:
        (only,) = where
        return lambda items: (items[only],)
    if not where:
        return lambda items: ()
    return operator.itemgetter(*where)


class Writeback:
    """Collects freshly built texts and stores them in short write transactions."""

    def __init__(self, store: MetadataStore) -> None:
        self.store = store
        self.pending: list[tuple[int, int, str]] = []

    def add(self, resource: Resource, text: str) -> None:
        self.pending.append((resource.key, resource.cgen, text))
        if len(self.pending) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        entries, self.pending = self.pending, []
        # best effort: a busy database only costs a re-render next time
        with contextlib.suppress(Exception), self.store.write() as txn:
            txn.store_cache(entries)


def text_for(txn: Txn, resource: Resource, writeback: Writeback | None) -> str:
    """The cache text of ``resource``: stored, or built now and queued for storing."""
    if fresh(resource.cache):
        return resource.cache
    text = build(txn, resource)
    if writeback is not None:
        writeback.add(resource, text)
    return text
