"""PROPFIND (RFC 4918 §9.1) with RFC 5842 §7 (208/508) and RFC 8144 (Prefer).

The multistatus is streamed: responses are produced one by one over one read snapshot,
in a reader thread (``storage_threads``), and sent in ~256 KiB chunks, so memory stays
flat whatever the number of members.  Everything that can fail the whole request (404,
400, a loop for a client without ``DAV: bind`` -> 508, too many responses -> 403
``propfind-finite-depth``) is decided before the first byte (decision A-20 in
docs/protocol-decisions.md).  With ``Accept: application/json`` the same entries are
streamed as JSON (``propfind_json``, decision D-3), and a 508 names the binding that
closes the loop (``closing_binding``).  Rendering is ``render.Renderer``'s, the one
renderer for every depth and form.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, dav_request_classes, parse_depth, parse_prefer
from davbind.protocol.multistatus import CONTENT_TYPE, END, START, status_response
from davbind.protocol.paths import href
from davbind.protocol.walk import (
    Children,
    LoopDetected,
    Run,
    Scan,
    Step,
    scan,
    visits,
    walk,
)
from davbind.protocol.xmlbody import PropfindRequest, parse_propfind
from davbind.server import propfind_json
from davbind.server.access import Access, PathAccess
from davbind.server.http import Request, Response
from davbind.server.listing_cache import ListingCache, Recording, Shape
from davbind.server.liveprops import LockView
from davbind.server.problem import wants_json
from davbind.server.render import Renderer
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import MemberStamp, Resource

FLUSH = 256 * 1024
Listed = Resource | MemberStamp
"""What a listing walks: members come as stamps when their texts are mostly kept."""
VARY = (("Vary", "DAV, Prefer, Depth, Accept"),)  # the answer depends on ``DAV: bind``


@dataclass(frozen=True, slots=True)
class _Ask:
    """One PROPFIND as parsed from its headers and body."""

    segments: tuple[str, ...]
    depth: Depth
    spec: PropfindRequest
    bind_aware: bool
    minimal: bool
    noroot: bool
    as_json: bool
    max_responses: int
    access: Access
    listings: ListingCache


def _plan(txn: Txn, ask: _Ask) -> tuple[None, Iterator[bytes]]:
    """Runs in a reader thread: decide the status, then return the body's chunks."""
    paths = PathAccess(txn, ask.access)
    resource = locate(txn, ask.segments, paths).readable()
    infinite = ask.depth is Depth.INFINITY
    shape = Shape.of(ask.spec, minimal=ask.minimal, as_json=ask.as_json)
    recording = None
    if (shape is not None and ask.depth is not Depth.ZERO and resource.is_collection
            and ask.listings.max_bytes > 0):  # fmt: skip
        recording = Recording(ask.listings, ask.access, shape)
    # a collection listed before (Depth 1) is read as stamps: most members' texts are kept
    stamps = recording is not None and not infinite and recording.known(resource.key)

    def children(node: Listed, path: tuple[str, ...]) -> Iterable[Sequence[tuple[str, Listed]]]:
        batches: Iterable[Sequence[tuple[str, Listed]]] = (
            txn.member_stamps(node.key) if stamps else txn.members(node.key)
        )
        return batches if paths.open else paths.filtered(ask.segments + path, batches)

    if infinite and resource.is_collection:
        plan: Scan | _ReadableScan = scan(resource.key, True, txn.edges_below(resource.key))
        over = (plan.responses_bind_aware if ask.bind_aware else plan.responses_plain)
        if not paths.open and ((plan.has_loop and not ask.bind_aware) or over is None
                               or over > ask.max_responses):  # fmt: skip
            # the whole graph has a loop or too many responses; what the principal may
            # read (a part of it) may not: walk that to decide (without a loop and within
            # the bound, the part is too, and the edge scan is enough)
            plan = _readable_scan(resource, children, ask)
        if plan.has_loop and not ask.bind_aware:
            closing = None
            if ask.as_json:
                closing = (plan.closing if isinstance(plan, _ReadableScan)
                           else closing_binding(txn, resource, ask.segments))  # fmt: skip
            raise DAVError(
                508, "binding loop below the target; send 'DAV: bind' to get 208 responses",
                hrefs=(closing,) if closing else (), headers=VARY,
            )
        count = plan.responses_bind_aware if ask.bind_aware else plan.responses_plain
        if count is None or count > ask.max_responses:
            raise DAVError(
                403,
                f"Depth: infinity would produce more than {ask.max_responses} responses",
                ("propfind-finite-depth",),
                headers=VARY,
            )
    renderer = Renderer(txn, ask.spec, locks=LockView(txn), minimal=ask.minimal,
                        as_json=ask.as_json, access=None if paths.open else paths,
                        recording=recording)  # fmt: skip
    root: Listed = resource
    steps = walk(root, children, infinite=infinite, bind_aware=ask.bind_aware,
                 depth_one=ask.depth is Depth.ONE)  # fmt: skip
    return None, _chunks(renderer, steps, ask)


@dataclass(frozen=True, slots=True)
class _ReadableScan:
    has_loop: bool
    responses_bind_aware: int | None
    responses_plain: int | None
    closing: str | None


def _readable_scan(resource: Listed, children: Children[Listed], ask: _Ask) -> _ReadableScan:
    """``scan`` over what the principal may read: a walk without rendering, stopped past
    ``max_responses``.  Costs the listing's queries once more; only restricted requests
    take it (an unrestricted one has nothing hidden, and ``scan`` reads edges only)."""
    count = 0
    limit = ask.max_responses
    try:
        for _ in visits(walk(resource, children, infinite=True, bind_aware=ask.bind_aware)):
            count += 1
            if count > limit:
                break
    except LoopDetected as loop:
        return _ReadableScan(True, None, None, href(ask.segments + loop.path, True))
    return _ReadableScan(False, count, count, None)


def closing_binding(txn: Txn, root: Resource, segments: tuple[str, ...]) -> str | None:
    """The href of the binding that closes the first loop a Depth-infinity walk without
    ``DAV: bind`` meets (RFC 5842 §7.2): depth-first, segments in code-point order, the
    walk's own order.  Each collection is explored once (a collection whose subtree was
    explored without meeting the current path cannot lead back to it)."""
    on_path = {root.key}
    done: set[int] = set()
    stack: list[tuple[int, tuple[str, ...], Iterator[tuple[str, Resource]]]] = [
        (root.key, (), iter(txn.children(root.key)))
    ]
    while stack:
        key, path, members = stack[-1]
        for seg, child in members:
            if not child.is_collection or child.key in done:
                continue
            if child.key in on_path:
                return href((*segments, *path, seg), True)
            on_path.add(child.key)
            stack.append((child.key, (*path, seg), iter(txn.children(child.key))))
            break
        else:
            stack.pop()
            on_path.discard(key)
            done.add(key)
    return None


def _chunks(renderer: Renderer, steps: Iterator[Step[Listed]], ask: _Ask) -> Iterator[bytes]:
    start, sep, end = (propfind_json.START, ",", propfind_json.END) if ask.as_json else (
        START, "", END
    )
    buf: list[str] = [start]
    size = len(start)
    first = True
    collections: dict[tuple[str, ...], int] = {}  # path below the target -> key
    try:
        for step in steps:
            if isinstance(step, Run):
                parts = renderer.run(ask.segments + step.prefix, step.members,
                                     collections.get(step.prefix))  # fmt: skip
            else:
                # only members of a Depth-1 listing come as stamps, never a visited node
                assert isinstance(step.node, Resource)
                if step.node.is_collection and step.status == 200:
                    collections[step.path] = step.node.key
                if ask.noroot and not step.path:  # left out, but a later 208 may name it
                    renderer.reported(renderer.hrefs(ask.segments, step.node.is_collection),
                                      step.node, step.status)  # fmt: skip
                    continue
                parts = [renderer.one(ask.segments + step.path, step.node, step.status)]
            if sep and parts:  # JSON: entries separated by commas
                parts = [sep + p for p in parts]
                if first:
                    parts[0] = parts[0][len(sep) :]
            first = first and not parts
            buf += parts
            size += sum(map(len, parts))
            if size >= FLUSH:
                yield "".join(buf).encode()
                buf, size = [], 0
    except LoopDetected as loop:  # only if the pre-scan missed it (decision A-20)
        segs = ask.segments + loop.path
        if ask.as_json:
            buf.append(("" if first else sep) + propfind_json.loop_entry(segs))
        else:
            buf.append(status_response(href(segs, True), 508))
    else:
        if renderer.recording is not None:
            renderer.recording.finish()  # every collection listed to its end
    buf.append(end)
    yield "".join(buf).encode()


async def propfind(services: Services, request: Request) -> Response:
    depth = parse_depth(request.header("depth"), default=Depth.INFINITY)
    body = await request.body(services.settings.max_xml_bytes)
    prefer = parse_prefer(request.header_lines("prefer"))
    ask = _Ask(
        segments=request.segments,
        depth=depth,
        spec=parse_propfind(body),
        bind_aware="bind" in dav_request_classes(request.header_lines("dav")),
        minimal="return=minimal" in prefer or (request.header("brief") or "").lower() == "t",
        noroot="depth-noroot" in prefer and depth is not Depth.ZERO,
        as_json=wants_json(request.header("accept")),
        max_responses=services.settings.max_propfind_responses,
        access=request.access,
        listings=services.listings,
    )
    _, payload = await services.threads.stream(lambda txn: _plan(txn, ask))
    ctype = propfind_json.CONTENT_TYPE if ask.as_json else CONTENT_TYPE
    headers = [("Content-Type", ctype), *VARY]
    applied = [p for p in ("return=minimal", "depth-noroot") if p in prefer]
    if applied:
        headers.append(("Preference-Applied", ", ".join(applied)))
    return Response(207, headers, payload)
