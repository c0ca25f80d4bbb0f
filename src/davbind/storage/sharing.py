"""Sharing is binding (docs/permissions.md): to share a resource with a user is to grant
them privileges on it and bind it into their ``Shared`` collection, so it appears in
their space with the same ``DAV:resource-id`` (RFC 5842 §3.1) and every change either
makes is the other's at once.  The recipient may unbind it from their space without
touching the owner's; revoking the grant ends their access on every path, and removes
the bindings in their ``Shared`` collection.

A share with ``AUTHENTICATED`` (every signed-in user) is a grant alone: nothing is bound
anywhere, the resource is reached by its own paths.

When the owner removes the last binding of a shared resource from their own space, the
shares end with it (``end_orphaned_shares``): its grants go, and so do the bindings
others hold to it, so it is reclaimed (RFC 5842 §5) instead of living on, on the owner's
quota, in the recipients' folders.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from davbind.storage.grants import AUTHENTICATED, Privilege
from davbind.storage.homes import HOME_PARENT
from davbind.storage.interface import Txn
from davbind.storage.model import Conflict, NotFound, Resource

SHARED = "Shared"
"""The collection of a home that shares are bound into."""


@dataclass(frozen=True, slots=True)
class Shared:
    """A share as made: the grant, and where the resource now appears (if bound)."""

    key: int
    principal: str
    privileges: Privilege
    bound_at: tuple[str, ...] | None


def _recipient_shared(txn: Txn, user: str) -> tuple[Resource, tuple[str, ...]]:
    """``/home/<user>/Shared/``, made (owned by ``user``) if missing."""
    home = txn.resolve((*HOME_PARENT, user))
    shared = txn.lookup(home.key, SHARED)
    if shared is None:
        shared = txn.create(home.key, SHARED, collection=True)
    elif not shared.is_collection:
        raise Conflict(f"/{'/'.join(HOME_PARENT)}/{user}/{SHARED} is not a collection")
    return shared, (*HOME_PARENT, user, SHARED)


def _free_name(txn: Txn, parent: int, wanted: str) -> str:
    name, n = wanted, 1
    while txn.lookup(parent, name) is not None:
        n += 1
        name = f"{wanted} ({n})"
    return name


def share(txn: Txn, segments: Sequence[str], principal: str,
          privileges: Privilege) -> Shared:  # fmt: skip
    """Grant ``privileges`` on the resource at ``segments`` to ``principal`` and, for a
    user who does not own it, bind it into their ``Shared`` collection (once: sharing
    again changes the grant).  ``NotFound`` for an unknown path or user."""
    resource = txn.resolve(tuple(segments))
    if not segments:
        raise Conflict("the root collection cannot be shared")
    if principal != AUTHENTICATED and txn.user(principal) is None:
        raise NotFound(f"user {principal}")
    txn.set_grant(resource.key, principal, privileges)
    if principal == AUTHENTICATED or resource.owner == principal:
        return Shared(resource.key, principal, privileges, None)
    shared, at = _recipient_shared(txn, principal)
    for segment, member in txn.children(shared.key):
        if member.key == resource.key:
            return Shared(resource.key, principal, privileges, (*at, segment))
    name = _free_name(txn, shared.key, segments[-1])
    txn.bind(shared.key, name, resource.key)
    return Shared(resource.key, principal, privileges, (*at, name))


def unshare(txn: Txn, segments: Sequence[str], principal: str) -> bool:
    """Remove ``principal``'s grant on the resource at ``segments`` and its bindings in
    their ``Shared`` collection; False if there was no grant."""
    resource = txn.resolve(tuple(segments))
    had = principal in txn.grants_on([resource.key]).get(resource.key, {})
    txn.set_grant(resource.key, principal, Privilege.NONE)
    if principal == AUTHENTICATED:
        return had
    try:
        home = txn.resolve((*HOME_PARENT, principal))
    except NotFound:
        return had
    shared = txn.lookup(home.key, SHARED)
    if shared is not None and shared.is_collection:
        for segment, member in list(txn.children(shared.key)):
            if member.key == resource.key:
                txn.unbind(shared.key, segment)
    return had


def end_orphaned_shares(txn: Txn) -> int:
    """End the shares of every resource bound only in other users' collections (its owner
    no longer binds it in a collection of their own, and the server binds it nowhere):
    remove its grants and every binding of it in those collections.  Repeats
    until none is left (ending one share may orphan a shared resource inside it).
    Returns how many resources lost their shares."""
    ended = 0
    if not txn.has_grants():
        return ended
    for _ in range(1000):  # each round removes at least one resource's grants
        orphans = txn.orphaned_shares()
        if not orphans:
            return ended
        for key in orphans:
            try:
                resource = txn.get(key)
            except NotFound:
                continue
            for principal in txn.grants_on([key]).get(key, {}):
                txn.set_grant(key, principal, Privilege.NONE)
            for parent, segment in txn.parents(key):
                try:  # only other users' bindings: none of the server's is left
                    if txn.get(parent).owner not in (resource.owner, None):
                        txn.unbind(parent, segment)
                except NotFound:  # reclaimed by an unbind before it
                    continue
            ended += 1
    return ended
