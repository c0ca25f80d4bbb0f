"""PROPFIND (RFC 4918 §9.1) with RFC 5842 §7 (208/508) and RFC 8144 (Prefer).

The multistatus is streamed: responses are produced one by one from a read snapshot and
sent in ~64 KiB chunks, so memory stays flat whatever the number of members, and no file
content is ever opened.  Everything that can fail the whole request (404, 400, a loop for
a client without ``DAV: bind`` -> 508, too many responses -> 403
``propfind-finite-depth``) is decided before the first byte (spec A-20).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, dav_request_classes, parse_depth, parse_prefer
from davbind.protocol.multistatus import CONTENT_TYPE, END, START, propstat, response
from davbind.protocol.paths import href
from davbind.protocol.walk import LoopDetected, Visit, scan, walk
from davbind.protocol.xmlbody import PropfindRequest, element_xml, parse_propfind
from davbind.server.http import Request, Response
from davbind.server.liveprops import ALLPROP, REGISTRY, PropContext
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import Resource

FLUSH = 64 * 1024


def render(
    txn: Txn,
    resource: Resource,
    segments: tuple[str, ...],
    spec: PropfindRequest,
    status: int,
    *,
    any_locks: bool,
    minimal: bool,
) -> str:
    """One ``<D:response>`` for ``resource`` reached at ``segments``."""
    ctx = PropContext(txn, resource, segments, any_locks)
    found: list[str] = []
    missing: list[str] = []
    if spec.kind == "propname":
        names = [n for n, p in REGISTRY.items() if p.render(ctx) is not None]
        names += [d.name for d in txn.dead_props(resource.key)]
        found = [element_xml(n) for n in dict.fromkeys(names)]
    else:
        dead = {d.name: d.xml for d in txn.dead_props(resource.key)}
        if spec.kind == "allprop":
            wanted = list(ALLPROP) + [n for n in dead if n not in REGISTRY]
            wanted += [n for n in spec.include if n not in wanted]
        else:
            wanted = list(spec.names)
        for name in wanted:
            live = REGISTRY.get(name)
            value = live.render(ctx) if live is not None else dead.get(name)
            if value is None:
                value = dead.get(name) if live is not None else None
            if value is None:
                if spec.kind != "allprop" or name in spec.include:
                    missing.append(element_xml(name))
            else:
                found.append(value)
    stats = [propstat(status, found)] if found or not missing else []
    if missing and not minimal:
        stats.append(propstat(404, missing))
    if not stats:
        stats = [propstat(status, [])]
    return response(href(segments, resource.is_collection), stats)


def _stream(
    stack: ExitStack,
    txn: Txn,
    visits: Iterator[Visit[Resource]],
    request: Request,
    spec: PropfindRequest,
    *,
    minimal: bool,
    noroot: bool,
) -> Iterator[bytes]:
    try:
        any_locks = txn.has_locks()
        buf: list[str] = [START]
        size = len(START)
        try:
            for visit in visits:
                if noroot and not visit.path:
                    continue
                part = render(
                    txn, visit.node, request.segments + visit.path, spec, visit.status,
                    any_locks=any_locks, minimal=minimal,
                )
                buf.append(part)
                size += len(part)
                if size >= FLUSH:
                    yield "".join(buf).encode()
                    buf, size = [], 0
        except LoopDetected as loop:  # only if the pre-scan missed it (spec A-20)
            segs = request.segments + loop.path
            buf.append(
                "<D:response><D:href>" + href(segs, True) + "</D:href>"
                "<D:status>HTTP/1.1 508 Loop Detected</D:status></D:response>"
            )
        buf.append(END)
        yield "".join(buf).encode()
    finally:
        stack.close()


async def propfind(services: Services, request: Request) -> Response:
    depth = parse_depth(request.header("depth"), default=Depth.INFINITY)
    body = await request.body(services.settings.max_xml_bytes)
    spec = parse_propfind(body)
    bind_aware = "bind" in dav_request_classes(request.header_lines("dav"))
    prefer = parse_prefer(request.header_lines("prefer"))
    minimal = "return=minimal" in prefer or (request.header("brief") or "").lower() == "t"
    noroot = "depth-noroot" in prefer and depth is not Depth.ZERO
    stack = ExitStack()
    try:
        txn = stack.enter_context(services.store.read())
        resource = locate(txn, request.segments).resource
        if resource is None:
            raise DAVError(404, "not found")
        infinite = depth is Depth.INFINITY
        if infinite and resource.is_collection:
            plan = scan(resource.key, True, txn.edges_below(resource.key))
            if plan.has_loop and not bind_aware:
                raise DAVError(
                    508, "binding loop below the target; send 'DAV: bind' to get 208 responses"
                )
            count = plan.responses_bind_aware if bind_aware else plan.responses_plain
            cap = services.settings.max_propfind_responses
            if count is None or count > cap:
                raise DAVError(
                    403,
                    f"Depth: infinity would produce more than {cap} responses",
                    ("propfind-finite-depth",),
                )
        visits = walk(
            resource,
            lambda r: txn.children(r.key),
            infinite=infinite,
            bind_aware=bind_aware,
            depth_one=depth is Depth.ONE,
        )
        chunks = _stream(stack, txn, visits, request, spec, minimal=minimal, noroot=noroot)
    except BaseException:
        stack.close()
        raise
    headers = [("Content-Type", CONTENT_TYPE), ("Vary", "DAV, Prefer, Depth")]
    applied = [p for p in ("return=minimal", "depth-noroot") if p in prefer]
    if applied:
        headers.append(("Preference-Applied", ", ".join(applied)))
    return Response(207, headers, chunks)
