"""Pre-rendered property fragments, kept in the metadata store per resource.

A listing is dominated by rendering the same properties of unchanged resources again and
again.  The first time a resource is rendered, the values of its *cacheable* properties
(live ones that depend on the resource alone, and its dead properties) are stored with
the resource as one opaque text; the store bumps the resource's change counter on any
change, which makes the text stale.  Lock and binding state (``lockdiscovery``,
``parent-set``) is never cached.  Texts are written back in small batches from the
listing itself, so memory stays flat, and they live in the database, so every worker
process shares them and they survive restarts.

Text layout: ``ALLPROP \\x1d (\\x1f NAME \\x1e VALUE)*`` where ALLPROP is the concatenation
of the fragments ``allprop`` returns (RFC 4918 §9.1) and the rest indexes every cached
fragment by Clark name.  VALUE is the XML of a fragment outside ALLPROP, or
``\\x1c START:END``, its offsets in ALLPROP: a fragment is stored once, so a listing
reads half the bytes (XML text never holds these control characters).  Texts written
before offsets existed (XML values only) read the same way.
"""

from __future__ import annotations

import contextlib
import logging

from davbind.server.liveprops import REGISTRY, PropContext
from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import Resource

log = logging.getLogger("davbind.propcache")

BATCH = 256
_CACHED = tuple((name, p) for name, p in REGISTRY.items() if p.cacheable)


def build(txn: Txn, resource: Resource) -> str:
    """Render every cacheable property of ``resource`` into the cache text."""
    ctx = PropContext(txn, resource, ())
    allprop: list[str] = []
    index: list[str] = []
    at = 0

    def in_allprop(name: str, value: str) -> None:
        nonlocal at
        index.append(f"\x1f{name}\x1e\x1c{at}:{at + len(value)}")
        allprop.append(value)
        at += len(value)

    for name, prop in _CACHED:
        value = prop.render(ctx)
        if value is None:
            continue
        if prop.allprop:
            in_allprop(name, value)
        else:
            index.append(f"\x1f{name}\x1e{value}")
    for dead in txn.dead_props(resource.key):
        if dead.name not in REGISTRY:
            in_allprop(dead.name, dead.xml)
    return "".join(allprop) + "\x1d" + "".join(index)


def allprop_part(text: str) -> str:
    return text.partition("\x1d")[0]


def _value(text: str, stored: str) -> str:
    if stored.startswith("\x1c"):
        start, _, end = stored[1:].partition(":")
        return text[int(start) : int(end)]
    return stored


def table(text: str) -> dict[str, str]:
    """Clark name -> fragment for every cached property."""
    index = text.partition("\x1d")[2]
    pairs = (item.split("\x1e", 1) for item in index.split("\x1f")[1:])
    return {name: _value(text, stored) for name, stored in pairs}


def lookup(text: str, name: str) -> str | None:
    """The cached fragment of one property, without splitting the whole text."""
    at = text.find(f"\x1f{name}\x1e", text.find("\x1d"))
    if at < 0:
        return None
    start = at + len(name) + 2
    end = text.find("\x1f", start)
    return _value(text, text[start:] if end < 0 else text[start:end])


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
    if resource.cache is not None:
        return resource.cache
    text = build(txn, resource)
    if writeback is not None:
        writeback.add(resource, text)
    return text
