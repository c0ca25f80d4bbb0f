"""The PROPFIND renderer: the ``<D:response>`` of every visit of a listing, for Depth 0,
1 and infinity alike, in XML (RFC 4918 §14.16, §14.24) or JSON (``propfind_json``).

One path for every request shape.  What varies is decided once per request, in the
``Renderer``: which properties are asked for (allprop, with or without ``include``,
named ones, propname, RFC 4918 §9.1), the lock state every member shows (read once,
``LockView``), ``Prefer: return=minimal`` (RFC 8144 §3).  Per member, the properties
that depend on the resource row alone come from ``liveprops.row_fragments`` (one call),
dead properties from one query per run of members (``Txn.dead_props_of``), and the rest
(``lockdiscovery``, ``parent-set``) from the live-property registry with a context the
whole request shares.  Nothing is stored: a listing never writes.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from davbind.protocol.multistatus import propstat, response
from davbind.protocol.paths import encode_segment, href
from davbind.protocol.xmlbody import PropfindRequest, element_xml
from davbind.server import propfind_json
from davbind.server.liveprops import (
    REGISTRY,
    ROW_ALLPROP,
    ROW_NAMES,
    LockView,
    PropContext,
    allprop_text,
    row_fragments,
)
from davbind.storage.interface import Txn
from davbind.storage.model import DeadProp, Resource

LOCKDISCOVERY = "{DAV:}lockdiscovery"
_ROW_INDEX = {name: i for i, name in enumerate(ROW_NAMES)}
_OK = "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"


@dataclass(frozen=True, slots=True)
class Rendered:
    """The properties of one visit: serialised found elements and missing names."""

    found: list[str]
    missing: list[str]


@functools.lru_cache(maxsize=64)
def _not_found(missing: tuple[str, ...]) -> str:
    """The 404 propstat for a set of missing names (the same for most members)."""
    return propstat(404, [element_xml(n) for n in missing])


def xml_response(href_: str, props: Rendered, status: int, minimal: bool) -> str:
    """One ``<D:response>``.  A 208 keeps the propstat form with the properties asked
    for (RFC 5842 §7.1.1); ``minimal`` drops the 404 propstat (RFC 8144 §3)."""
    if status == 200 and props.found:
        tail = _not_found(tuple(props.missing)) if props.missing and not minimal else ""
        head = f"<D:response><D:href>{href_}</D:href><D:propstat><D:prop>"
        return f"{head}{''.join(props.found)}{_OK}{tail}</D:response>"
    keep = props.found or not props.missing or status != 200
    stats = [propstat(status, props.found)] if keep else []
    if props.missing and not minimal:
        stats.append(propstat(404, [element_xml(n) for n in props.missing]))
    if not stats:
        stats = [propstat(status, [])]
    return response(href_, stats)


class Hrefs:
    """Encoded hrefs; each collection's href is encoded once (its members extend it)."""

    def __init__(self) -> None:
        self._parents: dict[tuple[str, ...], str] = {}

    def __call__(self, segments: tuple[str, ...], collection: bool) -> str:
        if not segments:
            return "/"
        last = encode_segment(segments[-1])
        prefix = self.of_collection(segments[:-1])
        return f"{prefix}{last}/" if collection else prefix + last

    def of_collection(self, segments: tuple[str, ...]) -> str:
        prefix = self._parents.get(segments)
        if prefix is None:
            if len(self._parents) > 4096:
                self._parents.clear()
            prefix = self._parents[segments] = href(segments, True)
        return prefix


class Renderer:
    """Renders the responses of one PROPFIND over one read snapshot."""

    def __init__(self, txn: Txn, spec: PropfindRequest, *, locks: LockView, minimal: bool,
                 as_json: bool) -> None:  # fmt: skip
        self.txn, self.spec, self.locks = txn, spec, locks
        self.minimal, self.as_json = minimal, as_json
        self.hrefs = Hrefs()
        self._paths: dict[int, tuple[str, ...] | None] = {}  # canonical paths (parent-set)
        self._allprop = spec.kind == "allprop"
        self._named = spec.names if spec.kind == "prop" else spec.include
        # the lockdiscovery every member shows while no lock exists at all
        self._no_locks = None if locks.active else "<D:lockdiscovery/>"

    def _context(self, resource: Resource, segments: tuple[str, ...]) -> PropContext:
        return PropContext(self.txn, resource, segments, self.locks, self._paths)

    def props(self, resource: Resource, segments: tuple[str, ...],
              dead: list[DeadProp] | None) -> Rendered:  # fmt: skip
        """Found elements and missing names of ``resource`` reached at ``segments``;
        ``dead``: its dead properties if already read (``None``: read them now)."""
        if dead is None:
            dead = self.txn.dead_props(resource.key)
        if self.spec.kind == "propname":
            ctx = self._context(resource, segments)
            names = [n for n, p in REGISTRY.items() if p.render(ctx) is not None]
            names += [d.name for d in dead if d.name not in REGISTRY]
            return Rendered([element_xml(n) for n in dict.fromkeys(names)], [])
        row = row_fragments(resource)
        found: list[str] = []
        if self._allprop:
            found += filter(None, row[:ROW_ALLPROP])
            found += [d.xml for d in dead if d.name not in REGISTRY]
            found.append(self._lockdiscovery(resource, segments))
        missing: list[str] = []
        for name in self._named:
            index = _ROW_INDEX.get(name)
            if index is not None:
                value = row[index] or None
                if value and self._allprop and index < ROW_ALLPROP:
                    continue  # allprop has it already
            elif name == LOCKDISCOVERY:
                if self._allprop:
                    continue
                value = self._lockdiscovery(resource, segments)
            elif name in REGISTRY:
                value = REGISTRY[name].render(self._context(resource, segments))
            elif self._allprop:  # a dead property: allprop has it already, if it exists
                if not any(d.name == name for d in dead):
                    missing.append(name)
                continue
            else:
                value = next((d.xml for d in dead if d.name == name), None)
            if value:
                found.append(value)
            else:
                missing.append(name)
        return Rendered(found, missing)

    def _lockdiscovery(self, resource: Resource, segments: tuple[str, ...]) -> str:
        if self._no_locks is not None:
            return self._no_locks
        return REGISTRY[LOCKDISCOVERY].render(self._context(resource, segments)) or ""

    def one(self, segments: tuple[str, ...], resource: Resource, status: int) -> str:
        """The response of one visit (the target, a collection met by a Depth infinity
        walk, or a 208)."""
        props = self.props(resource, segments, None)
        return self._format(self.hrefs(segments, resource.is_collection), resource, props,
                            status)  # fmt: skip

    def run(self, prefix: tuple[str, ...], members: Sequence[tuple[str, Resource]]) -> list[str]:
        """The responses of members of the collection at ``prefix``, each with 200."""
        dead = self.txn.dead_props_of([r.key for _, r in members])
        base = self.hrefs.of_collection(prefix)
        if self._allprop and not self._named and not self.as_json:
            return self._allprop_xml(base, members, dead)
        out = []
        for seg, res in members:
            props = self.props(res, (*prefix, seg), dead.get(res.key, []))
            href_ = f"{base}{encode_segment(seg)}{'/' if res.is_collection else ''}"
            out.append(self._format(href_, res, props, 200))
        return out

    def _allprop_xml(self, base: str, members: Sequence[tuple[str, Resource]],
                     dead: dict[int, list[DeadProp]]) -> list[str]:  # fmt: skip
        """``props`` + ``xml_response`` for a plain allprop, in one loop: the shape of
        most listings, so it is written out (the tests compare both paths)."""
        out = []
        head = f"<D:response><D:href>{base}"
        shared = self._no_locks
        for seg, res in members:
            extra = dead.get(res.key)
            props = allprop_text(res)
            if extra:
                props += "".join(d.xml for d in extra if d.name not in REGISTRY)
            lock = shared if shared is not None else self._lockdiscovery(res, ())
            name = encode_segment(seg)
            mid = "/</D:href><D:propstat><D:prop>" if res.is_collection else (
                "</D:href><D:propstat><D:prop>"
            )
            out.append(f"{head}{name}{mid}{props}{lock}{_OK}</D:response>")
        return out

    def _format(self, href_: str, resource: Resource, props: Rendered, status: int) -> str:
        if self.as_json:
            return propfind_json.entry(href_, resource, props.found, props.missing, status,
                                       self.minimal)  # fmt: skip
        return xml_response(href_, props, status, self.minimal)
