"""The PROPFIND tree walk over bindings: which URL gets 200, 208 or 508 (RFC 5842 §7).

Pure: the caller supplies ``children(node)`` (sorted by segment) and, for the pre-scan,
the edges reachable from the request target.  Rules (docs/protocol-decisions.md §4.8,
A-13, A-14, A-20):

- Depth 0 / 1 never carry 208.
- Depth infinity, client sent ``DAV: bind``: depth-first pre-order, segments in code-point
  order; the first binding met to a collection gets 200 and is descended; every later
  binding to it gets 208 and is not descended.  Leaves are reported at every URL (200).
- Depth infinity, no ``DAV: bind``: a loop (a collection met again while it is on the
  current path) fails the whole request with 508 — decided by ``scan`` before the first
  byte; a shared collection without a loop is enumerated under each of its paths.

``walk`` yields a ``Visit`` for the target and for every collection met below it, and a
``Run`` for members that all get 200 and are not descended: every member at Depth 1,
consecutive non-collections at Depth infinity.  Members arrive in batches (``children``
yields sequences), and a run is a slice of a batch, so a caller renders thousands of
members in one tight loop instead of one generator step each.  ``visits`` flattens runs
back into one ``Visit`` per member.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
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


@dataclass(frozen=True, slots=True)
class Run(Generic[N]):
    """Members of the collection at ``prefix`` (below the target), each to be reported
    with 200 at ``prefix + (segment,)`` and not descended."""

    prefix: tuple[str, ...]
    members: Sequence[tuple[str, N]]


Step = Visit[N] | Run[N]
Children = Callable[[N, tuple[str, ...]], Iterable[Sequence[tuple[str, N]]]]
"""``children(node, path)``: the members of ``node``, reached at ``path`` below the target
(what a member may show can depend on the path, e.g. privileges)."""


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
    """Pre-scan the reachable graph: loops and response counts (decision A-20).

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
    children: Children[N],
    *,
    infinite: bool,
    bind_aware: bool,
    depth_one: bool = True,
) -> Iterator[Step[N]]:
    """Yield the steps of a PROPFIND in document order.

    ``children(node, path)`` yields the members of a collection as batches of (segment, node),
    sorted by segment across batches.  ``infinite`` selects Depth infinity; otherwise
    ``depth_one`` selects Depth 1 over 0.  Raises ``LoopDetected`` mid-walk only if a
    loop was not caught by ``scan`` first.
    """
    yield Visit((), root, 200)
    if not root.is_collection or (not infinite and not depth_one):
        return
    if not infinite:
        for batch in children(root, ()):
            if batch:
                yield Run((), batch)
        return
    seen: set[int] = {root.key}
    on_path: list[int] = [root.key]
    stack: list[tuple[tuple[str, ...], Iterator[Run[N] | tuple[str, N]]]] = [
        ((), _split((), children(root, ())))
    ]
    while stack:
        prefix, it = stack[-1]
        nxt = next(it, None)
        if nxt is None:
            stack.pop()
            on_path.pop()
            continue
        if isinstance(nxt, Run):
            yield nxt
            continue
        seg, child = nxt
        path = (*prefix, seg)
        if bind_aware:
            if child.key in seen:
                yield Visit(path, child, 208)
                continue
            seen.add(child.key)
        elif child.key in on_path:
            raise LoopDetected(path)
        yield Visit(path, child, 200)
        on_path.append(child.key)
        stack.append((path, _split(path, children(child, path))))


def _split(
    prefix: tuple[str, ...], batches: Iterable[Sequence[tuple[str, N]]]
) -> Iterator[Run[N] | tuple[str, N]]:
    """The members of one collection: runs of non-collections, and each collection alone
    (the walk decides its status and descends before the next run)."""
    for batch in batches:
        start = 0
        for i, (_, node) in enumerate(batch):
            if node.is_collection:
                if i > start:
                    yield Run(prefix, batch[start:i])
                yield batch[i]
                start = i + 1
        if start < len(batch):
            yield Run(prefix, batch[start:] if start else batch)


def visits(steps: Iterable[Step[N]]) -> Iterator[Visit[N]]:
    """One ``Visit`` per response: each run's members expanded, in order."""
    for step in steps:
        if isinstance(step, Run):
            for seg, node in step.members:
                yield Visit((*step.prefix, seg), node, 200)
        else:
            yield step
