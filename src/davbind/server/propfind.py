"""PROPFIND (RFC 4918 §9.1) with RFC 5842 §7 (208/508) and RFC 8144 (Prefer).

The multistatus is streamed: responses are produced one by one from a read snapshot and
sent in ~256 KiB chunks, so memory stays flat whatever the number of members, and no file
content is ever opened.  Everything that can fail the whole request (404, 400, a loop for
a client without ``DAV: bind`` -> 508, too many responses -> 403
``propfind-finite-depth``) is decided before the first byte (spec A-20).  With
``Accept: application/json`` the same entries are streamed as JSON (``propfind_json``).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Hashable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from typing import cast, overload

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, dav_request_classes, parse_depth, parse_prefer
from davbind.protocol.multistatus import (
    CONTENT_TYPE,
    END,
    START,
    propstat,
    response,
    status_response,
)
from davbind.protocol.paths import encode_segment, href
from davbind.protocol.walk import Children, LoopDetected, Run, Step, scan, walk
from davbind.protocol.xmlbody import PropfindRequest, element_xml, parse_propfind
from davbind.server import propcache, propfind_json
from davbind.server.http import Request, Response
from davbind.server.liveprops import REGISTRY, LockView, PropContext
from davbind.server.respcache import Depends
from davbind.server.runcache import RunCache
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import MemberRow, Resource

FLUSH = 256 * 1024
Node = Resource | MemberRow
LOCKDISCOVERY = "{DAV:}lockdiscovery"
PARENT_SET = "{DAV:}parent-set"
VARY = (("Vary", "DAV, Prefer, Depth, Accept"),)  # spec A-23: the answer depends on DAV


@dataclass(frozen=True, slots=True)
class Rendered:
    """The properties of one visit: serialised found elements and missing names."""

    found: list[str]
    missing: list[str]


def collect(
    txn: Txn, resource: Resource, segments: tuple[str, ...], spec: PropfindRequest,
    *, locks: LockView, writeback: propcache.Writeback | None = None, joined: bool = False,
) -> Rendered:
    """Property values for ``resource`` reached at ``segments`` (RFC 4918 §9.1).

    Cacheable values come from the resource's pre-rendered text (``propcache``).  With
    ``joined`` an allprop answer may put several elements in one string (XML output)."""
    ctx = PropContext(txn, resource, segments, locks)
    if spec.kind == "propname":
        names = [n for n, p in REGISTRY.items() if p.render(ctx) is not None]
        names += [d.name for d in txn.dead_props(resource.key)]
        return Rendered([element_xml(n) for n in dict.fromkeys(names)], [])
    text = propcache.text_for(txn, resource, writeback)
    if spec.kind == "allprop" and joined and not spec.include:
        lockdiscovery = REGISTRY[LOCKDISCOVERY].render(ctx) or ""
        return Rendered([propcache.allprop_part(text), lockdiscovery], [])
    if spec.kind == "allprop":
        values = propcache.table(text)
        found = [v for n, v in values.items() if n not in REGISTRY or REGISTRY[n].allprop]
        found.append(REGISTRY[LOCKDISCOVERY].render(ctx) or "")
        wanted = [
            n for n in spec.include
            if n not in values or (n in REGISTRY and not REGISTRY[n].allprop)
        ]
    else:
        found, wanted = [], list(spec.names)
    missing: list[str] = []
    for name in wanted:
        value = propcache.lookup(text, name)
        if value is None and name in REGISTRY and not REGISTRY[name].cacheable:
            value = REGISTRY[name].render(ctx)
        if value is not None:
            found.append(value)
        else:
            missing.append(name)
    return Rendered(found, missing)


_OK = "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"


@functools.lru_cache(maxsize=64)
def _not_found(missing: tuple[str, ...]) -> str:
    """The 404 propstat for a set of missing names (the same for most members)."""
    return propstat(404, [element_xml(n) for n in missing])


def xml_response(href_: str, props: Rendered, status: int, minimal: bool) -> str:
    """One ``<D:response>``; a 208 keeps the propstat form (RFC 5842 §7.1.1, A-2)."""
    if status == 200 and props.found:
        return found_response(href_, "".join(props.found), props.missing, minimal)
    keep = props.found or not props.missing or status != 200  # a 208 always shows
    stats = [propstat(status, props.found)] if keep else []
    if props.missing and not minimal:
        stats.append(propstat(404, [element_xml(n) for n in props.missing]))
    if not stats:
        stats = [propstat(status, [])]
    return response(href_, stats)


def found_response(href_: str, found: str, missing: Sequence[str], minimal: bool) -> str:
    """A 200 ``<D:response>`` with serialised ``found`` properties (not empty) and a 404
    propstat for ``missing`` unless ``minimal`` (RFC 8144 §3)."""
    # hrefs are percent-encoded, so they hold no XML-special characters
    tail = _not_found(tuple(missing)) if missing and not minimal else ""
    head = f"<D:response><D:href>{href_}</D:href><D:propstat><D:prop>"
    return f"{head}{found}{_OK}{tail}</D:response>"


class _Hrefs:
    """Encoded hrefs; each parent path is encoded once (members share it)."""

    def __init__(self) -> None:
        self._parents: dict[tuple[str, ...], str] = {}

    def __call__(self, segments: tuple[str, ...], collection: bool) -> str:
        if not segments:
            return "/"
        last = encode_segment(segments[-1])
        prefix = self.of_collection(segments[:-1])
        return f"{prefix}{last}/" if collection else prefix + last

    def of_collection(self, segments: tuple[str, ...]) -> str:
        """The href of the collection at ``segments``, which its members' hrefs extend."""
        prefix = self._parents.get(segments)
        if prefix is None:
            if len(self._parents) > 4096:
                self._parents.clear()
            prefix = self._parents[segments] = href(segments, True)
        return prefix


def _stream(
    stack: ExitStack,
    store: MetadataStore,
    txn: Txn,
    steps: Iterator[Step[Node]],
    request: Request,
    spec: PropfindRequest,
    *,
    locks: LockView,
    lean: str | None,
    minimal: bool,
    noroot: bool,
    as_json: bool,
    run_cache: RunCache | None = None,
) -> Iterator[bytes]:
    """Produce the body chunk by chunk; the read snapshot closes when the body ends.

    With ``lean`` (see ``_lean``) members arrive as ``MemberRow``s and each run of them
    is rendered from the cached texts in one loop (``_LeanRuns``): the same bytes
    ``collect`` + ``xml_response`` would give."""
    start, sep, end = (propfind_json.START, ",", propfind_json.END) if as_json else (
        START, "", END
    )
    writeback = propcache.Writeback(store)
    hrefs = _Hrefs()
    runs = None if lean is None else _LeanRuns(txn, spec, lean, minimal, writeback, run_cache)
    try:
        buf: list[str] = [start]
        size = len(start)
        first = True
        try:
            for step in steps:
                if isinstance(step, Run):
                    prefix = request.segments + step.prefix
                    if runs is not None:  # lean: the members are MemberRows (member_batches)
                        members = cast(Sequence[tuple[str, MemberRow]], step.members)
                        parts = runs.render(hrefs.of_collection(prefix), members)
                    else:
                        parts = []
                        for seg, node in step.members:
                            part = _one(txn, (*prefix, seg), node, 200, hrefs, spec, locks,
                                        writeback, minimal, as_json)  # fmt: skip
                            parts.append(part if first else sep + part)
                            first = False
                    buf += parts
                    size += sum(map(len, parts))
                else:
                    if noroot and not step.path:
                        continue
                    part = _one(txn, request.segments + step.path, step.node, step.status,
                                hrefs, spec, locks, writeback, minimal, as_json)  # fmt: skip
                    buf.append(part if first else sep + part)
                    first = False
                    size += len(part)
                if size >= FLUSH:
                    yield "".join(buf).encode()
                    buf, size = [], 0
        except LoopDetected as loop:  # only if the pre-scan missed it (spec A-20)
            segs = request.segments + loop.path
            if as_json:
                buf.append(("" if first else sep) + propfind_json.loop_entry(segs))
            else:
                buf.append(status_response(href(segs, True), 508))
        buf.append(end)
        yield "".join(buf).encode()
    finally:
        stack.close()
        writeback.flush()


def _one(
    txn: Txn, segs: tuple[str, ...], node: Node, status: int, hrefs: _Hrefs,
    spec: PropfindRequest, locks: LockView, writeback: propcache.Writeback, minimal: bool,
    as_json: bool,
) -> str:  # fmt: skip
    """One response through the general path: ``collect`` then XML or JSON."""
    resource = node if isinstance(node, Resource) else txn.get(node.key)
    props = collect(txn, resource, segs, spec, locks=locks, writeback=writeback,
                    joined=not as_json)  # fmt: skip
    href_ = hrefs(segs, resource.is_collection)
    if as_json:
        return propfind_json.entry(href_, resource, props.found, props.missing, status,
                                   minimal)  # fmt: skip
    return xml_response(href_, props, status, minimal)


class _LeanRuns:
    """Runs of members (one ``member_batches`` batch each) rendered straight from their
    cached texts (``propcache``): allprop is each member's cached allprop group plus the
    lockdiscovery every member shows; named properties are picked out of the cached
    fragments.  A run rendered before with the same members in the same states comes
    from ``runs`` (``runcache``) instead."""

    def __init__(self, txn: Txn, spec: PropfindRequest, lockdiscovery: str, minimal: bool,
                 writeback: propcache.Writeback, runs: RunCache | None) -> None:  # fmt: skip
        self.txn, self.writeback, self.minimal = txn, writeback, minimal
        self.picker = propcache.Picker(spec.names) if spec.kind == "prop" else None
        self.tail = f"{lockdiscovery}{_OK}</D:response>"
        self.runs = runs
        self.variant = _variant(spec, lockdiscovery, minimal)

    def _rebuilt(self, row: MemberRow) -> str:
        """The cache text of a member whose stored one is absent or stale."""
        return propcache.text_for(self.txn, self.txn.get(row.key), self.writeback)

    def render(self, prefix: str, members: Sequence[tuple[str, MemberRow]]) -> list[str]:
        """The responses of ``members`` of the collection whose href is ``prefix``."""
        runs = self.runs
        if runs is None:
            return self._render(prefix, members)
        key: Hashable
        if isinstance(members, _GenRun):  # the membership is fixed by the parent's cgen
            parent = members.parent
            key = (self.variant, prefix, parent.key, parent.cgen, members.start, members.gens)
        else:  # a member's text is derived from (key, cgen): it stays out of the key
            key = (self.variant, prefix, tuple((s, r.key, r.cgen) for s, r in members))
        text = runs.get(key)
        if text is None:
            rows = members.rows() if isinstance(members, _GenRun) else members
            text = "".join(self._render(prefix, rows))
            runs.put(key, text, len(members))
        return [text]

    def _render(self, prefix: str, members: Sequence[tuple[str, MemberRow]]) -> list[str]:
        out: list[str] = []
        picker = self.picker
        if picker is None:
            head, tail = f"<D:response><D:href>{prefix}", self.tail
            for seg, row in members:
                text = row.cache
                if not propcache.fresh(text):
                    text = self._rebuilt(row)
                name = encode_segment(seg)
                mid = "/</D:href><D:propstat><D:prop>" if row.is_collection else (
                    "</D:href><D:propstat><D:prop>"
                )
                out.append(f"{head}{name}{mid}{propcache.allprop_part(text)}{tail}")
            return out
        minimal = self.minimal
        for seg, row in members:
            text = row.cache
            if not propcache.fresh(text):
                text = self._rebuilt(row)
            found, missing = picker.pick(text)
            href_ = f"{prefix}{encode_segment(seg)}{'/' if row.is_collection else ''}"
            if found:
                out.append(found_response(href_, "".join(found), missing, minimal))
            else:
                out.append(xml_response(href_, Rendered([], list(missing)), 200, minimal))
        return out


def _variant(spec: PropfindRequest, lockdiscovery: str, minimal: bool) -> Hashable:
    """What, besides the members, decides the bytes of a lean run: the properties asked
    for, the lockdiscovery every member shows, ``return=minimal``."""
    return (spec.kind, spec.names, lockdiscovery, minimal)


class _GenRun(Sequence[tuple[str, MemberRow]]):
    """A run of a Depth 1 listing known by its members' change counters
    (``Txn.member_gens``): their rows are read (``member_slice``) only if the run is not
    in the run cache.  Within one read snapshot, the parent's ``cgen`` fixes which
    members the run holds (any change of membership bumps it), their counters fix what
    each shows.  A listing read whole (``_gen_runs``) gives its runs their rows at once."""

    __slots__ = ("_cursor", "_rows", "gens", "parent", "start", "txn")

    def __init__(self, txn: Txn, parent: Node, start: int, gens: tuple[int, ...],
                 cursor: _Cursor, rows: list[tuple[str, MemberRow]] | None = None,
                 ) -> None:  # fmt: skip
        self.txn, self.parent, self.start, self.gens = txn, parent, start, gens
        self._cursor = cursor
        self._rows = rows

    def rows(self) -> list[tuple[str, MemberRow]]:
        if self._rows is None:
            cur = self._cursor
            after = cur.after if cur.end == self.start else None
            rows = self.txn.member_slice(self.parent.key, self.start, len(self.gens), after)
            cur.end, cur.after = self.start + len(rows), rows[-1][0] if rows else None
            self._rows = rows
        return self._rows

    def __len__(self) -> int:
        return len(self.gens)

    @overload
    def __getitem__(self, i: int) -> tuple[str, MemberRow]: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[tuple[str, MemberRow]]: ...

    def __getitem__(
        self, i: int | slice
    ) -> tuple[str, MemberRow] | Sequence[tuple[str, MemberRow]]:
        return self.rows()[i]


@dataclass(slots=True)
class _Cursor:
    """Where the last run read of a listing ended (member index, segment): the next run,
    if it must be read too, starts from that segment (``Txn.member_slice``)."""

    end: int = 0
    after: str | None = None


def _gen_runs(txn: Txn, runs: RunCache, seen: Hashable, parent: Node) -> Iterator[_GenRun]:
    """The runs of a Depth 1 listing of ``parent``.  If this listing (``seen``: its form,
    path, parent and the parent's ``cgen``) was rendered whole before, only the members'
    counters are read and runs come from the cache where they can; else (first time,
    new membership, restart) the members are read in one query, as without the cache,
    and each run rendered is kept under the same key, ready for the next time."""
    start, cursor = 0, _Cursor()
    if runs.has(seen):
        for gens in txn.member_gens(parent.key):
            yield _GenRun(txn, parent, start, tuple(gens), cursor)
            start += len(gens)
        return
    for batch in txn.member_batches(parent.key):
        yield _GenRun(txn, parent, start, tuple(r.cgen for _, r in batch), cursor, batch)
        start += len(batch)
    runs.put(seen, "", 1)  # reached only once every run was rendered (and kept)


LEAN_LISTINGS = True  # tests turn it off to compare both paths byte for byte


def _lean(txn: Txn, root: Resource, spec: PropfindRequest, locks: LockView) -> str | None:
    """Whether the lean path applies, and for allprop the lockdiscovery element every
    member shows.  It applies while no lock exists to an allprop listing without
    ``include`` (each member's answer is its cached allprop text plus the same empty
    lockdiscovery) and to named properties that are all cacheable or dead (each is
    looked up in the member's render cache); else ``None``."""
    if not LEAN_LISTINGS or locks.active:
        return None
    if spec.kind == "prop" and all(
        n not in REGISTRY or REGISTRY[n].cacheable for n in spec.names
    ):
        return ""  # every name asked for is in the render cache (or absent from it)
    if spec.kind != "allprop" or spec.include:
        return None
    return REGISTRY[LOCKDISCOVERY].render(PropContext(txn, root, (), locks)) or ""


def _batches(pairs: Iterator[tuple[str, Node]]) -> Iterator[list[tuple[str, Node]]]:
    while batch := list(itertools.islice(pairs, 512)):
        yield batch


def _small_or_stream(chunks: Iterator[bytes]) -> bytes | Iterator[bytes]:
    """A body that fits in its first chunk goes out whole, with Content-Length (one
    write, no chunked framing); a larger one streams from where the first chunk ended."""
    first = next(chunks)
    second = next(chunks, None)
    if second is None:
        return first
    return itertools.chain((first, second), chunks)


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
                    508, "binding loop below the target; send 'DAV: bind' to get 208 responses",
                    headers=VARY,
                )
            count = plan.responses_bind_aware if bind_aware else plan.responses_plain
            cap = services.settings.max_propfind_responses
            if count is None or count > cap:
                raise DAVError(
                    403,
                    f"Depth: infinity would produce more than {cap} responses",
                    ("propfind-finite-depth",),
                    headers=VARY,
                )
        as_json = "application/json" in (request.header("accept") or "")
        locks = LockView(txn)
        lean = _lean(txn, resource, spec, locks) if not as_json else None
        children: Children[Node] = (
            (lambda n: txn.member_batches(n.key)) if lean is not None
            else (lambda n: _batches(txn.children(n.key)))
        )
        if lean is not None and depth is Depth.ONE and services.runs is not None:
            seen = ("listing", _variant(spec, lean, minimal), href(request.segments, True),
                    resource.key, resource.cgen)  # fmt: skip
            children = functools.partial(_gen_runs, txn, services.runs, seen)
        root: Node = resource
        steps = walk(
            root,
            children,
            infinite=infinite,
            bind_aware=bind_aware,
            depth_one=depth is Depth.ONE,
        )
        chunks = _stream(stack, services.store, txn, steps, request, spec, locks=locks,
                         lean=lean, minimal=minimal, noroot=noroot, as_json=as_json,
                         run_cache=services.runs)  # fmt: skip
        payload = _small_or_stream(chunks)
    except BaseException:
        stack.close()
        raise
    ctype = propfind_json.CONTENT_TYPE if as_json else CONTENT_TYPE
    headers = [("Content-Type", ctype), *VARY]
    applied = [p for p in ("return=minimal", "depth-noroot") if p in prefer]
    if applied:
        headers.append(("Preference-Applied", ", ".join(applied)))
    return Response(207, headers, payload, _depends(request, spec, depth, resource))


def _depends(
    request: Request, spec: PropfindRequest, depth: Depth, resource: Resource
) -> Depends | None:
    """What the answer shows (for the response cache): at Depth 0 or 1 the properties of
    the resource and its members, given that no lock exists; not ``parent-set``, which
    depends on bindings elsewhere (RFC 5842 §3.2), nor anything at Depth infinity."""
    asked = spec.names if spec.kind == "prop" else spec.include
    if depth is Depth.INFINITY or PARENT_SET in asked:
        return None
    members = depth is Depth.ONE and resource.is_collection
    return Depends(request.segments, members=members, no_locks=True)
