"""Locate the resource a request URL names, and its parent collection, with the
privileges the request has on both (``server.access``).

A missing or non-collection intermediate is reported as ``parent is None`` so each method
can pick its status: 404 for reads, 409 for creations (RFC 4918 §9.3.1, §9.7.1).  A path
through a collection the principal cannot read is reported the same way: it does not
exist for them.
"""

from __future__ import annotations

from dataclasses import dataclass

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import href
from davbind.server.access import (
    ALL_STEP,
    UNRESTRICTED,
    Access,
    PathAccess,
    Privilege,
    Step,
    keep_holders,
    log_in,
    require,
)
from davbind.storage.interface import Txn
from davbind.storage.model import NotACollection, NotFound, Resource


@dataclass(frozen=True, slots=True)
class Target:
    segments: tuple[str, ...]
    resource: Resource | None
    parent: Resource | None
    step: Step = ALL_STEP  # on ``resource`` (when there is one)
    parent_step: Step = ALL_STEP
    access: Access = UNRESTRICTED

    @property
    def segment(self) -> str:
        return self.segments[-1]

    @property
    def href(self) -> str:
        coll = self.resource is not None and self.resource.is_collection
        return href(self.segments, coll)

    @property
    def visible(self) -> Resource | None:
        """The resource, if the principal may read it (else it is answered as absent)."""
        return self.resource if self.resource is not None and self.step.readable else None

    def need(self, wanted: Privilege) -> None:
        """403 unless the request holds ``wanted`` on the resource."""
        assert self.resource is not None
        require(self.step.privileges, wanted, self.segments, self.resource.is_collection,
                self.access)  # fmt: skip

    def need_parent(self, wanted: Privilege) -> None:
        """403 unless the request holds ``wanted`` on the parent collection (and never
        for unbinding a collection that holds the homes)."""
        if Privilege.UNBIND in wanted and self.resource is not None:
            keep_holders(self.access, self.segments)
        require(self.parent_step.privileges, wanted, self.segments[:-1], True, self.access)

    def readable(self, message: str = "not found") -> Resource:
        """The resource, or 404 if it is absent or the principal may not read it."""
        if self.visible is None:
            if self.resource is not None:
                log_in(self.access)
            raise DAVError(404, message)
        return self.visible


def locate(txn: Txn, segments: tuple[str, ...], paths: PathAccess | None = None) -> Target:
    """``paths``: the request's ``PathAccess``; None decides nothing (every privilege)."""
    if paths is None or paths.open:
        return _plain(txn, segments)
    walked = paths.walk(segments)
    if not all(st.readable for _, st in walked[:-1]):
        log_in(paths.access)  # an unreadable collection on the way
        return Target(segments, None, None)
    if len(walked) < len(segments) + 1:
        return Target(segments, None, None)  # missing, or not a collection, on the way
    resource, st = walked[-1]
    access = paths.access
    if not segments:
        return Target(segments, resource, None, st, access=access)
    parent, parent_step = walked[-2]
    if resource is None:
        return Target(segments, None, parent, parent_step=parent_step, access=access)
    return Target(segments, resource, parent, st, parent_step, access)


def _plain(txn: Txn, segments: tuple[str, ...]) -> Target:
    if not segments:
        return Target(segments, txn.root, None)
    try:
        parent = txn.resolve(segments[:-1])
    except (NotFound, NotACollection):
        return Target(segments, None, None)
    if not parent.is_collection:
        return Target(segments, None, None)
    return Target(segments, txn.lookup(parent.key, segments[-1]), parent)
