"""Locate the resource a request URL names, and its parent collection.

A missing or non-collection intermediate is reported as ``parent is None`` so each method
can pick its status: 404 for reads, 409 for creations (RFC 4918 §9.3.1, §9.7.1).
"""

from __future__ import annotations

from dataclasses import dataclass

from davbind.protocol.paths import href
from davbind.storage.interface import Txn
from davbind.storage.model import NotACollection, NotFound, Resource


@dataclass(frozen=True, slots=True)
class Target:
    segments: tuple[str, ...]
    resource: Resource | None
    parent: Resource | None

    @property
    def segment(self) -> str:
        return self.segments[-1]

    @property
    def href(self) -> str:
        coll = self.resource is not None and self.resource.is_collection
        return href(self.segments, coll)


def locate(txn: Txn, segments: tuple[str, ...]) -> Target:
    if not segments:
        return Target(segments, txn.root, None)
    try:
        parent = txn.resolve(segments[:-1])
    except (NotFound, NotACollection):
        return Target(segments, None, None)
    if not parent.is_collection:
        return Target(segments, None, None)
    return Target(segments, txn.lookup(parent.key, segments[-1]), parent)
