"""BIND, UNBIND and REBIND (RFC 5842 §4, §5, §6) with the checks of
docs/protocol-decisions.md §4.5–§4.7.

Status for each precondition (decision A-1, A-8, A-9, A-11): 404 for an unmapped
Request-URI; 409 for a non-collection Request-URI or a missing source/binding; 403 for
``name-allowed``, ``binding-allowed``, ``cross-server-binding``, ``cycle-allowed``; 412
for ``can-overwrite``; 423 for lock conditions.  Every change runs in one write
transaction: a failure after a partial change rolls it all back (B-4-4, B-5-3, B-6-3).
Loops are allowed unless the server is configured otherwise; a change that would leave a
resource unreachable from the root is always refused (A-12).
"""

from __future__ import annotations

from urllib.parse import unquote

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import SimpleRef, parse_overwrite, parse_simple_ref
from davbind.protocol.paths import check_segment, href, split_path
from davbind.protocol.xmlbody import parse_bind, parse_rebind, parse_unbind
from davbind.server.access import PathAccess, Privilege, keep_holders
from davbind.server.http import Request, Response
from davbind.server.lock_rules import Guard, release_locks_through
from davbind.server.services import Services
from davbind.server.target import Target, locate
from davbind.storage.interface import Txn
from davbind.storage.model import Resource
from davbind.storage.sharing import end_orphaned_shares

MAX_BINDINGS_PER_RESOURCE = 1000


def _collection(txn: Txn, paths: PathAccess, request: Request, condition: str,
                wanted: Privilege) -> Resource:  # fmt: skip
    """The Request-URI collection: 404 if unmapped, 409 + ``condition`` if not a
    collection, 403 without ``wanted`` on it (RFC 3744 §3.9, §3.10)."""
    target = locate(txn, request.segments, paths)
    resource = target.readable("the Request-URI is not mapped")
    if not resource.is_collection:
        raise DAVError(409, "the Request-URI is not a collection", (condition,))
    target.need(wanted)
    return resource


def _segment(raw: str) -> str:
    """Spec A-7: segments are percent-encoded; raw text is accepted leniently."""
    try:
        seg = unquote(raw, errors="strict")
    except UnicodeDecodeError as exc:
        raise DAVError(403, "segment is not valid UTF-8", ("name-allowed",)) from exc
    check_segment(seg, status=403, conditions=("name-allowed",))
    return seg


def _href_segments(request: Request, value: str, missing: str) -> tuple[str, ...]:
    """The segments of a body ``DAV:href`` on this server (B-4-X1)."""
    try:
        ref: SimpleRef = parse_simple_ref(value, name="DAV:href")
    except DAVError as exc:
        raise DAVError(409, exc.message, (missing,)) from exc
    if ref.origin is not None:
        ours = parse_simple_ref(f"{request.scheme}://{request.host}/", name="Host").origin
        if ref.origin != ours:
            raise DAVError(403, "bindings to other servers are not supported",
                           ("cross-server-binding",))
    try:
        return split_path(ref.path)
    except DAVError as exc:
        raise DAVError(409, exc.message, (missing,)) from exc


def _location(request: Request, segments: tuple[str, ...], collection: bool) -> str:
    return f"{request.scheme}://{request.host}{href(segments, collection)}"


def _check_loops(services: Services, txn: Txn, resource: Resource) -> None:
    """Refuse what leaves ``resource`` unreachable (A-12) or, when loops are disabled,
    what puts it on a loop (B-4-P7, B-6-P6, A-6)."""
    if not txn.reachable(resource.key):
        raise DAVError(403, "the change would leave the resource unreachable from the root",
                       ("cycle-allowed",))
    if (
        resource.is_collection
        and not services.settings.allow_loops
        and resource.key in txn.ancestors(resource.key)
    ):
        raise DAVError(403, "this server does not allow binding loops", ("cycle-allowed",))


def refuse_loop(services: Services, txn: Txn, collection: Resource, bound: Resource) -> None:
    """Before any lock check (the order of docs/protocol-decisions.md §4.5): binding
    ``bound`` into ``collection`` makes a loop iff ``collection`` is ``bound`` or reachable
    from it (B-4-P7, B-6-P6)."""
    if services.settings.allow_loops or not bound.is_collection:
        return
    if collection.key == bound.key or collection.key in txn.descendants(bound.key):
        raise DAVError(403, "this server does not allow binding loops", ("cycle-allowed",))


def refuse_replacing_ancestor(txn: Txn, existing: Resource | None, moved: Resource) -> None:
    """Replacing (or overwriting) a binding to a collection that contains the resource
    being bound or copied would destroy that resource on the way: 409."""
    if existing is not None and (
        existing.key == moved.key or moved.key in txn.descendants(existing.key)
    ):
        raise DAVError(409, "the destination contains the source")


def move_binding(
    services: Services, txn: Txn, src: Target, parent: Resource, segment: str, *, replacing: bool
) -> None:
    """The one rebind, shared by REBIND and MOVE (RFC 5842 §2.5, §6): bind (or re-point)
    ``parent:segment`` to the source resource, remove the source binding, delete locks
    rooted at either unmapped URL (RFC 4918 §6.1), then apply the loop rules (A-6, A-12).
    Preconditions and lock tokens are the caller's."""
    assert src.resource is not None and src.parent is not None
    if replacing:
        release_locks_through(txn, parent.key, segment)
        txn.replace(parent.key, segment, src.resource.key)
    else:
        txn.bind(parent.key, segment, src.resource.key)
    release_locks_through(txn, src.parent.key, src.segment)
    txn.unbind(src.parent.key, src.segment)
    check_loops_after_move(services, txn, src.resource.key)
    end_orphaned_shares(txn)


def check_loops_after_move(services: Services, txn: Txn, key: int) -> None:
    """MOVE is a rebind (RFC 5842 §2.5): same loop rules (A-6, A-12)."""
    if not txn.reachable(key):
        raise DAVError(403, "cannot move a collection into itself", ("cycle-allowed",))
    _check_loops(services, txn, txn.get(key))


async def bind(services: Services, request: Request) -> Response:
    """RFC 5842 §4: 201 + Location for a new binding, 204 for a replaced one."""
    spec = parse_bind(await request.body(services.settings.max_xml_bytes))
    overwrite_header = request.header("overwrite")

    def work(txn: Txn) -> Response:
        paths = PathAccess(txn, request.access)
        coll = _collection(txn, paths, request, "bind-into-collection", Privilege.BIND)
        source_segments = _href_segments(request, spec.href, "bind-source-exists")
        source = locate(txn, source_segments, paths).visible
        if source is None:
            raise DAVError(409, "DAV:href does not identify a resource", ("bind-source-exists",))
        segment = _segment(spec.segment)
        if source.key == txn.root_key:
            raise DAVError(403, "the root collection cannot be bound", ("binding-allowed",))
        if len(txn.parents(source.key)) >= MAX_BINDINGS_PER_RESOURCE:
            raise DAVError(403, f"more than {MAX_BINDINGS_PER_RESOURCE} bindings",
                           ("binding-allowed",))
        existing = txn.lookup(coll.key, segment)
        if existing is not None and not parse_overwrite(overwrite_header):
            raise DAVError(412, "a binding with that segment exists", ("can-overwrite",))
        member = (*request.segments, segment)
        if existing is not None:
            keep_holders(request.access, member)
        refuse_loop(services, txn, coll, source)
        guard = Guard(request, txn)
        guard.modify(coll, "locked-update-allowed")
        if existing is not None:
            guard.unmap(coll.key, segment, "locked-overwrite-allowed")
        guard.check_if()
        if existing is None:
            txn.bind(coll.key, segment, source.key)
        else:
            release_locks_through(txn, coll.key, segment)
            txn.replace(coll.key, segment, source.key)
        _check_loops(services, txn, source)
        if existing is not None:
            end_orphaned_shares(txn)
        if existing is None:
            return Response(201, [("Location", _location(request, member, source.is_collection))])
        return Response(204)

    return await services.threads.write(work)


async def unbind(services: Services, request: Request) -> Response:
    """RFC 5842 §5: remove one binding; 204.  Reclaims only what became unreachable."""
    spec = parse_unbind(await request.body(services.settings.max_xml_bytes))

    def work(txn: Txn) -> Response:
        paths = PathAccess(txn, request.access)
        coll = _collection(txn, paths, request, "unbind-from-collection", Privilege.UNBIND)
        try:
            segment = _segment(spec.segment)
        except DAVError as exc:
            raise DAVError(409, exc.message, ("unbind-source-exists",)) from exc
        if txn.lookup(coll.key, segment) is None:
            raise DAVError(409, "no binding with that segment", ("unbind-source-exists",))
        keep_holders(request.access, (*request.segments, segment))
        guard = Guard(request, txn)
        guard.modify(coll, "locked-update-allowed")
        guard.unmap(coll.key, segment, "protected-url-deletion-allowed")
        guard.check_if()
        release_locks_through(txn, coll.key, segment)
        txn.unbind(coll.key, segment)
        end_orphaned_shares(txn)
        return Response(204)

    return await services.threads.write(work)


async def rebind(services: Services, request: Request) -> Response:
    """RFC 5842 §6: move one binding atomically; 201 new, 204 replaced (A-11)."""
    spec = parse_rebind(await request.body(services.settings.max_xml_bytes))
    overwrite_header = request.header("overwrite")

    def work(txn: Txn) -> Response:
        paths = PathAccess(txn, request.access)
        coll = _collection(txn, paths, request, "rebind-into-collection", Privilege.BIND)
        source_segments = _href_segments(request, spec.href, "rebind-source-exists")
        src = locate(txn, source_segments, paths)
        if src.visible is None or src.parent is None:
            raise DAVError(409, "DAV:href does not identify a binding", ("rebind-source-exists",))
        src.need_parent(Privilege.UNBIND)
        moving = src.visible
        segment = _segment(spec.segment)
        member = (*request.segments, segment)
        if member == source_segments:
            raise DAVError(403, "source and destination are the same binding")
        existing = txn.lookup(coll.key, segment)
        if existing is not None and not parse_overwrite(overwrite_header):
            raise DAVError(412, "a binding with that segment exists", ("can-overwrite",))
        if existing is not None:
            keep_holders(request.access, member)
        refuse_loop(services, txn, coll, moving)
        if existing is not None and existing.key != moving.key:
            refuse_replacing_ancestor(txn, existing, moving)
        guard = Guard(request, txn)
        guard.modify(coll, "locked-update-allowed")
        if existing is not None:
            guard.unmap(coll.key, segment, "protected-url-modification-allowed")
        guard.modify(src.parent, "locked-source-collection-update-allowed")
        guard.unmap(src.parent.key, src.segment, "protected-source-url-deletion-allowed")
        guard.check_if()
        move_binding(services, txn, src, coll, segment, replacing=existing is not None)
        if existing is None:
            return Response(201, [("Location", _location(request, member, moving.is_collection))])
        return Response(204)

    return await services.threads.write(work)
