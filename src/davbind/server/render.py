"""The PROPFIND renderer: the response of every visit of a listing, for Depth 0, 1 and
infinity alike, in XML (RFC 4918 §14.16, §14.24) or JSON (``propfind_json``, D-3).

One path for every request shape.  What varies is decided once per request, in the
``Renderer``: which properties are asked for (allprop, with or without ``include``,
named ones, propname, RFC 4918 §9.1), the lock state every member shows (read once,
``LockView``), ``Prefer: return=minimal`` (RFC 8144 §3), and the form: a ``Form`` turns
each fact into an XML fragment (``XmlForm``) or a typed JSON value (``JsonForm``), so
both forms choose the same properties by the same code.  Per member, the properties
that depend on the resource row alone come from one call (``Form.row``), dead properties
from one query per run of members (``Txn.dead_props_of``), and the rest
(``displayname``, ``lockdiscovery``, ``parent-set``) from the URL and the live-property
registry with a context the whole request shares.  Nothing is stored: a listing never
writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from davbind.protocol.multistatus import propstat, response
from davbind.protocol.paths import encode_segment, href
from davbind.protocol.xmlbody import PropfindRequest, element_xml, escape_text
from davbind.server import access_props, propfind_json
from davbind.server.access import PathAccess
from davbind.server.listing_cache import ENTRY_OVERHEAD, Recording
from davbind.server.liveprops import (
    REGISTRY,
    ROW_ALLPROP,
    ROW_NAMES,
    ROW_RENDERERS,
    LockView,
    PropContext,
    activelock,
    allprop_text,
    displayname,
    row_fragments,
)
from davbind.storage.interface import Txn
from davbind.storage.model import DeadProp, Lock, MemberStamp, Resource

LOCKDISCOVERY = "{DAV:}lockdiscovery"
DISPLAYNAME = "{DAV:}displayname"
PARENT_SET = "{DAV:}parent-set"
_ROW_INDEX = {name: i for i, name in enumerate(ROW_NAMES)}
_OK = "</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"

V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class Rendered(Generic[V]):
    """The properties of one visit: (name, value) of the found ones, missing names."""

    found: list[tuple[str, V]]
    missing: list[str]


class Form(Protocol[V]):
    """How one form writes each kind of property value."""

    no_locks: V

    def row(self, r: Resource) -> Sequence[V | None]: ...

    def displayname(self, segments: tuple[str, ...]) -> V: ...

    def dead(self, prop: DeadProp) -> V: ...

    def locks(self, locks: Sequence[Lock]) -> V: ...

    def registry(self, name: str, ctx: PropContext) -> V | None: ...


class XmlForm:
    """Serialised property elements, as the multistatus carries them."""

    no_locks = "<D:lockdiscovery/>"
    row = staticmethod(row_fragments)
    displayname = staticmethod(displayname)

    @staticmethod
    def dead(prop: DeadProp) -> str:
        return prop.xml

    @staticmethod
    def locks(locks: Sequence[Lock]) -> str:
        return f"<D:lockdiscovery>{''.join(activelock(lk) for lk in locks)}</D:lockdiscovery>"

    @staticmethod
    def registry(name: str, ctx: PropContext) -> str | None:
        return REGISTRY[name].render(ctx)


class JsonForm:
    """Typed JSON values (``propfind_json``), built from the row, never from XML text."""

    no_locks = propfind_json.NO_LOCKS
    row = staticmethod(propfind_json.row_values)

    @staticmethod
    def displayname(segments: tuple[str, ...]) -> str:
        return segments[-1] if segments else ""

    @staticmethod
    def dead(prop: DeadProp) -> object:
        if prop.name == DISPLAYNAME:
            return propfind_json.dead_displayname(prop)
        return propfind_json.dead_value(prop)

    @staticmethod
    def locks(locks: Sequence[Lock]) -> object:
        return propfind_json.lockdiscovery(locks)

    @staticmethod
    def registry(name: str, ctx: PropContext) -> object | None:
        text = REGISTRY[name].render(ctx)
        if text is None:
            return None
        if name == PARENT_SET:  # the canonical parent paths are the registry's
            return propfind_json.parent_set(text)
        if name in access_props.NAMES_HERE:
            return access_props.value(name, ctx.asked())
        raise AssertionError(f"{name} has no JSON form")  # every other one is a row prop


@functools.lru_cache(maxsize=64)
def _not_found(missing: tuple[str, ...]) -> str:
    """The 404 propstat for a set of missing names (the same for most members)."""
    return propstat(404, [element_xml(n) for n in missing])


def xml_response(href_: str, props: Rendered[str], status: int, minimal: bool) -> str:
    """One ``<D:response>``.  A 208 keeps the propstat form with the properties asked
    for (RFC 5842 §7.1.1); ``minimal`` drops the 404 propstat (RFC 8144 §3)."""
    found = [value for _, value in props.found]
    if status == 200 and found:
        tail = _not_found(tuple(props.missing)) if props.missing and not minimal else ""
        head = f"<D:response><D:href>{href_}</D:href><D:propstat><D:prop>"
        return f"{head}{''.join(found)}{_OK}{tail}</D:response>"
    keep = found or not props.missing or status != 200
    stats = [propstat(status, found)] if keep else []
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
                 as_json: bool, access: PathAccess | None = None,
                 recording: Recording | None = None) -> None:  # fmt: skip
        self.txn, self.spec, self.locks = txn, spec, locks
        self.access = access
        self.recording = recording  # kept member texts (``listing_cache``), if the shape allows
        self.minimal, self.as_json = minimal, as_json
        # Any: the form's values are str (XML) or JSON values; ``as_json`` says which
        self.form: Form[Any] = JsonForm() if as_json else XmlForm()
        self.hrefs = Hrefs()
        self._paths: dict[int, tuple[str, ...] | None] = {}  # canonical paths (parent-set)
        self._allprop = spec.kind == "allprop"
        self._named = spec.names if spec.kind == "prop" else spec.include
        # where each collection was first reported (JSON 208s name it); collections only,
        # so it stays small whatever the number of members
        self._first: dict[int, str] = {}

    def _context(self, resource: Resource, segments: tuple[str, ...]) -> PropContext:
        return PropContext(self.txn, resource, segments, self.locks, self._paths, self.access)

    def props(self, resource: Resource, segments: tuple[str, ...],
              dead: list[DeadProp] | None) -> Rendered[Any]:  # fmt: skip
        """Found properties and missing names of ``resource`` reached at ``segments``;
        ``dead``: its dead properties if already read (``None``: read them now).  A dead
        ``displayname`` replaces the live one (D-1)."""
        if dead is None:
            dead = self.txn.dead_props(resource.key)
        form = self.form
        row = form.row(resource)
        found: list[tuple[str, Any]] = []
        own_name = next((d for d in dead if d.name == DISPLAYNAME), None)
        if self._allprop:
            pairs = zip(ROW_NAMES[:ROW_ALLPROP], row[:ROW_ALLPROP], strict=True)
            found += [(n, v) for n, v in pairs if v is not None and v != ""]
            if own_name is None:
                found.append((DISPLAYNAME, form.displayname(segments)))
            found += [(d.name, form.dead(d)) for d in dead if _shown_dead(d.name)]
            found.append((LOCKDISCOVERY, self._lockdiscovery(resource)))
        missing: list[str] = []
        for name in self._named:
            value: object | None
            index = _ROW_INDEX.get(name)
            if index is not None:
                value = row[index]
                if value == "":  # XmlForm's "undefined"
                    value = None
                if self._allprop and index < ROW_ALLPROP and value is not None:
                    continue  # allprop has it already
            elif self._allprop and (name in (LOCKDISCOVERY, DISPLAYNAME) or
                                    (name not in REGISTRY and any(d.name == name for d in dead))):
                continue  # allprop has it already  # fmt: skip
            elif name == LOCKDISCOVERY:
                value = self._lockdiscovery(resource)
            elif name == DISPLAYNAME:
                value = form.displayname(segments) if own_name is None else form.dead(own_name)
            elif name in REGISTRY:
                value = form.registry(name, self._context(resource, segments))
            else:
                value = next((form.dead(d) for d in dead if d.name == name), None)
            if value is None:
                missing.append(name)
            else:
                found.append((name, value))
        return Rendered(found, missing)

    def names(self, resource: Resource, segments: tuple[str, ...]) -> list[str]:
        """``propname`` (RFC 4918 §9.1): every defined live property and dead one."""
        ctx = self._context(resource, segments)
        names = [n for n, p in REGISTRY.items() if p.render(ctx) is not None]
        names += [d.name for d in self.txn.dead_props(resource.key) if d.name not in REGISTRY]
        return list(dict.fromkeys(names))

    def _lockdiscovery(self, resource: Resource | MemberStamp) -> object:
        if not self.locks.active:
            return self.form.no_locks
        return self.form.locks(self.locks.covering(resource.key))

    def one(self, segments: tuple[str, ...], resource: Resource, status: int) -> str:
        """The response of one visit (the target, a collection met by a Depth infinity
        walk, or a 208)."""
        href_ = self.hrefs(segments, resource.is_collection)
        first = self.reported(href_, resource, status)
        if self.spec.kind == "propname":
            names = self.names(resource, segments)
            if self.as_json:
                return propfind_json.ENCODER.encode(
                    propfind_json.names_entry(href_, resource, names, status, first))
            return xml_response(href_, Rendered([(n, element_xml(n)) for n in names], []),
                                status, self.minimal)  # fmt: skip
        props = self.props(resource, segments, None)
        if self.as_json:
            return self._json_entry(href_, resource, props, status, first)
        return xml_response(href_, props, status, self.minimal)

    def reported(self, href_: str, resource: Resource, status: int) -> str | None:
        """Remember where a collection is first reported; for a 208, where that was.
        Also called for a target that ``depth-noroot`` leaves out (its 208s name it)."""
        if not resource.is_collection:
            return None
        if status == 208:
            return self._first.get(resource.key)
        self._first.setdefault(resource.key, href_)
        return None

    def _json_entry(self, href_: str, resource: Resource, props: Rendered[object], status: int,
                    first: str | None) -> str:  # fmt: skip
        missing = props.missing if not self.minimal else []
        return propfind_json.entry_text(href_, resource, props.found, missing, status, first)

    def run(self, prefix: tuple[str, ...], members: Sequence[tuple[str, Resource | MemberStamp]],
            collection: int | None = None) -> list[str]:  # fmt: skip
        """The responses of members of the collection at ``prefix`` (whose key is
        ``collection``), each with 200, as strings to be concatenated: one per response,
        or pieces of them when kept texts are used (in JSON, one string holding them
        all, comma-separated).  Members come as stamps only when ``recording`` is set."""
        if self.recording is not None and collection is not None:
            return self._cached_run(self.hrefs.of_collection(prefix), collection, members)
        rows = _rows(members)
        if self.spec.kind == "propname":
            return [self.one((*prefix, seg), res, 200) for seg, res in rows]
        return self._rendered(self.hrefs.of_collection(prefix), prefix, rows)

    def _rendered(self, base: str, prefix: tuple[str, ...],
                  members: Sequence[tuple[str, Resource]]) -> list[str]:  # fmt: skip
        dead = self.txn.dead_props_of([r.key for _, r in members])
        plain = self._allprop and not self._named
        if plain and not self.as_json:
            return self._allprop_xml(base, members, dead)
        if self.spec.kind == "prop":
            return self._named_run(base, prefix, members, dead)
        if plain:
            return [self._allprop_json(base, members, dead)]
        texts: list[str] = []
        for seg, res in members:
            props = self.props(res, (*prefix, seg), dead.get(res.key, []))
            href_ = f"{base}{encode_segment(seg)}{'/' if res.is_collection else ''}"
            if self.as_json:
                texts.append(self._json_entry(href_, res, props, 200, None))
            else:
                texts.append(xml_response(href_, props, 200, self.minimal))
        return [",".join(texts)] if self.as_json else texts

    def _allprop_xml(self, base: str, members: Sequence[tuple[str, Resource]],
                     dead: dict[int, list[DeadProp]]) -> list[str]:  # fmt: skip
        """``props`` + ``xml_response`` for a plain allprop, in one loop: the shape of
        most listings, so it is written out (the tests compare both paths)."""
        head = f"<D:response><D:href>{base}"
        tails = _allprop_tails(members, dead)
        if not self.locks.active:
            end = f"{XmlForm.no_locks}{_OK}</D:response>"
            return [f"{head}{tail}{end}" for tail in tails]
        return [f"{head}{tail}{self._lockdiscovery(res)}{_OK}</D:response>"
                for tail, (_, res) in zip(tails, members, strict=True)]  # fmt: skip

    def _cached_run(self, base: str, collection: int,
                    members: Sequence[tuple[str, Resource | MemberStamp]],
                    ) -> list[str]:  # fmt: skip
        """``run`` with the texts kept by earlier listings (``listing_cache``): each
        member whose ``(key, cgen)`` is unchanged takes its kept text; the others are
        read (when they came as stamps) and rendered, and all are kept for the next.
        The responses come in pieces (href start, kept text, end), joined once by the
        caller instead of once here."""
        recording = self.recording
        assert recording is not None
        old, new = recording.pair(collection)
        tails: list[str] = []
        misses: list[int] = []
        if old:
            for i, (seg, m) in enumerate(members):
                hit = old.get(seg)
                if hit is not None and hit[0] == m.key and hit[1] == m.cgen:
                    new[seg] = hit
                    tails.append(hit[2])
                else:
                    misses.append(i)
                    tails.append("")
            fresh = _full_rows(self.txn, [members[i] for i in misses]) if misses else []
        else:  # nothing kept: every member is rendered
            fresh = _full_rows(self.txn, members)
            misses = list(range(len(fresh)))
            tails = [""] * len(fresh)
        recording.cache.count(len(members) - len(misses), len(misses))
        if fresh:
            dead = self.txn.dead_props_of([r.key for _, r in fresh])
            if recording.shape.kind == "allprop":
                texts = _allprop_tails(fresh, dead)
            else:  # the shape has no property that depends on the path (``Shape.of``)
                cut = len(base) + len("<D:response><D:href>")
                texts = [t[cut:] for t in self._named_run(base, (), fresh, dead)]
            for i, (seg, res), text in zip(misses, fresh, texts, strict=True):
                new[seg] = (res.key, res.cgen, text)
                tails[i] = text
            recording.spend(sum(map(len, texts)) + ENTRY_OVERHEAD * len(texts))
        start = f"<D:response><D:href>{base}"
        out: list[str] = []
        if recording.shape.kind != "allprop":
            for tail in tails:
                out += (start, tail)
        elif not self.locks.active:
            end = f"{XmlForm.no_locks}{_OK}</D:response>"
            for tail in tails:
                out += (start, tail, end)
        else:
            end = f"{_OK}</D:response>"
            for tail, (_, m) in zip(tails, members, strict=True):
                out += (start, tail, str(self._lockdiscovery(m)), end)
        return out

    def _named_run(self, base: str, prefix: tuple[str, ...],
                   members: Sequence[tuple[str, Resource]],
                   dead: dict[int, list[DeadProp]]) -> list[str]:  # fmt: skip
        """``props`` + the form's response for named properties, in one loop: the shape
        sync clients ask for.  Each row property asked for is computed alone
        (``liveprops.ROW_RENDERERS``, ``propfind_json.ROW_VALUES``); the others as
        ``props`` does (the tests compare both, in both forms)."""
        form = self.form
        values: dict[str, Callable[[Resource], Any]] = (
            propfind_json.ROW_VALUES if self.as_json else ROW_RENDERERS
        )
        plan = [(name, values.get(name)) for name in self._named]
        minimal, as_json = self.minimal, self.as_json
        out = []
        for seg, res in members:
            extra = dead.get(res.key)
            found: list[tuple[str, Any]] = []
            missing: list[str] = []
            for name, value_of in plan:
                value: Any
                if value_of is not None:
                    value = value_of(res)
                elif extra is None and name not in REGISTRY and name != DISPLAYNAME:
                    value = None  # a dead property of a member that has none
                elif name == DISPLAYNAME:
                    own = next((d for d in extra or () if d.name == DISPLAYNAME), None)
                    value = form.displayname((seg,)) if own is None else form.dead(own)
                elif name == LOCKDISCOVERY:
                    value = self._lockdiscovery(res)
                elif name in REGISTRY:
                    value = form.registry(name, self._context(res, (*prefix, seg)))
                else:
                    value = next((form.dead(d) for d in extra or () if d.name == name), None)
                if value is None or (value == "" and not as_json):  # XML's "undefined"
                    missing.append(name)
                else:
                    found.append((name, value))
            href_ = f"{base}{encode_segment(seg)}{'/' if res.is_collection else ''}"
            if as_json:
                shown = [] if minimal else missing
                out.append(propfind_json.entry_text(href_, res, found, shown, 200, None))
            else:
                out.append(xml_response(href_, Rendered(found, missing), 200, minimal))
        return [",".join(out)] if as_json else out

    def _allprop_json(self, base: str, members: Sequence[tuple[str, Resource]],
                      dead: dict[int, list[DeadProp]]) -> str:  # fmt: skip
        """``props`` + ``_json_entry`` for a plain allprop, one string operation per
        member (``propfind_json.allprop_text``); a member with dead properties goes
        through ``entry_text`` (the tests compare both paths)."""
        out = []
        text = propfind_json.allprop_text
        encode = propfind_json.ENCODER.encode
        shared = None if self.locks.active else "[]"
        for seg, res in members:
            coll = res.is_collection
            href_ = f"{base}{encode_segment(seg)}{'/' if coll else ''}"
            extra = dead.get(res.key)
            if extra is None:
                lock = shared if shared is not None else encode(self._lockdiscovery(res))
                out.append(text(href_, seg, res, lock))
                continue
            props = propfind_json.allprop_values(res)
            if not any(d.name == DISPLAYNAME for d in extra):
                props[DISPLAYNAME] = seg
            props.update((d.name, JsonForm.dead(d)) for d in extra if _shown_dead(d.name))
            props[LOCKDISCOVERY] = self._lockdiscovery(res)
            out.append(propfind_json.entry_text(href_, res, list(props.items()), [], 200, None))
        return ",".join(out)


def _allprop_tails(members: Sequence[tuple[str, Resource]],
                   dead: dict[int, list[DeadProp]]) -> list[str]:  # fmt: skip
    """Each member's allprop ``<D:response>`` from the end of its collection's href to
    ``lockdiscovery``: the part that depends on the member alone."""
    out = []
    for seg, res in members:
        extra = dead.get(res.key)
        props = allprop_text(res)
        if extra is None or not any(d.name == DISPLAYNAME for d in extra):
            props += f"<D:displayname>{escape_text(seg)}</D:displayname>"
        if extra:
            props += "".join(d.xml for d in extra if _shown_dead(d.name))
        mid = "/</D:href><D:propstat><D:prop>" if res.is_collection else (
            "</D:href><D:propstat><D:prop>"
        )
        out.append(f"{encode_segment(seg)}{mid}{props}")
    return out


def _rows(members: Sequence[tuple[str, Resource | MemberStamp]]) -> list[tuple[str, Resource]]:
    """Members as resources (they are, unless a recording asked for stamps)."""
    out = []
    for seg, m in members:
        assert isinstance(m, Resource), "stamps are listed only with a recording"
        out.append((seg, m))
    return out


def _full_rows(txn: Txn, members: Sequence[tuple[str, Resource | MemberStamp]],
               ) -> list[tuple[str, Resource]]:  # fmt: skip
    """The resources of ``members``, read in one query for those that came as stamps."""
    wanted = [m.key for _, m in members if not isinstance(m, Resource)]
    found = txn.resources_of(wanted) if wanted else {}
    return [(seg, m if isinstance(m, Resource) else found[m.key]) for seg, m in members]


def _shown_dead(name: str) -> bool:
    """A dead property allprop shows: any but one shadowed by a protected live one."""
    prop = REGISTRY.get(name)
    return prop is None or not prop.protected
