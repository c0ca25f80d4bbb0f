"""Preconditions of a modifying request: the ``If`` header and write locks.

RFC 4918 §7 and §10.4, RFC 5842 §9.  Order, as litmus and the RFC examples expect:
first the ``If`` header must evaluate true (412), then every lock the request would
violate must have its token submitted (423 with ``lock-token-submitted`` naming the lock
root).  A token counts as submitted by appearing anywhere in ``If`` (§10.4.1).
Locked state belongs to the resource (any URL of it needs the token); only the lock-root
URL is protected against unmapping (RFC 5842 §9, decision A-10).
"""

from __future__ import annotations

from collections.abc import Iterable

from davbind.protocol.errors import DAVError
from davbind.protocol.ifheader import IfHeader, ResourceState, evaluate_if, parse_if
from davbind.protocol.paths import encode_segment, lock_path, split_path
from davbind.server.http import Request
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import Lock, Resource


def lock_href(root: str) -> str:
    """Encoded href of a lock-root path (decoded segments joined by "/")."""
    parts = [p for p in root.split("/") if p]
    encoded = "/" + "/".join(encode_segment(p) for p in parts)
    return encoded + "/" if root.endswith("/") and parts else encoded


def covering_locks(txn: Txn, key: int) -> list[Lock]:
    """Locks whose scope holds resource ``key``: its own, and depth-infinity locks of any
    collection it is reachable from (RFC 4918 §6.1, RFC 5842 §9)."""
    if not txn.has_locks():
        return []  # the common case: no ancestor walk for a server without locks
    own = txn.locks_on([key])
    ancestors = txn.ancestors(key)
    ancestors.discard(key)
    inherited = [lk for lk in txn.locks_on(ancestors) if lk.infinite]
    return own + inherited


class Guard:
    """Checks one request's submitted tokens and ``If`` header inside a transaction."""

    def __init__(self, request: Request, txn: Txn) -> None:
        self.request = request
        self.txn = txn
        raw = " ".join(request.header_lines("if"))
        self.if_header: IfHeader | None = parse_if(raw) if raw.strip() else None
        self.tokens = self.if_header.tokens() if self.if_header else frozenset()
        self._if_checked = False

    def _require(self, locks: Iterable[Lock], condition: str | None = None) -> None:
        self.check_if()  # a false If header is 412 before any 423 (RFC 4918 §10.4.1)
        by_root: dict[str, list[Lock]] = {}
        for lk in locks:
            by_root.setdefault(lk.root, []).append(lk)
        for root, group in sorted(by_root.items()):
            if not any(lk.token in self.tokens for lk in group):
                extra = (condition,) if condition else ()
                raise DAVError(
                    423,
                    f"{lock_href(root)} is locked; submit its lock token in an If header",
                    ("lock-token-submitted", *extra),
                    (lock_href(root),),
                )

    def modify(self, resource: Resource, condition: str | None = None) -> None:
        """Content, properties or (for a collection) membership of ``resource`` change.

        ``condition`` names an RFC 5842 precondition reported next to
        ``lock-token-submitted`` (decision A-9)."""
        self._require(covering_locks(self.txn, resource.key), condition)

    def unmap(self, parent: int, segment: str, condition: str | None = None) -> None:
        """The binding ``parent:segment`` goes away (or is re-pointed): every URL that
        resolves through it stops mapping, whatever path the request used (RFC 5842 §9)."""
        self._require(locks_through(self.txn, parent, segment), condition)

    def check_if(self) -> None:
        """412 unless the ``If`` header (if any) evaluates true (RFC 4918 §10.4)."""
        if self.if_header is None or self._if_checked:
            return
        self._if_checked = True
        if not evaluate_if(self.if_header, self.request.raw_path, self._state):
            raise DAVError(412, "the If header evaluated false")

    def _state(self, raw_path: str) -> ResourceState | None:
        """The state an ``If`` list is matched against (RFC 4918 §10.4.4).

        A token matches when the URL is in the lock's scope: locks covering the resource,
        locks rooted at or below the URL (a request on a collection acts on its members),
        and, for an unmapped URL, the locks covering its parent collection (where a new
        member would be created; clients send untagged lists for that)."""
        try:
            segments = split_path(raw_path)
        except DAVError:
            return None
        target = locate(self.txn, segments)
        anchor = target.resource or target.parent
        if anchor is None:
            return None
        locks = covering_locks(self.txn, anchor.key)
        locks += self.txn.locks_rooted_at_or_below(lock_path(segments))
        tokens = frozenset(lk.token for lk in locks)
        if target.resource is None:
            return ResourceState(etag=None, lock_tokens=tokens)
        return ResourceState(etag=target.resource.etag, lock_tokens=tokens)


def _resolves_through(txn: Txn, root: str, parent: int, segment: str) -> bool:
    """Whether the lock-root path ``root`` resolves through binding ``parent:segment``."""
    node = txn.root_key
    for seg in (p for p in root.split("/") if p):
        if node == parent and seg == segment:
            return True
        nxt = txn.lookup(node, seg)
        if nxt is None:
            return False
        node = nxt.key
    return False


def locks_through(txn: Txn, parent: int, segment: str) -> list[Lock]:
    """Locks whose lock-root URL maps through the binding ``parent:segment`` (the locked
    resource is then the bound resource or one reachable from it)."""
    if not txn.has_locks():
        return []
    child = txn.lookup(parent, segment)
    if child is None:
        return []
    keys = txn.descendants(child.key) | {child.key}
    return [lk for lk in txn.locks_on(keys) if _resolves_through(txn, lk.root, parent, segment)]


def release_locks_through(txn: Txn, parent: int, segment: str) -> None:
    """A request that unmaps a lock-root URL deletes that lock (RFC 4918 §6.1 item 8,
    RFC 5842 §5 and §6 ``DAV:lock-deleted``).  Call before the binding changes."""
    for lk in locks_through(txn, parent, segment):
        txn.remove_lock(lk.token)
