"""The PROPFIND tree walk over bindings: which URL gets 200, 208 or 508 (RFC 5842 §7).

Pure: the caller supplies ``children(node)`` (sorted by segment) and, for the pre-scan,
the edges reachable from the request target.  Rules (spec §1.8, A-13, A-14, A-20):

- Depth 0 / 1 never carry 208.
- Depth infinity, client sent ``DAV: bind``: depth-first pre-order, segments in code-point
  order; the first binding met to a collection gets 200 and is descended; every later
  binding to it gets 208 and is not descended.  Leaves are reported at every URL (200).
- Depth infinity, no ``DAV: bind``: a loop (a collection met again while it is on the
  current path) fails the whole request with 508 — decided by ``scan`` before the first
  byte; a shared collection without a loop is enumerated under each of its paths.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar


class Node(Protocol):
    @property
    def key(self) -> int: ...

    @property
    def is_collection(self) -> bool: ...


N = TypeVar("N", bound=Node)


@dataclass(frozen=True, slots=True)
class Visit(Generic[N]):
    """One ``<D:response>`` to produce: the path below the target, the node, its status."""

    path: tuple[str, ...]
    node: N
    status: int


class LoopDetected(Exception):
    """A binding loop met by a client that did not send ``DAV: bind`` (RFC 5842 §7.2)."""

    def __init__(self, path: tuple[str, ...]) -> None:
        super().__init__("/".join(path))
        self.path = path


@dataclass(frozen=True, slots=True)
class Scan:
    """What a Depth-infinity walk from a target will do, known before sending anything."""

    has_loop: bool
    responses_bind_aware: int
    responses_plain: int | None  # None when a loop makes it infinite


def scan(root: int, root_is_collection: bool, edges: Iterable[tuple[int, int, bool]]) -> Scan:
    """Pre-scan the reachable graph: loops and response counts (spec A-20).

    ``edges`` are (parent key, child key, child is a collection) for every binding whose
    parent is reachable from ``root``; each binding appears once.
    """
    if not root_is_collection:
        return Scan(False, 1, 1)
    adj: dict[int, list[tuple[int, bool]]] = {}
    for parent, child, is_coll in edges:
        adj.setdefault(parent, []).append((child, is_coll))
    bind_aware = 1 + sum(len(v) for v in adj.values())
    # iterative DFS with colours over collections: grey = on the current path
    GREY, BLACK = 1, 2
    colour: dict[int, int] = {root: GREY}
    paths: dict[int, int] = {}  # node -> responses for the subtree under it (plain mode)
    stack: list[tuple[int, Iterator[tuple[int, bool]]]] = [(root, iter(adj.get(root, ())))]
    has_loop = False
    while stack:
        node, it = stack[-1]
        advanced = False
        for child, is_coll in it:
            if not is_coll:
                continue
            state = colour.get(child)
            if state == GREY:
                has_loop = True
            elif state is None:
                colour[child] = GREY
                stack.append((child, iter(adj.get(child, ()))))
                advanced = True
                break
        if advanced:
            continue
        stack.pop()
        colour[node] = BLACK
        if not has_loop:
            paths[node] = 1 + sum(paths[c] if ic else 1 for c, ic in adj.get(node, ()))
    return Scan(has_loop, bind_aware, None if has_loop else paths[root])


def walk(
    root: N,
    children: Callable[[N], Iterable[tuple[str, N]]],
    *,
    infinite: bool,
    bind_aware: bool,
    depth_one: bool = True,
) -> Iterator[Visit[N]]:
    """Yield the visits of a PROPFIND in document order.

    ``infinite`` selects Depth infinity; otherwise ``depth_one`` selects Depth 1 over 0.
    Raises ``LoopDetected`` mid-walk only if a loop was not caught by ``scan`` first.
    """
    yield Visit((), root, 200)
    if not root.is_collection or (not infinite and not depth_one):
        return
    if not infinite:
        for seg, child in children(root):
            yield Visit((seg,), child, 200)
        return
    seen: set[int] = {root.key}
    on_path: list[int] = [root.key]
    stack: list[tuple[tuple[str, ...], Iterator[tuple[str, N]]]] = [((), iter(children(root)))]
    while stack:
        prefix, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            on_path.pop()
            continue
        seg, child = nxt
        path = (*prefix, seg)
        if not child.is_collection:
            yield Visit(path, child, 200)
            continue
        if bind_aware:
            if child.key in seen:
                yield Visit(path, child, 208)
                continue
            seen.add(child.key)
        elif child.key in on_path:
            raise LoopDetected(path)
        yield Visit(path, child, 200)
        on_path.append(child.key)
        stack.append((path, iter(children(child))))
