"""Folding a multistatus into one entry per resource, with aliases (RFC 5842 §2, §3.1, §7).

What it holds: :func:`fold_multistatus` / :class:`Folder`, which turn the responses of a
PROPFIND into a :class:`Listing` of :class:`Entry` values, and the tree view over it.

The rules it keeps:

- One entry per resource.  Hrefs are grouped by ``DAV:resource-id`` when the server
  reports it (RFC 5842 §3.1), so two bindings of one file in a Depth-1 listing fold too;
  without it, by normalised href (``hrefs.href_key``: encoding and trailing slash do not
  count).  A duplicate href joins the entry of its first occurrence (never "last wins").
- 208 Already Reported is understood in both forms: in ``propstat/status`` next to the
  property values (RFC 5842 §7.1.1, what davbind sends) and as a bare
  ``response/status`` with no propstat.  A 208 never makes an entry: it becomes an
  alias of the resource it repeats (``reported.resolve``: by resource-id, href, ETag
  or properties), or, when that cannot be told, one of ``Listing.unresolved``.
- The canonical href of an entry is the first one in document order reported with a
  2xx status other than 208 — for a collection, the binding that was enumerated; the
  other hrefs are ``aliases``, sorted.  A collection's hrefs end in "/", a file's are
  kept as written.
- Responses without propstat, without any status, or with unknown statuses are kept
  (their status is ``None`` or the number sent); properties come only from 2xx propstats.
- Nothing here follows hrefs, so a cycle cannot make it loop; in the tree view an alias
  of a collection that is inside that collection (or contains it) is marked ``loop``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from davbind.client.hrefs import (
    as_collection,
    href_key,
    is_below,
    last_segment,
    normalize_href,
    parent_href,
)
from davbind.client.multistatus import (
    Parent,
    PropValue,
    Response,
    iter_responses,
    parse_parent_set,
    slices,
)
from davbind.client.multistatus_json import JsonMultistatusParser
from davbind.client.reported import (
    ALREADY_REPORTED,
    Facts,
    Reported,
    resolve,
    response_facts,
)

if TYPE_CHECKING:
    from davbind.client.placement import Placement

DAV = "{DAV:}"
PARENT_SET = DAV + "parent-set"

__all__ = ["Entry", "Facts", "Folder", "Listing", "TreeNode", "fold_multistatus",
           "fold_responses", "response_facts"]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of a listing, reached at ``href`` and at every one of ``aliases``."""

    href: str
    resource_id: str | None
    aliases: tuple[str, ...]
    status: int | None
    collection: bool
    props: Mapping[str, PropValue] = field(default_factory=dict)
    #: set by ``Client.info``: every path of the resource and whether it is on a loop
    placement: Placement | None = None

    @property
    def hrefs(self) -> tuple[str, ...]:
        return (self.href, *self.aliases)

    @property
    def paths(self) -> tuple[str, ...]:
        """Every known path of the resource, sorted: through ``DAV:parent-set`` when
        ``Client.info`` learnt it, else the hrefs of this listing."""
        return self.placement.paths if self.placement is not None else tuple(sorted(self.hrefs))

    @property
    def other_paths(self) -> tuple[str, ...]:
        """``paths`` but ``href``: where else the resource lives."""
        return tuple(p for p in self.paths if href_key(p) != href_key(self.href))

    @property
    def loop_paths(self) -> tuple[str, ...]:
        """The paths that lead through the resource back to itself (a binding loop)."""
        if self.placement is not None:
            return self.placement.loop_paths
        return tuple(sorted(h for h in self.aliases if binding_kind(h, self) == "loop"))

    @property
    def on_loop(self) -> bool:
        """Whether the resource is on a binding loop (it is its own ancestor)."""
        return self.placement.loop if self.placement is not None else bool(self.loop_paths)

    @property
    def name(self) -> str:
        return last_segment(self.href)

    def text(self, name: str) -> str | None:
        value = self.props.get(name)
        return None if value is None else value.text

    @property
    def size(self) -> int | None:
        raw = self.text(DAV + "getcontentlength")
        try:
            return int(raw.strip()) if raw is not None else None
        except ValueError:
            return None

    @property
    def etag(self) -> str | None:
        raw = self.text(DAV + "getetag")
        return raw.strip() if raw else None

    @property
    def content_type(self) -> str | None:
        raw = self.text(DAV + "getcontenttype")
        return raw.strip() if raw else None

    @property
    def displayname(self) -> str | None:
        return self.text(DAV + "displayname")

    @property
    def modified(self) -> datetime | None:
        raw = self.text(DAV + "getlastmodified")
        try:
            return parsedate_to_datetime(raw.strip()) if raw else None
        except (TypeError, ValueError):
            return None

    @property
    def created(self) -> datetime | None:
        raw = self.text(DAV + "creationdate")
        try:
            return datetime.fromisoformat(raw.strip().replace("Z", "+00:00")) if raw else None
        except ValueError:
            return None

    @property
    def parents(self) -> tuple[Parent, ...]:
        value = self.props.get(PARENT_SET)
        return parse_parent_set(value) if value is not None else ()


Kind = Literal["resource", "alias", "loop"]


@dataclass(frozen=True, slots=True)
class TreeNode:
    """One href in the tree view; ``kind`` says whether it is the entry's canonical href."""

    href: str
    entry: Entry
    kind: Kind
    children: tuple[TreeNode, ...] = ()

    @property
    def name(self) -> str:
        return last_segment(self.href)


@dataclass(frozen=True, slots=True)
class Listing:
    """The entries of one PROPFIND or walk, in document order of their canonical href."""

    entries: tuple[Entry, ...]
    target: str | None = None  # normalised href of the first response (the Request-URI)
    description: str = ""
    note: str = ""  # how the listing was obtained when not in one request (walk fallback)
    #: hrefs answered 208 whose resource could not be told (``reported.resolve``):
    #: another binding of something listed, but of which entry is unknown
    unresolved: tuple[str, ...] = ()
    _index: dict[str, Entry] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        index = {href_key(h): e for e in self.entries for h in e.hrefs}
        object.__setattr__(self, "_index", index)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)

    def __contains__(self, href: object) -> bool:
        return isinstance(href, str) and self.get(href) is not None

    def get(self, href: str) -> Entry | None:
        """The entry reached at ``href`` (any of its hrefs, in any encoding)."""
        return self._index.get(href_key(normalize_href(href)))

    @property
    def root(self) -> Entry | None:
        return self.get(self.target) if self.target is not None else None

    def members(self) -> tuple[Entry, ...]:
        """Every entry but the target's (for a Depth-1 listing: the members)."""
        root = self.root
        return tuple(e for e in self.entries if e is not root)

    def roots(self) -> tuple[TreeNode, ...]:
        """The tree view: a node per href, children under their parent collection, by name."""
        return _build_tree(self)

    def tree(self) -> TreeNode:
        """The tree under the target (a conformant server gives exactly one root)."""
        roots = self.roots()
        if not roots:
            raise ValueError("empty listing")
        return roots[0]


def binding_kind(href: str, entry: Entry) -> Kind:
    """``resource`` for the canonical href, ``loop`` for a binding of a collection inside
    itself (or containing it), ``alias`` for any other binding."""
    if href_key(href) == href_key(entry.href):
        return "resource"
    if entry.collection and (is_below(href, entry.href) or is_below(entry.href, href)):
        return "loop"
    return "alias"


def _build_tree(listing: Listing) -> tuple[TreeNode, ...]:
    order: list[tuple[str, Entry]] = []
    for entry in listing.entries:
        order.extend((h, entry) for h in entry.hrefs)
    position = {href_key(h): i for i, (h, _) in enumerate(order)}
    if listing.target is not None and href_key(listing.target) in position:
        position[href_key(listing.target)] = -1  # the target first among roots
    children: dict[str, list[str]] = {}
    roots: list[str] = []
    for href, _ in order:
        parent = parent_href(href)
        if parent is not None and href_key(parent) in position:
            children.setdefault(href_key(parent), []).append(href_key(href))
        else:
            roots.append(href_key(href))
    built: dict[str, TreeNode] = {}
    by_key = {href_key(h): (h, e) for h, e in order}
    # Deepest first, so every child exists before its parent is frozen (no recursion).
    for key in sorted(by_key, key=lambda k: 0 if k == "/" else k.count("/"), reverse=True):
        href, entry = by_key[key]
        kids = sorted(children.get(key, ()), key=lambda k: (last_segment(k), k))
        built[key] = TreeNode(href, entry, binding_kind(href, entry), tuple(built[k] for k in kids))
    return tuple(built[k] for k in sorted(roots, key=position.__getitem__))


# --------------------------------------------------------------------------- folding


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300 and status != ALREADY_REPORTED


@dataclass(slots=True)
class _Group:
    """Mutable accumulator for one resource while the body is read."""

    first: int
    rid: str | None
    hrefs: dict[str, tuple[int, str, int | None]] = field(default_factory=dict)
    props: dict[str, PropValue] = field(default_factory=dict)
    collection: bool | None = None
    guess_collection: bool = False

    def freeze(self) -> Entry:
        coll = self.collection if self.collection is not None else self.guess_collection
        if len(self.hrefs) == 1:  # the usual case: one binding in the listing
            ((_, href, status),) = self.hrefs.values()
            return Entry(as_collection(href) if coll else href, self.rid, (), status, coll,
                         self.props)  # fmt: skip
        ranked = sorted(self.hrefs.values())
        own = [h for h in ranked if h[2] != ALREADY_REPORTED] or ranked
        canonical = next((h for h in own if _ok(h[2])), own[0])
        fix = as_collection if coll else (lambda h: h)
        aliases = sorted(fix(h[1]) for h in ranked if h is not canonical)
        return Entry(fix(canonical[1]), self.rid, tuple(aliases), canonical[2], coll, self.props)


class Folder:
    """Incremental fold: ``add()`` responses in document order, then ``listing()``."""

    def __init__(self, base_url: str | None = None) -> None:
        self.base_url = base_url
        self._seq = 0
        self._by_href: dict[str, _Group] = {}
        self._by_rid: dict[str, _Group] = {}
        self._target: str | None = None
        self._reported: list[Reported] = []
        self._unresolved: dict[str, str] = {}
        self.description = ""

    def add(self, response: Response, base_url: str | None = None) -> None:
        """Fold one response; relative hrefs resolve against ``base_url`` (the URL of the
        request that returned it) or the folder's own base."""
        facts = response_facts(response)
        for raw in response.hrefs or ("",):
            href = normalize_href(raw, base_url or self.base_url)
            if self._target is None:
                self._target = href
            if facts.status == ALREADY_REPORTED:  # tied to its resource in listing()
                self._reported.append(Reported(self._seq, href, facts))
                self._seq += 1
                continue
            group = self._group_for(href, facts.resource_id)
            key = href_key(href)
            if key not in group.hrefs:
                group.hrefs[key] = (self._seq, href, facts.status)
                self._by_href[key] = group
            self._seq += 1
            for name, value in facts.props.items():
                group.props.setdefault(name, value)
            if facts.collection is not None:
                group.collection = bool(group.collection) or facts.collection
            elif href.endswith("/"):
                group.guess_collection = True

    def _resolve_reported(self) -> None:
        """Tie every 208 to the resource it names, as one more of its hrefs."""
        for item in self._reported:
            key = href_key(item.href)
            group = resolve(item, self._by_rid, self._by_href)
            if group is None:
                self._unresolved.setdefault(key, item.href)
                continue
            self._unresolved.pop(key, None)
            if key not in group.hrefs:
                group.hrefs[key] = (item.seq, item.href, ALREADY_REPORTED)
                self._by_href[key] = group
            if group.collection is None and item.facts.collection is not None:
                group.collection = item.facts.collection
        self._reported.clear()

    def _group_for(self, href: str, rid: str | None) -> _Group:
        group = self._by_href.get(href_key(href))
        if group is None and rid is not None:
            group = self._by_rid.get(rid)
        if group is None:
            group = _Group(self._seq, rid)
            if rid is not None:
                self._by_rid[rid] = group
            return group
        if rid is not None and group.rid is None:
            other = self._by_rid.get(rid)
            if other is not None and other is not group:
                return self._merge(group, other)
            group.rid = rid
            self._by_rid[rid] = group
        return group

    def _merge(self, group: _Group, into: _Group) -> _Group:
        """A href first seen without resource-id turns out to be a known resource."""
        for key, item in group.hrefs.items():
            into.hrefs.setdefault(key, item)
            self._by_href[key] = into
        for name, value in group.props.items():
            into.props.setdefault(name, value)
        into.first = min(into.first, group.first)
        if group.collection is not None:
            into.collection = bool(into.collection) or group.collection
        into.guess_collection = into.guess_collection or group.guess_collection
        return into

    def listing(self, note: str = "") -> Listing:
        self._resolve_reported()
        groups = {id(g): g for g in self._by_href.values()}
        ordered = sorted(groups.values(), key=lambda g: g.first)
        entries = tuple(g.freeze() for g in ordered)
        target = self._target
        if target is not None:
            found = next((e for e in entries if href_key(target) in map(href_key, e.hrefs)), None)
            if found is not None and found.collection:
                target = as_collection(target)
        unresolved = tuple(h for k, h in self._unresolved.items() if k not in self._by_href)
        return Listing(entries, target, self.description, note, unresolved)


def fold_responses(
    responses: Iterable[Response], base_url: str | None = None, *, note: str = ""
) -> Listing:
    """Fold already-parsed responses (document order) into a :class:`Listing`."""
    folder = Folder(base_url)
    for response in responses:
        folder.add(response)
    return folder.listing(note)


def fold_multistatus(body: bytes, base_url: str | None = None) -> Listing:
    """One :class:`Entry` per resource from a whole 207 body (see the module docstring).

    ``base_url`` is the request URL: relative hrefs are resolved against it, and its
    scheme and host are stripped from absolute ones.  ``body`` may be the XML multistatus
    or davbind's JSON form (``multistatus_json``): both fold to equal listings.
    """
    if body.lstrip()[:1] == b"{":
        parser = JsonMultistatusParser()
        items = [r for chunk in slices(body) for r in parser.feed(chunk)] + parser.close()
        return fold_responses(items, base_url)
    return fold_responses(iter_responses(slices(body)), base_url)
