"""The live-property registry (RFC 4918 §15, RFC 5842 §3).

Each live property renders itself from a ``PropContext`` to a serialised element, or
``None`` when it is not defined on that resource (reported as 404 in PROPFIND).  The
registry also says which are returned by ``allprop`` (RFC 4918 §9.1: not resource-id,
not parent-set, RFC 5842 §3) and which are protected (PROPPATCH gets 403 with
``cannot-modify-protected-property``, RFC 4918 §16).  ``displayname`` is the one live
property that is not protected: it defaults to the last segment of the URL the request
used (decision D-1) and a dead ``displayname`` set by PROPPATCH replaces it (the
renderer prefers the dead one).  Nothing here reads file content.

The properties that depend on the resource row alone (``ROW_NAMES``) are also rendered
all at once by ``row_fragments``, the hot path of a listing: a few microseconds per
member, no context object, no dictionary.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from davbind.protocol.paths import encode_segment, href
from davbind.protocol.xmlbody import escape_text
from davbind.server import access_props
from davbind.server.access import PathAccess
from davbind.server.lock_rules import covering_locks, lock_href
from davbind.storage.interface import Txn
from davbind.storage.model import Lock, Resource

DAV = "{DAV:}"


class LockView:
    """The lock state a listing shows, read once per listing (RFC 4918 §15.8) instead of
    two queries per member: direct locks by resource, and for each depth-infinity lock
    the set of resources it covers.  Falls back to per-resource queries when there are
    too many locks or a deep lock covers too much to hold."""

    MAX_LOCKS = 1000
    MAX_COVERED = 200_000

    def __init__(self, txn: Txn) -> None:
        self.txn = txn
        self.active = txn.has_locks()
        self.precise = False
        self._direct: dict[int, list[Lock]] = {}
        self._deep: list[tuple[Lock, set[int]]] = []
        if not self.active:
            return
        locks = txn.all_locks(self.MAX_LOCKS)
        if locks is None:
            self.precise = True
            return
        for lk in locks:
            self._direct.setdefault(lk.resource, []).append(lk)
            if lk.infinite:
                below = txn.descendants(lk.resource)
                if len(below) > self.MAX_COVERED:
                    self.precise = True
                    return
                self._deep.append((lk, below))

    def covering(self, key: int) -> list[Lock]:
        """Same answer as ``guard.covering_locks``."""
        if not self.active:
            return []
        if self.precise:
            return covering_locks(self.txn, key)
        own = self._direct.get(key, [])
        return own + [lk for lk, below in self._deep if key in below and lk.resource != key]


@dataclass(slots=True)
class PropContext:
    """What a live property may look at: the resource, the URL it was reached by, and
    what one request shares between its responses (the lock view, canonical paths)."""

    txn: Txn
    resource: Resource
    segments: tuple[str, ...]
    locks: LockView | None = None
    paths: dict[int, tuple[str, ...] | None] = field(default_factory=dict)
    access: PathAccess | None = None  # None: every privilege (``server.access``)

    def asked(self) -> access_props.Asked:
        return access_props.Asked(self.txn, self.access, self.resource, self.segments)


@dataclass(frozen=True, slots=True)
class LiveProp:
    """``row``: the value depends on the resource row alone (``row_fragments``), not on
    lock or binding state.  ``protected``: PROPPATCH may not set or remove it."""

    render: Callable[[PropContext], str | None]
    allprop: bool = True
    row: bool = True
    protected: bool = True


def _el(local: str, inner: str) -> str:
    return f"<D:{local}>{inner}</D:{local}>" if inner else f"<D:{local}/>"


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_HOURS_MINUTES = [f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440)]
_SECONDS = [f"{s:02d}" for s in range(60)]
_HTTP_DAYS: dict[int, str] = {}
_ISO_DAYS: dict[int, str] = {}


def _day(stamp: float, days: dict[int, str], iso: bool) -> tuple[str, int]:
    """The date part of ``stamp`` (remembered per day: the members of a folder share a
    few days) and the second of that day."""
    whole = int(stamp) if stamp >= 0 else 0
    day, second = divmod(whole, 86400)
    text = days.get(day)
    if text is None:
        t = time.gmtime(day * 86400)
        if iso:
            text = f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        else:
            text = f"{_DAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} {t.tm_year:04d} "
        if len(days) >= 4096:
            days.clear()
        days[day] = text
    return text, second


def http_date(stamp: float) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), the text ``email.utils.formatdate(usegmt=True)``
    gives, at a fraction of its cost (a listing formats two dates per member)."""
    day, second = _day(stamp, _HTTP_DAYS, False)
    return f"{day}{_HOURS_MINUTES[second // 60]}{_SECONDS[second % 60]} GMT"


def iso_date(stamp: float) -> str:
    """RFC 3339 date-time in UTC, the format of ``creationdate`` (RFC 4918 §15.1)."""
    day, second = _day(stamp, _ISO_DAYS, True)
    return f"{day}{_HOURS_MINUTES[second // 60]}{_SECONDS[second % 60]}Z"


def _creationdate(c: PropContext) -> str:
    return _el("creationdate", iso_date(c.resource.created))


def _length(c: PropContext) -> str | None:
    if c.resource.is_collection:
        return None
    return _el("getcontentlength", str(c.resource.size))


def _ctype(c: PropContext) -> str | None:
    if c.resource.is_collection:
        return None
    return _el("getcontenttype", escape_text(c.resource.content_type or "application/octet-stream"))


def _etag(c: PropContext) -> str:
    return _el("getetag", escape_text(c.resource.etag))


def _lastmod(c: PropContext) -> str:
    return _el("getlastmodified", http_date(c.resource.modified))


def _resourcetype(c: PropContext) -> str:
    return "<D:resourcetype><D:collection/></D:resourcetype>" if c.resource.is_collection else (
        "<D:resourcetype/>"
    )


SUPPORTEDLOCK = (
    "<D:supportedlock>"
    "<D:lockentry><D:lockscope><D:exclusive/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "<D:lockentry><D:lockscope><D:shared/></D:lockscope><D:locktype><D:write/></D:locktype>"
    "</D:lockentry>"
    "</D:supportedlock>"
)


def activelock(lock: Lock) -> str:
    """One ``<D:activelock>`` (RFC 4918 §14.1) with the lock root (§14.12)."""
    remaining = max(0, int(lock.expires - time.time()))
    scope = "<D:exclusive/>" if lock.exclusive else "<D:shared/>"
    return (
        "<D:activelock>"
        f"<D:locktype><D:write/></D:locktype><D:lockscope>{scope}</D:lockscope>"
        f"<D:depth>{'infinity' if lock.infinite else '0'}</D:depth>"
        f"{lock.owner_xml or ''}"
        f"<D:timeout>Second-{remaining}</D:timeout>"
        f"<D:locktoken><D:href>{escape_text(lock.token)}</D:href></D:locktoken>"
        f"<D:lockroot><D:href>{escape_text(lock_href(lock.root))}</D:href></D:lockroot>"
        "</D:activelock>"
    )


def _lockdiscovery(c: PropContext) -> str:
    if c.locks is None:
        c.locks = LockView(c.txn)
    locks = c.locks.covering(c.resource.key)
    return _el("lockdiscovery", "".join(activelock(lk) for lk in locks))


def displayname(segments: tuple[str, ...]) -> str:
    """Decision D-1: the default ``DAV:displayname`` (RFC 4918 §15.2) is the last segment
    of the URL the resource was reached by, so an alias shows its own name; the root's
    is empty."""
    return _el("displayname", escape_text(segments[-1]) if segments else "")


def _resource_id(c: PropContext) -> str:
    return f"<D:resource-id><D:href>{escape_text(c.resource.rid)}</D:href></D:resource-id>"


def canonical_path(txn: Txn, key: int) -> tuple[str, ...] | None:
    """The path of ``key`` a parent-set names it by (decision A-22): the first path a
    breadth-first walk from the root, taking each collection's segments in code-point
    order, would find.  That is the least, segment by segment, of the shortest paths from
    the root, which this finds without listing any collection's members: a walk up the
    bindings from ``key``, one level at a time until the root is met, then the least
    segment at each step back down.  The work grows with the ancestors of ``key`` within
    that distance (its depth, for a tree), never with how many siblings they have.
    ``None`` if ``key`` is not reachable from the root."""
    root = txn.root_key
    if key == root:
        return ()
    # down[p]: the bindings (segment, child) from p to a node one step nearer to ``key``
    down: dict[int, list[tuple[str, int]]] = {}
    level = {key}
    seen = {key}
    while root not in level:
        above: set[int] = set()
        for child in level:
            for parent, segment in txn.parents(child):
                if parent in seen and parent not in above:
                    continue  # nearer to ``key`` already: no shortest path goes this way
                above.add(parent)
                down.setdefault(parent, []).append((segment, child))
        if not above:
            return None
        seen |= above
        level = above
    path: list[str] = []
    node = root
    while node != key:
        segment, node = min(down[node])
        path.append(segment)
    return tuple(path)


def _asked(name: str, c: PropContext) -> str | None:
    return access_props.xml(name, c.asked())


def _parent_set(c: PropContext) -> str:
    """RFC 5842 §3.2: one ``parent`` per binding; each parent collection named once, by
    its canonical href with a trailing slash (A-22); segments percent-encoded (A-7).
    Canonical paths are remembered for the whole request (``PropContext.paths``): the
    members of one listing share their parent, so a listing costs one walk, not one per
    member."""
    parts = []
    paths = c.paths
    for parent, segment in c.txn.parents(c.resource.key):
        if parent not in paths:
            if len(paths) >= 4096:
                paths.clear()
            paths[parent] = canonical_path(c.txn, parent)
        path = paths[parent]
        if path is None or (c.access is not None and not c.access.readable_at(path)):
            continue  # RFC 5842 §12: a parent the principal cannot read is not named
        parts.append(
            f"<D:parent><D:href>{escape_text(href(path, True))}</D:href>"
            f"<D:segment>{escape_text(encode_segment(segment))}</D:segment></D:parent>"
        )
    return _el("parent-set", "".join(parts))


REGISTRY: dict[str, LiveProp] = {
    DAV + "creationdate": LiveProp(_creationdate),
    DAV + "getcontentlength": LiveProp(_length),
    DAV + "getcontenttype": LiveProp(_ctype),
    DAV + "getetag": LiveProp(_etag),
    DAV + "getlastmodified": LiveProp(_lastmod),
    DAV + "resourcetype": LiveProp(_resourcetype),
    DAV + "supportedlock": LiveProp(lambda c: SUPPORTEDLOCK),
    DAV + "lockdiscovery": LiveProp(_lockdiscovery, row=False),
    DAV + "displayname": LiveProp(lambda c: displayname(c.segments), row=False, protected=False),
    DAV + "resource-id": LiveProp(_resource_id, allprop=False),
    DAV + "parent-set": LiveProp(_parent_set, allprop=False, row=False),
    **{
        name: LiveProp(functools.partial(_asked, name), allprop=False, row=False)
        for name in access_props.NAMES_HERE
    },
}

ROW_NAMES = tuple(n for n, p in REGISTRY.items() if p.row)
"""The properties ``row_fragments`` renders, in its order; ``allprop`` ones first."""
ROW_ALLPROP = sum(1 for n in ROW_NAMES if REGISTRY[n].allprop)
assert all(REGISTRY[n].allprop for n in ROW_NAMES[:ROW_ALLPROP])

_COLLECTION = "<D:resourcetype><D:collection/></D:resourcetype>"


def row_fragments(r: Resource) -> tuple[str, ...]:
    """The elements of ``ROW_NAMES`` for ``r`` ("" where undefined): the same text the
    registry's renderers give, in one call (a listing's hot path; a test compares the
    two for every property).  The rid (``urn:uuid:``) and the etag (hex digits, ``-``
    and quotes) never hold a character XML text must escape."""
    created = f"<D:creationdate>{iso_date(r.created)}</D:creationdate>"
    etag = f"<D:getetag>{r.etag}</D:getetag>"
    modified = f"<D:getlastmodified>{http_date(r.modified)}</D:getlastmodified>"
    rid = f"<D:resource-id><D:href>{r.rid}</D:href></D:resource-id>"
    if r.is_collection:
        return created, "", "", etag, modified, _COLLECTION, SUPPORTEDLOCK, rid
    ctype = r.content_type or "application/octet-stream"
    if not _PLAIN.fullmatch(ctype):
        ctype = escape_text(ctype)
    return (
        created, f"<D:getcontentlength>{r.size}</D:getcontentlength>",
        f"<D:getcontenttype>{ctype}</D:getcontenttype>", etag, modified,
        "<D:resourcetype/>", SUPPORTEDLOCK, rid,
    )


def _row_ctype(r: Resource) -> str:
    if r.is_collection:
        return ""
    ctype = r.content_type or "application/octet-stream"
    return f"<D:getcontenttype>{ctype if _PLAIN.fullmatch(ctype) else escape_text(ctype)}" \
        "</D:getcontenttype>"


ROW_RENDERERS: dict[str, Callable[[Resource], str]] = {
    DAV + "creationdate": lambda r: f"<D:creationdate>{iso_date(r.created)}</D:creationdate>",
    DAV + "getcontentlength": lambda r: "" if r.is_collection else (
        f"<D:getcontentlength>{r.size}</D:getcontentlength>"
    ),
    DAV + "getcontenttype": _row_ctype,
    DAV + "getetag": lambda r: f"<D:getetag>{r.etag}</D:getetag>",
    DAV + "getlastmodified": lambda r: (
        f"<D:getlastmodified>{http_date(r.modified)}</D:getlastmodified>"
    ),
    DAV + "resourcetype": lambda r: _COLLECTION if r.is_collection else "<D:resourcetype/>",
    DAV + "supportedlock": lambda r: SUPPORTEDLOCK,
    DAV + "resource-id": lambda r: f"<D:resource-id><D:href>{r.rid}</D:href></D:resource-id>",
}
"""One property of ``row_fragments`` at a time ("" where undefined): a listing of a few
named properties renders only those (a test compares the two)."""


def allprop_text(r: Resource) -> str:
    """``"".join(row_fragments(r)[:ROW_ALLPROP])`` in one string operation: what an
    allprop listing shows of most members (a test compares the two)."""
    created = iso_date(r.created)
    modified = http_date(r.modified)
    if r.is_collection:
        return (
            f"<D:creationdate>{created}</D:creationdate><D:getetag>{r.etag}</D:getetag>"
            f"<D:getlastmodified>{modified}</D:getlastmodified>{_COLLECTION}{SUPPORTEDLOCK}"
        )
    ctype = r.content_type or "application/octet-stream"
    if not _PLAIN.fullmatch(ctype):
        ctype = escape_text(ctype)
    return (
        f"<D:creationdate>{created}</D:creationdate>"
        f"<D:getcontentlength>{r.size}</D:getcontentlength>"
        f"<D:getcontenttype>{ctype}</D:getcontenttype><D:getetag>{r.etag}</D:getetag>"
        f"<D:getlastmodified>{modified}</D:getlastmodified><D:resourcetype/>{SUPPORTEDLOCK}"
    )


_PLAIN = re.compile(r"[\w.+;=/ \"-]*")
"""Text that ``escape_text`` would return unchanged (most content types)."""


def is_protected(name: str) -> bool:
    """Live properties cannot be set or removed by PROPPATCH, except ``displayname``
    (RFC 4918 §15.2 lets a client set it; decision D-1)."""
    prop = REGISTRY.get(name)
    return prop is not None and prop.protected

