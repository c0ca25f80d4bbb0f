"""Where one resource lives: every path to it, and whether it is on a binding loop.

RFC 5842 §3.2: ``DAV:parent-set`` names every binding to a resource as (parent
collection href, segment), so each path of the resource is the parent's href plus that
segment — even where the two paths never meet in one listing.  RFC 5842 §3.1:
``DAV:resource-id`` names the resource itself, the same through every binding.

The rules kept here:

- The paths are the requested one and one per parent-set entry; a server that does
  not report ``DAV:parent-set`` leaves what the listings show: the hrefs that carry
  the same resource-id in the parent collection's Depth-1 listing.
- A resource is on a binding loop when it is its own ancestor: its resource-id is the
  resource-id of a collection above the requested path, or one of its parents lies at
  or below one of its own paths.  The paths that lead through the resource to itself
  are ``loop_paths``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from davbind.client.hrefs import (
    as_collection,
    href_key,
    is_below,
    normalize_href,
    normalize_path,
    parent_href,
)
from davbind.client.listing import PARENT_SET, Entry, Listing

Source = Literal["parent-set", "listing"]


@dataclass(frozen=True, slots=True)
class Placement:
    """Every known path to one resource and whether it is on a binding loop."""

    paths: tuple[str, ...]  # normalised, sorted; the requested path is one of them
    loop: bool
    loop_paths: tuple[str, ...]  # paths that pass through the resource to itself
    source: Source  # where ``paths`` come from


def ancestors(href: str) -> tuple[str, ...]:
    """The collections above ``href``, from the root down (``/a/b/c`` -> ``/``, ``/a/``,
    ``/a/b/``)."""
    found: list[str] = []
    parent = parent_href(href)
    while parent is not None:
        found.append(parent)
        parent = parent_href(parent)
    return tuple(reversed(found))


def _path(parent: str, segment: str, collection: bool) -> str:
    path = normalize_path(parent.rstrip("/") + "/" + segment.strip("/"))
    return as_collection(path) if collection else path


def _unique(hrefs: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted({href_key(h): h for h in hrefs}.values()))


def place(
    entry: Entry, url: str, ancestor_ids: Iterable[str | None], siblings: Listing | None
) -> Placement:
    """Where ``entry`` (the answer to a PROPFIND of ``url``) lives; ``ancestor_ids`` are
    the resource-ids of the collections above it, ``siblings`` the Depth-1 listing of
    its parent (asked for only when the server gave no ``DAV:parent-set``)."""
    coll = entry.collection
    fix = as_collection if coll else (lambda h: h)
    if PARENT_SET in entry.props:
        parents = [normalize_href(p.href, url) for p in entry.parents]
        found = [_path(h, p.segment, coll) for h, p in zip(parents, entry.parents, strict=True)]
        source: Source = "parent-set"
    else:
        same = siblings.get(entry.href) if siblings is not None else None
        known = same.hrefs if same is not None and same.resource_id == entry.resource_id else ()
        found = [fix(h) for h in (*entry.hrefs, *known)]
        parents = [p for p in map(parent_href, found) if p is not None]
        source = "listing"
    paths = _unique([entry.href, *found])
    loop_paths = [p for p in paths if any(q != p and is_below(p, q) for q in paths)]
    if entry.resource_id is not None and entry.resource_id in set(ancestor_ids):
        loop_paths.append(entry.href)
    loop = bool(loop_paths) or any(is_below(p, q) for p in parents for q in paths)
    return Placement(paths, loop, _unique(loop_paths), source)
