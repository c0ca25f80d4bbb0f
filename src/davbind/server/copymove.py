"""COPY and MOVE (RFC 4918 §9.8, §9.9) over bindings (RFC 5842 §2.3, §2.5; decision A-3, A-15).

MOVE is a rebind: the destination binding is added and the source binding removed in one
transaction; the resource keeps its id, dead properties and other bindings.
COPY snapshots the source graph first (so a destination inside the source terminates),
then copies it keeping its internal binding structure: a resource met twice is copied
once and bound twice, and loops are reproduced inside the copy (B-2.3-5).  A destination
URL that already maps to a resource of the same kind is updated in place (A-3), keeping
its id and its other bindings; destination members absent from the source are unbound.
"""

from __future__ import annotations

from collections.abc import Iterator

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, parse_depth, parse_destination, parse_overwrite
from davbind.protocol.paths import split_path
from davbind.server.access import PathAccess, Privilege
from davbind.server.bindings import move_binding, refuse_replacing_ancestor
from davbind.server.http import Request, Response
from davbind.server.lock_rules import Guard, release_locks_through
from davbind.server.services import Services
from davbind.server.target import Target, locate
from davbind.storage.interface import Txn
from davbind.storage.model import Resource
from davbind.storage.sharing import end_orphaned_shares


def _destination(request: Request) -> tuple[str, ...]:
    if request.has_body():
        raise DAVError(415, f"{request.method} does not take a request body")
    raw = parse_destination(
        request.header("destination"), scheme=request.scheme, host=request.host
    )
    return split_path(raw)


def _prepare(txn: Txn, paths: PathAccess, request: Request, dest_segments: tuple[str, ...],
             ) -> tuple[Target, Target]:  # fmt: skip
    source = locate(txn, request.segments, paths)
    resource = source.readable("source not found")
    if dest_segments == request.segments:
        raise DAVError(403, "source and destination are the same URL")
    if not dest_segments:
        raise DAVError(403, "the root collection cannot be overwritten")
    overwrite = parse_overwrite(request.header("overwrite"))
    dest = locate(txn, dest_segments, paths)
    if dest.parent is None:
        raise DAVError(409, "the destination's parent collection does not exist")
    # RFC 3744 Appendix B: bind on the destination's collection, and unbind there too
    # when an existing binding is replaced
    dest.need_parent(Privilege.BIND if dest.resource is None else Privilege.BIND | Privilege.UNBIND)
    if dest.resource is not None:
        if not overwrite:
            raise DAVError(412, "destination exists and Overwrite is F")
        if dest.resource.key == resource.key:
            raise DAVError(403, "source and destination are bindings of the same resource")
        refuse_replacing_ancestor(txn, dest.resource, resource)
    return source, dest


def _snapshot(txn: Txn, paths: PathAccess, source: Target, infinite: bool,
              ) -> dict[int, list[tuple[str, Resource]]]:  # fmt: skip
    """The members of every collection to copy, by key.  Members the principal may not
    read are left out: a copy never reveals them (``server.access``)."""
    root = source.resource
    assert root is not None
    members: dict[int, list[tuple[str, Resource]]] = {}
    if not root.is_collection:
        return members
    if not infinite:
        members[root.key] = []
        return members
    stack = [(root, source.segments)]
    while stack:
        node, path = stack.pop()
        if node.key in members:
            continue
        kids = [m for batch in paths.filtered(path, txn.members(node.key)) for m in batch]
        members[node.key] = kids
        stack.extend((child, (*path, seg)) for seg, child in kids if child.is_collection)
    return members


_Frame = tuple[int, Iterator[tuple[str, Resource]]]
"""A destination collection being filled, and the source members still to place in it."""


class _Copier:
    """One COPY: maps each source resource to the destination resource made for it.

    The source graph is walked depth first, members in segment order, with a stack of
    its own: a chain of any depth is copied without Python recursion (and so without
    its limit, which a tree a thousand levels deep reached)."""

    def __init__(self, txn: Txn, members: dict[int, list[tuple[str, Resource]]]) -> None:
        self.txn = txn
        self.members = members
        self.mapping: dict[int, int] = {}
        self.source_keys = set(members) | {c.key for kids in members.values() for _, c in kids}

    def copy(self, src: Resource, parent: int, seg: str, existing: Resource | None) -> None:
        """Copy ``src`` to the binding ``seg`` of ``parent`` (now ``existing``)."""
        stack: list[_Frame] = []
        frame = self._place(src, parent, seg, existing)
        if frame is not None:
            stack.append(frame)
        while stack:
            key, kids = stack[-1]
            member = next(kids, None)
            if member is None:
                stack.pop()
                continue
            child_seg, child = member
            # looked up only now: copying the members before it may have changed it
            frame = self._place(child, key, child_seg, self.txn.lookup(key, child_seg))
            if frame is not None:
                stack.append(frame)

    def _place(self, src: Resource, parent: int, seg: str, existing: Resource | None,
               ) -> _Frame | None:  # fmt: skip
        """Bind (a copy of) ``src`` as ``seg`` in ``parent``; for a collection copied now,
        the frame of its members still to place."""
        txn = self.txn
        if src.key in self.mapping:  # copied already in this request: bind again
            if existing is not None and existing.key == self.mapping[src.key]:
                return None
            if existing is not None:
                release_locks_through(txn, parent, seg)
                txn.unbind(parent, seg)
            txn.bind(parent, seg, self.mapping[src.key])
            return None
        # a destination resource met twice (several bindings to it) is updated again;
        # the last source wins, an order RFC 5842 §2.3 leaves to the server (B-2.3-4)
        in_place = (
            existing is not None
            and existing.is_collection == src.is_collection
            and existing.key not in self.source_keys
        )
        if in_place:
            assert existing is not None
            key = existing.key
            if not src.is_collection:
                txn.set_content(key, src.digest, src.size, src.content_type)
        else:
            if existing is not None:
                release_locks_through(txn, parent, seg)
                txn.unbind(parent, seg)
            key = txn.create(
                parent, seg, collection=src.is_collection, digest=src.digest,
                size=src.size, content_type=src.content_type,
            ).key
        txn.copy_dead_props(src.key, key)
        self.mapping[src.key] = key
        if not src.is_collection:
            return None
        kids = self.members.get(src.key, [])
        names = {s for s, _ in kids}
        for old, _ in list(txn.children(key)):
            if old not in names:
                release_locks_through(txn, key, old)
                txn.unbind(key, old)
        return key, iter(kids)


async def copy(services: Services, request: Request) -> Response:
    """RFC 4918 §9.8: 201 new, 204 overwritten, 412 Overwrite F, 409 no parent."""
    dest_segments = _destination(request)

    def work(txn: Txn) -> Response:
        paths = PathAccess(txn, request.access)
        source, dest = _prepare(txn, paths, request, dest_segments)
        assert source.resource is not None and dest.parent is not None
        infinite = True
        if source.resource.is_collection:
            depth = parse_depth(request.header("depth"), default=Depth.INFINITY,
                                allowed=frozenset({Depth.ZERO, Depth.INFINITY}))
            infinite = depth is Depth.INFINITY
        guard = Guard(request, txn)
        guard.modify(dest.parent)
        if dest.resource is not None:
            guard.modify(dest.resource)
            guard.unmap(dest.parent.key, dest.segment)
        guard.check_if()
        members = _snapshot(txn, paths, source, infinite)
        _Copier(txn, members).copy(source.resource, dest.parent.key, dest.segment, dest.resource)
        if dest.resource is not None:  # an overwrite removed bindings
            end_orphaned_shares(txn)
        return _created_or_replaced(dest)

    return await services.threads.write(work)


async def move(services: Services, request: Request) -> Response:
    """RFC 4918 §9.9 as a rebind (RFC 5842 §2.5): one binding removed, one added."""
    dest_segments = _destination(request)

    def work(txn: Txn) -> Response:
        paths = PathAccess(txn, request.access)
        source, dest = _prepare(txn, paths, request, dest_segments)
        assert source.resource is not None and dest.parent is not None
        if source.parent is None:
            raise DAVError(403, "the root collection cannot be moved")
        source.need_parent(Privilege.UNBIND)
        if source.resource.is_collection:
            parse_depth(request.header("depth"), default=Depth.INFINITY,
                        allowed=frozenset({Depth.INFINITY}))
        guard = Guard(request, txn)
        guard.modify(source.parent)
        guard.unmap(source.parent.key, source.segment)
        guard.modify(dest.parent)
        if dest.resource is not None:
            guard.unmap(dest.parent.key, dest.segment)
        guard.check_if()
        if not paths.open and source.parent.owner != dest.parent.owner:
            # from one owner's space into another's: the content becomes the destination
            # owner's, as a copy (RFC 4918 §9.9 allows a MOVE to be a COPY and a DELETE;
            # docs/permissions.md).  A move within one space (a share's binding moved
            # about its recipient's space included) stays a rebind
            members = _snapshot(txn, paths, source, True)
            _Copier(txn, members).copy(source.resource, dest.parent.key, dest.segment,
                                       dest.resource)  # fmt: skip
            release_locks_through(txn, source.parent.key, source.segment)
            txn.unbind(source.parent.key, source.segment)
            end_orphaned_shares(txn)
            return _created_or_replaced(dest)
        # Overwrite: T deletes the destination binding first (RFC 4918 §9.9.3); re-pointing
        # it is the same thing here, the old resource is reclaimed if nothing else reaches it
        move_binding(services, txn, source, dest.parent, dest.segment,
                     replacing=dest.resource is not None)
        return _created_or_replaced(dest)

    return await services.threads.write(work)


def _created_or_replaced(dest: Target) -> Response:
    if dest.resource is None:
        return Response(201, [("Location", dest.href)])
    return Response(204)
