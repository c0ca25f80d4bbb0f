"""Who may do what where: the one place privileges are decided (docs/permissions.md).

Privileges (RFC 3744 §3, plus ``share``) belong to resources, and the privileges a
request has on a resource are computed along the path the request used:

* walking from the root, each resource adds the grants it carries for the principal
  (the user, and ``AUTHENTICATED``) to those inherited from the collections above it;
* the inheritance stops where the owner changes: a folder of Alice's bound into Bob's
  space takes nothing from Bob's collections above it, only its own grants and those of
  Alice's collections below it on that path.  So a grant Bob holds on his own tree never
  reaches into what others shared with him, and what Alice shared read-only stays
  read-only wherever Bob binds it;
* a user has every privilege on what they own; every signed-in user may read what the
  server owns (the root, ``/home``, content made before accounts existed); an anonymous
  request has on the server's resources what ``serve`` allowed (read, or read and
  write) and nothing in anyone's home;
* the collections that hold the homes (``/home``, ``/remote.php/dav/files`` and the
  collections above it) are read-only to every request: homes are made and removed by
  ``davbind user``;
* a server without accounts, on an address where anonymous writes are allowed, is
  unrestricted: there is nobody to tell apart.

A request that passes through a collection the principal cannot read is answered as if
that path did not exist, except that an anonymous request is asked to log in (401 with
the challenges, RFC 9110 §11.6.1): a client that sends credentials only when challenged
(most do) must get the chance to.  A resource the principal cannot read is left out of listings,
``DAV:parent-set`` and 208s (RFC 3744 §7.1.1 allows omission; RFC 5842 §12).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import href
from davbind.storage.grants import AUTHENTICATED, Privilege, privilege_names
from davbind.storage.interface import Txn
from davbind.storage.model import Resource

__all__ = ["UNRESTRICTED", "Access", "PathAccess", "Privilege", "Step", "require"]

HOLDERS = frozenset({("home",), ("remote.php",), ("remote.php", "dav"),
                     ("remote.php", "dav", "files")})  # fmt: skip
"""Paths of the collections that hold the homes (``storage.homes``)."""

_HOLDER_PARENTS = frozenset(h[:-1] for h in HOLDERS)


class Member(Protocol):
    """What privileges are computed from: a ``Resource``, or a listing's ``MemberStamp``."""

    @property
    def key(self) -> int: ...

    @property
    def is_collection(self) -> bool: ...

    @property
    def owner(self) -> str | None: ...


M = TypeVar("M", bound=Member)


@dataclass(frozen=True, slots=True)
class Access:
    """Who a request is, for privilege decisions (set by ``server.auth``)."""

    user: str | None
    public: Privilege = Privilege.NONE  # an anonymous request's, on the server's resources
    unrestricted: bool = False


UNRESTRICTED = Access(None, Privilege.ALL, unrestricted=True)


@dataclass(frozen=True, slots=True)
class Step:
    """The privileges at one point of a path, and what passes on to the members."""

    owner: str | None
    inherited: Privilege
    privileges: Privilege

    @property
    def readable(self) -> bool:
        return Privilege.READ in self.privileges


ALL_STEP = Step(None, Privilege.ALL, Privilege.ALL)


def step(access: Access, above: Step | None, path: Sequence[str], resource: Member,
         grants: dict[str, Privilege] | None) -> Step:  # fmt: skip
    """The ``Step`` of ``resource`` reached at ``path`` from a collection at ``above``."""
    if access.unrestricted:
        return ALL_STEP
    owner = resource.owner
    inherited = above.inherited if above is not None and above.owner == owner else Privilege.NONE
    user = access.user
    if grants and user is not None:
        inherited |= grants.get(user, Privilege.NONE) | grants.get(AUTHENTICATED, Privilege.NONE)
    privileges = inherited
    if owner is None:
        privileges |= access.public if user is None else Privilege.READ
    elif owner == user:
        privileges = Privilege.ALL
    if tuple(path) in HOLDERS:
        privileges &= Privilege.READ
    return Step(owner, inherited, privileges)


class PathAccess:
    """Privileges along paths for one request over one snapshot; remembers the steps of
    the collections it walked, so a listing computes each member's from its parent's."""

    def __init__(self, txn: Txn, access: Access) -> None:
        self.txn = txn
        self.access = access
        self.open = access.unrestricted
        self._steps: dict[tuple[str, ...], Step] = {}
        self._mine: dict[int, dict[str, Privilege]] | None = None

    def grants(self, keys: Sequence[int]) -> dict[int, dict[str, Privilege]]:
        """The grants on ``keys`` that count for this principal (``step`` reads only the
        user's and ``AUTHENTICATED``'s): all of them are read once per request, since a
        principal holds few (one per share) and a listing asks for thousands of keys."""
        if self.open or self.access.user is None:
            return {}
        if self._mine is None:
            self._mine = {}
            for principal in (self.access.user, AUTHENTICATED):
                for grant in self.txn.grants_to(principal):
                    self._mine.setdefault(grant.key, {})[principal] = grant.privileges
        mine = self._mine
        if not mine:
            return mine
        return {key: mine[key] for key in keys if key in mine}

    def walk(self, segments: tuple[str, ...]) -> list[tuple[Resource | None, Step]]:
        """The resources along ``segments`` from the root, each with its step; ends after
        the first segment that is not bound (with ``None``) or after a non-collection.
        The grants of the whole path are read in one query."""
        txn = self.txn
        found: list[Resource] = [txn.root]
        missing = False
        for segment in segments:
            if not found[-1].is_collection:
                break
            child = txn.lookup(found[-1].key, segment)
            if child is None:
                missing = True
                break
            found.append(child)
        steps: list[Step] = []
        if self.open:
            steps = [ALL_STEP] * len(found)
        else:
            grants = self.grants([r.key for r in found])
            above: Step | None = None
            reachable = True  # every collection before this one is readable
            for depth, resource in enumerate(found):
                path = segments[:depth]
                st = step(self.access, above, path, resource, grants.get(resource.key))
                if reachable and resource.is_collection:
                    self._remember(path, st)
                reachable = reachable and st.readable
                steps.append(st)
                above = st
        walked: list[tuple[Resource | None, Step]] = list(zip(found, steps, strict=True))
        if missing:
            walked.append((None, ALL_STEP))
        return walked

    def _remember(self, path: tuple[str, ...], st: Step) -> None:
        """Keep the step of a collection reached through readable collections only (what
        ``at`` may answer without walking)."""
        if len(self._steps) >= 8192:
            self._steps.clear()
        self._steps[path] = st

    def at(self, segments: tuple[str, ...]) -> Step | None:
        """The step of the resource at ``segments``; None if it is not reachable there
        (unbound, or behind a collection the principal cannot read)."""
        if self.open:
            return ALL_STEP
        known = self._steps.get(segments)
        if known is not None:
            return known
        walked = self.walk(segments)
        if len(walked) < len(segments) + 1 or walked[-1][0] is None:
            return None
        if not all(st.readable for _, st in walked[:-1]):
            return None
        return walked[-1][1]

    def readable_at(self, segments: tuple[str, ...]) -> bool:
        found = self.at(segments)
        return found is not None and found.readable

    def members(self, path: tuple[str, ...], parent: Step,
                batch: Sequence[tuple[str, M]]) -> list[tuple[str, M]]:  # fmt: skip
        """The members of ``batch`` (of the collection at ``path``) the principal may
        read; the steps of the collections among them are remembered."""
        if self.open:
            return list(batch)
        grants = self.grants([r.key for _, r in batch])
        kept = []
        # a member without grants of its own, below the home holders, has the step of
        # any other such member with its owner: computed once per owner
        memo: dict[str | None, Step] = {}
        plain = path not in _HOLDER_PARENTS
        for segment, resource in batch:
            own = grants.get(resource.key) if grants else None
            if own is None and plain:
                st = memo.get(resource.owner)
                if st is None:
                    st = memo[resource.owner] = step(self.access, parent, path, resource, None)
            else:
                st = step(self.access, parent, (*path, segment), resource, own)
            if st.readable:
                kept.append((segment, resource))
                if resource.is_collection:
                    self._remember((*path, segment), st)
        return kept

    def member_step(self, path: tuple[str, ...], resource: Resource) -> Step:
        """The step of ``resource`` at ``path`` (its parent's step known or walked)."""
        if self.open:
            return ALL_STEP
        known = self._steps.get(path)
        if known is not None:
            return known
        parent = self.at(path[:-1]) if path else None
        return step(self.access, parent, path, resource,
                    self.grants([resource.key]).get(resource.key))  # fmt: skip

    def filtered(self, path: tuple[str, ...],
                 batches: Iterable[Sequence[tuple[str, M]]],
                 ) -> Iterator[list[tuple[str, M]]]:  # fmt: skip
        parent = self.at(path)
        for batch in batches:
            yield [] if parent is None else self.members(path, parent, batch)


CHALLENGES = (
    ("WWW-Authenticate", 'Basic realm="davbind", charset="UTF-8"'),
    ("WWW-Authenticate", 'Bearer realm="davbind"'),
)
"""What a 401 offers (RFC 7617 §2, RFC 6750 §3)."""


def log_in(access: Access) -> None:
    """401 with the challenges for an anonymous request that met something it may not
    see or do: logged in, it might."""
    if access.user is None and not access.unrestricted:
        raise DAVError(401, "log in to use this", headers=CHALLENGES)


def keep_holders(access: Access, segments: tuple[str, ...]) -> None:
    """403 for removing or replacing the binding of a collection that holds the homes
    (``HOLDERS``): whoever may unbind in the root must not take every home with it."""
    if not access.unrestricted and tuple(segments) in HOLDERS:
        raise DAVError(403, f"{href(segments, True)} holds the users' homes and stays",
                       ("need-privileges",))


def require(privileges: Privilege, wanted: Privilege, segments: tuple[str, ...],
            collection: bool = True, access: Access | None = None) -> None:  # fmt: skip
    """403 with ``DAV:need-privileges`` (RFC 3744 §7.1.1) unless ``wanted`` is held
    (401 for an anonymous ``access``)."""
    missing = wanted & ~privileges
    if missing:
        if access is not None:
            log_in(access)
        names = privilege_names(missing)
        where = href(segments, collection)
        raise DAVError(403, f"you lack the {', '.join(names)} privilege on {where}",
                       ("need-privileges",), hrefs=(where,), privileges=tuple(names))
