"""How the CLI shows resources: every path a resource lives at, loops marked.

A listing only holds the bindings that fall inside it; ``DAV:parent-set`` (RFC 5842
§3.2) names all of them.  So a line or JSON object shows, besides the href listed, each
other path of the resource: ``name  -> /other/path (alias)``, or ``(loop)`` when that
binding of a collection lies inside the collection itself or contains it (RFC 5842 §2,
a cycle in the namespace).  Without a parent-set (servers without bindings) only the
bindings inside the listing are known, and shown.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import urlsplit

from davbind.client import Entry, Listing, PropValue, TreeNode
from davbind.client.hrefs import as_collection, href_key, is_below, normalize_href
from davbind.client.multistatus_json import typed

#: Asked for in listings on top of the client's defaults: every binding's parent.
PARENT_SET = "{DAV:}parent-set"


def all_paths(entry: Entry) -> tuple[str, ...]:
    """Every href of ``entry``'s resource: its parent-set and the listing's hrefs."""
    tail = "/" if entry.collection else ""
    found = {href_key(h): h for h in entry.hrefs}
    for parent in entry.parents:
        if parent.href and parent.segment:
            # A parent is on this server; some servers write it as an absolute URL.
            where = urlsplit(parent.href).path if "://" in parent.href else parent.href
            path = normalize_href(as_collection(where) + parent.segment + tail)
            found.setdefault(href_key(path), path)
    return tuple(found.values())


def kind_at(path: str, here: str, entry: Entry) -> str:
    """``loop`` when ``path`` and ``here`` are two bindings of one collection, one inside
    the other; else ``alias``."""
    if entry.collection and (is_below(path, here) or is_below(here, path)):
        return "loop"
    return "alias"


def elsewhere(href: str, entry: Entry, shown: Collection[str] = ()) -> list[tuple[str, str]]:
    """(path, kind) of each other binding of ``entry`` not among ``shown`` (href keys)."""
    keys = {href_key(href), *shown}
    return [(p, kind_at(p, href, entry)) for p in all_paths(entry) if href_key(p) not in keys]


def entry_json(entry: Entry) -> dict[str, Any]:
    """One resource as an entry of the published listing schema (decision D-3: typed
    property values), plus what the fold knows: its other hrefs (``aliases``) and those
    on a binding loop (``loops``)."""
    others = elsewhere(entry.href, entry)
    item: dict[str, Any] = {"href": entry.href, "status": entry.status or 200}
    if entry.resource_id is not None:
        item["resource_id"] = entry.resource_id
    item["collection"] = entry.collection
    item["props"] = {name: typed(name, value) for name, value in entry.props.items()}
    item["aliases"] = sorted(p for p, _ in others)
    item["loops"] = sorted(p for p, kind in others if kind == "loop")
    return item


def label(node: TreeNode, shown: Collection[str] = ()) -> str:
    """The node's name, then where else its resource lives (``shown`` hrefs excepted)."""
    name = node.name + ("/" if node.entry.collection and node.name else "")
    marks: list[tuple[str, str]] = []
    if node.kind != "resource":
        marks.append((node.entry.href, node.kind))
    marks += elsewhere(node.href, node.entry, {*shown, href_key(node.entry.href)})
    if not marks:
        return name or node.href
    return f"{name or node.href}  -> " + ", ".join(f"{p} ({kind})" for p, kind in marks)


def long_line(node: TreeNode, shown: Collection[str] = ()) -> str:
    entry = node.entry
    kind = "d" if entry.collection else "-"
    size = "-" if entry.size is None else str(entry.size)
    modified = entry.modified
    when = modified.strftime("%Y-%m-%d %H:%M") if modified is not None else "-" * 16
    return f"{kind} {size:>12} {when}  {label(node, shown)}"


def nodes_of(root: TreeNode, max_depth: int | None = None) -> Iterator[tuple[TreeNode, int]]:
    """(node, depth) in pre-order, down to ``max_depth`` levels below ``root``."""
    stack = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        if max_depth is None or depth < max_depth:
            stack.extend((c, depth + 1) for c in reversed(node.children))


def render_tree(root: TreeNode, shown: Collection[str], max_depth: int | None = None
                ) -> Iterator[str]:  # fmt: skip
    """``tree``-style lines, iteratively (a deep tree cannot exhaust the stack)."""
    yield label(root, shown)
    if max_depth == 0:
        return
    stack: list[tuple[TreeNode, str, bool, int]] = [
        (child, "", i == len(root.children) - 1, 1)
        for i, child in reversed(list(enumerate(root.children)))
    ]
    while stack:
        node, prefix, last, depth = stack.pop()
        yield f"{prefix}{'└── ' if last else '├── '}{label(node, shown)}"
        if max_depth is not None and depth >= max_depth:
            continue
        inner = prefix + ("    " if last else "│   ")
        kids = node.children
        stack.extend((c, inner, i == len(kids) - 1, depth + 1)
                     for i, c in reversed(list(enumerate(kids))))  # fmt: skip


def summary(entries: Collection[Entry]) -> str:
    dirs = sum(1 for e in entries if e.collection)
    files = len(entries) - dirs
    others = [kind for e in entries for _, kind in elsewhere(e.href, e)]
    loops = others.count("loop")
    text = f"{_n(dirs, 'directory', 'directories')}, {_n(files, 'file', 'files')}"
    if others:
        text += f", {_n(len(others), 'alias', 'aliases')}"
        text += f" ({_n(loops, 'loop', 'loops')})" if loops else ""
    return text


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def show_value(value: PropValue) -> str:
    """A property value on one line: its hrefs, its child element names, or its text."""
    if value.hrefs and set(value.children) <= {"{DAV:}href"}:
        return " ".join(value.hrefs)
    if value.children:
        return ", ".join(c.rpartition("}")[2] for c in value.children)
    return " ".join(value.text.split())


def shown_keys(listing: Listing) -> frozenset[str]:
    return frozenset(href_key(h) for e in listing for h in e.hrefs)
