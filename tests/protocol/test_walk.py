"""Tables for the PROPFIND tree walk over bindings: ``scan`` and ``walk`` (RFC 5842 §7).

Graphs are written as ``{collection key: {segment: child key}}``; a key that is not a
collection is a leaf.  ``edges()`` feeds ``scan`` exactly as the store's
``edges_below`` does (every binding whose parent is reachable, once), and ``kids()``
gives ``walk`` the members in code-point order of segments, in batches of a chosen size.
Besides the hand-written tables, hypothesis checks on random graphs that ``scan``
predicts what ``walk`` does (loop or not, number of responses in both modes), that plain
enumeration equals a brute-force list of every path, and that batch sizes change how
members are grouped into runs but never what is reported.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from davbind.protocol.walk import LoopDetected, Run, Scan, Visit, scan, visits, walk

Graph = Mapping[int, Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class Node:
    key: int
    is_collection: bool


def node(graph: Graph, key: int) -> Node:
    return Node(key, key in graph)


def kids(graph: Graph, batch: int = 512):
    def children(n: Node, path: tuple[str, ...] = ()) -> Iterator[list[tuple[str, Node]]]:
        members = [(seg, node(graph, graph[n.key][seg])) for seg in sorted(graph[n.key])]
        for at in range(0, len(members), batch):
            yield members[at : at + batch]

    return children


def edges(graph: Graph, root: int) -> Iterator[tuple[int, int, bool]]:
    """What ``Txn.edges_below`` yields: each binding of each reachable collection once."""
    if root not in graph:
        return
    reach, todo = {root}, [root]
    while todo:
        parent = todo.pop()
        for child in graph[parent].values():
            if child in graph and child not in reach:
                reach.add(child)
                todo.append(child)
    for parent in sorted(reach):
        for seg in sorted(graph[parent]):
            child = graph[parent][seg]
            yield parent, child, child in graph


def run_scan(graph: Graph, root: int = 0) -> Scan:
    return scan(root, root in graph, edges(graph, root))


def run_walk(
    graph: Graph, root: int = 0, *, depth: str = "infinity", bind_aware: bool = True,
    batch: int = 512,
) -> list[tuple[str, int, int]]:
    steps = walk(
        node(graph, root),
        kids(graph, batch),
        infinite=depth == "infinity",
        bind_aware=bind_aware,
        depth_one=depth == "1",
    )
    return [("/".join(v.path), v.node.key, v.status) for v in visits(steps)]


# Leaves are keys >= 100.
LEAF = {}  # type: ignore[var-annotated]
EMPTY = {0: {}}
TREE = {0: {"a": 1, "f": 100}, 1: {"g": 101, "b": 2}, 2: {}}
DIAMOND = {0: {"x": 1, "y": 1}, 1: {"f": 100}}
DIAMOND_DEEP = {0: {"x": 1, "y": 2}, 1: {"s": 3}, 2: {"s": 3}, 3: {"f": 100, "g": 101}}
LEAF_TWICE = {0: {"a": 100, "b": 100, "c": 1}, 1: {"d": 100}}
SELF_LOOP = {0: {"f": 100, "me": 0}}
TWO_CYCLE = {0: {"a": 1}, 1: {"b": 0, "f": 100}}
LOOP_BELOW = {0: {"a": 1, "z": 100}, 1: {"b": 2}, 2: {"c": 1, "g": 101}}
LOOP_AND_DIAMOND = {0: {"a": 1, "b": 1}, 1: {"up": 0, "s": 2}, 2: {}}
LADDER = {0: {"x": 1, "y": 1}, 1: {"x": 2, "y": 2}, 2: {"x": 3, "y": 3}, 3: {"f": 100}}


# --------------------------------------------------------------------------- scan


@pytest.mark.parametrize(
    ("graph", "root", "expected"),
    [
        pytest.param(LEAF, 100, Scan(False, 1, 1), id="leaf-root"),
        pytest.param(EMPTY, 0, Scan(False, 1, 1), id="empty-collection"),
        pytest.param(TREE, 0, Scan(False, 5, 5), id="tree"),
        pytest.param(DIAMOND, 0, Scan(False, 4, 5), id="diamond"),
        pytest.param(DIAMOND_DEEP, 0, Scan(False, 7, 9), id="diamond-deep"),
        pytest.param(LEAF_TWICE, 0, Scan(False, 5, 5), id="leaf-twice"),
        pytest.param(SELF_LOOP, 0, Scan(True, 3, None), id="self-loop"),
        pytest.param(TWO_CYCLE, 0, Scan(True, 4, None), id="two-cycle-through-root"),
        pytest.param(TWO_CYCLE, 1, Scan(True, 4, None), id="two-cycle-from-other-node"),
        pytest.param(LOOP_BELOW, 0, Scan(True, 6, None), id="loop-not-through-root"),
        pytest.param(LOOP_BELOW, 2, Scan(True, 4, None), id="loop-entered-midway"),
        pytest.param(LOOP_AND_DIAMOND, 0, Scan(True, 5, None), id="loop-and-diamond"),
        pytest.param(LOOP_AND_DIAMOND, 2, Scan(False, 1, 1), id="out-of-scope-loop"),
        pytest.param(LADDER, 0, Scan(False, 8, 1 + 2 + 4 + 8 + 8), id="ladder-exponential"),
    ],
)
def test_scan(graph, root, expected):
    assert run_scan(graph, root) == expected


def test_scan_root_not_a_collection_ignores_edges():
    assert scan(7, False, [(7, 8, True)]) == Scan(False, 1, 1)


def test_scan_loop_found_after_a_finished_branch():
    # The first branch finishes (BLACK) before the loop is met in the second.
    graph = {0: {"a": 1, "b": 2}, 1: {"f": 100}, 2: {"c": 3}, 3: {"back": 2}}
    assert run_scan(graph) == Scan(True, 6, None)


def test_scan_counts_plain_responses_of_a_wide_ladder_without_enumerating():
    width = 40  # 2**40 paths: only countable, never walkable
    graph: dict[int, dict[str, int]] = {i: {"x": i + 1, "y": i + 1} for i in range(width)}
    graph[width] = {}
    result = run_scan(graph)
    assert result.responses_bind_aware == 1 + 2 * width
    assert result.responses_plain == 2 ** (width + 1) - 1
    assert not result.has_loop


# --------------------------------------------------------------------------- walk


WALK_TABLE = [
    pytest.param(
        TREE, "infinity", True,
        [("", 0, 200), ("a", 1, 200), ("a/b", 2, 200), ("a/g", 101, 200), ("f", 100, 200)],
        id="tree-infinity",
    ),
    pytest.param(
        TREE, "1", True, [("", 0, 200), ("a", 1, 200), ("f", 100, 200)], id="tree-depth-1",
    ),
    pytest.param(TREE, "0", True, [("", 0, 200)], id="tree-depth-0"),
    pytest.param(
        DIAMOND, "infinity", True,
        [("", 0, 200), ("x", 1, 200), ("x/f", 100, 200), ("y", 1, 208)],
        id="diamond-bind-aware",
    ),
    pytest.param(
        DIAMOND, "infinity", False,
        [("", 0, 200), ("x", 1, 200), ("x/f", 100, 200), ("y", 1, 200), ("y/f", 100, 200)],
        id="diamond-plain-enumerates-twice",
    ),
    pytest.param(
        DIAMOND, "1", True, [("", 0, 200), ("x", 1, 200), ("y", 1, 200)],
        id="diamond-depth-1-no-208",
    ),
    pytest.param(
        DIAMOND_DEEP, "infinity", True,
        [("", 0, 200), ("x", 1, 200), ("x/s", 3, 200), ("x/s/f", 100, 200),
         ("x/s/g", 101, 200), ("y", 2, 200), ("y/s", 3, 208)],
        id="diamond-deep-bind-aware",
    ),
    pytest.param(
        LEAF_TWICE, "infinity", True,
        [("", 0, 200), ("a", 100, 200), ("b", 100, 200), ("c", 1, 200), ("c/d", 100, 200)],
        id="leaves-never-208",
    ),
    pytest.param(
        SELF_LOOP, "infinity", True, [("", 0, 200), ("f", 100, 200), ("me", 0, 208)],
        id="self-loop-bind-aware",
    ),
    pytest.param(
        SELF_LOOP, "1", True, [("", 0, 200), ("f", 100, 200), ("me", 0, 200)],
        id="self-loop-depth-1",
    ),
    pytest.param(SELF_LOOP, "0", False, [("", 0, 200)], id="self-loop-depth-0-plain"),
    pytest.param(
        TWO_CYCLE, "infinity", True,
        [("", 0, 200), ("a", 1, 200), ("a/b", 0, 208), ("a/f", 100, 200)],
        id="two-cycle-bind-aware",
    ),
    pytest.param(
        LOOP_BELOW, "infinity", True,
        [("", 0, 200), ("a", 1, 200), ("a/b", 2, 200), ("a/b/c", 1, 208),
         ("a/b/g", 101, 200), ("z", 100, 200)],
        id="loop-below-bind-aware",
    ),
    pytest.param(
        LOOP_AND_DIAMOND, "infinity", True,
        [("", 0, 200), ("a", 1, 200), ("a/s", 2, 200), ("a/up", 0, 208), ("b", 1, 208)],
        id="loop-and-diamond-bind-aware",
    ),
    pytest.param(EMPTY, "infinity", False, [("", 0, 200)], id="empty-collection"),
    pytest.param(EMPTY, "1", False, [("", 0, 200)], id="empty-collection-depth-1"),
]  # fmt: skip


@pytest.mark.parametrize(("graph", "depth", "bind_aware", "expected"), WALK_TABLE)
def test_walk(graph, depth, bind_aware, expected):
    assert run_walk(graph, depth=depth, bind_aware=bind_aware) == expected


@pytest.mark.parametrize("depth", ["0", "1", "infinity"])
@pytest.mark.parametrize("bind_aware", [True, False])
def test_walk_of_a_leaf_is_the_leaf(depth, bind_aware):
    assert run_walk({}, 100, depth=depth, bind_aware=bind_aware) == [("", 100, 200)]


def test_walk_depth_one_is_the_default_for_finite_depth():
    steps = walk(node(TREE, 0), kids(TREE), infinite=False, bind_aware=False)
    assert [v.path for v in visits(steps)] == [(), ("a",), ("f",)]


def test_walk_yields_visit_values():
    (first, *_rest) = walk(node(TREE, 0), kids(TREE), infinite=True, bind_aware=True)
    assert first == Visit((), Node(0, True), 200)


@pytest.mark.parametrize(
    ("graph", "root", "path", "before"),
    [
        pytest.param(SELF_LOOP, 0, ("me",), ["", "f"], id="self-loop"),
        pytest.param(TWO_CYCLE, 0, ("a", "b"), ["", "a"], id="two-cycle"),
        pytest.param(LOOP_BELOW, 0, ("a", "b", "c"), ["", "a", "a/b"], id="loop-below-root"),
        pytest.param(
            LOOP_AND_DIAMOND, 0, ("a", "up"), ["", "a", "a/s"], id="loop-after-sibling",
        ),
    ],
)  # fmt: skip
def test_walk_unscanned_loop_raises_loop_detected(graph, root, path, before):
    seen: list[str] = []
    with pytest.raises(LoopDetected) as caught:
        steps = walk(node(graph, root), kids(graph), infinite=True, bind_aware=False)
        for visit in visits(steps):
            seen.append("/".join(visit.path))
    assert caught.value.path == path
    assert str(caught.value) == "/".join(path)
    assert seen == before  # everything before the loop was produced, nothing after


def test_walk_plain_diamond_is_not_a_loop():
    assert len(run_walk(LADDER, bind_aware=False)) == run_scan(LADDER).responses_plain


def test_walk_is_lazy():
    calls: list[int] = []
    graph = {0: {"a": 1, "b": 2}, 1: {}, 2: {}}

    def children(n: Node, path: tuple[str, ...] = ()):
        calls.append(n.key)
        return kids(graph)(n)

    it = visits(walk(node(graph, 0), children, infinite=True, bind_aware=True))
    assert next(it).path == ()
    assert calls == []
    assert next(it).path == ("a",)
    assert calls == [0]


# --------------------------------------------------------------------------- properties


@st.composite
def graphs(draw) -> dict[int, dict[str, int]]:
    """Random binding graphs: up to 6 collections (0 is the root) and 3 leaves."""
    n_coll = draw(st.integers(1, 6))
    keys = [*range(n_coll), 100, 101, 102]
    graph: dict[int, dict[str, int]] = {}
    for c in range(n_coll):
        segs = draw(st.lists(st.sampled_from("abcde"), max_size=4, unique=True))
        graph[c] = {s: draw(st.sampled_from(keys)) for s in segs}
    return graph


def all_paths(graph: Graph, key: int, prefix: tuple[str, ...] = ()) -> list[tuple]:
    out = [(prefix, key)]
    for seg in sorted(graph.get(key, {})):
        out += all_paths(graph, graph[key][seg], (*prefix, seg))
    return out


@settings(max_examples=300, deadline=None)
@given(graphs(), st.integers(0, 5))
def test_scan_predicts_walk(graph, root):
    root = root if root in graph else 0
    predicted = run_scan(graph, root)
    aware = run_walk(graph, root, bind_aware=True)
    assert len(aware) == predicted.responses_bind_aware
    # Bind-aware: each collection once with 200, every other binding to it 208.
    ok = [key for _, key, status in aware if status == 200 and key in graph]
    assert len(ok) == len(set(ok))
    for path, key, status in aware:
        if status == 208:
            assert key in graph and key in ok
            assert not any(p.startswith(path + "/") for p, _, _ in aware)
    # Plain: a loop raises exactly when scan saw one; otherwise every path, once.
    try:
        plain = run_walk(graph, root, bind_aware=False)
    except LoopDetected:
        assert predicted.has_loop
        assert predicted.responses_plain is None
    else:
        assert not predicted.has_loop
        assert len(plain) == predicted.responses_plain
        assert [(tuple(p.split("/")) if p else (), k) for p, k, _ in plain] == all_paths(
            graph, root
        )
        assert {s for _, _, s in plain} == {200}


@settings(max_examples=100, deadline=None)
@given(graphs())
def test_finite_depths_never_208(graph):
    for depth, bind_aware in (("0", True), ("1", True), ("1", False)):
        visits = run_walk(graph, depth=depth, bind_aware=bind_aware)
        assert {s for _, _, s in visits} == {200}
        expected = 1 if depth == "0" else 1 + len(graph[0])
        assert len(visits) == expected


# --------------------------------------------------------------------------- runs


def test_runs_hold_consecutive_leaves_and_collections_come_alone():
    graph = {0: {"a": 100, "b": 101, "c": 1, "d": 102, "e": 2, "f": 103}, 1: {}, 2: {}}
    steps = list(walk(node(graph, 0), kids(graph), infinite=True, bind_aware=True))
    shape = [
        [s for s, _ in st_.members] if isinstance(st_, Run) else "/".join(st_.path)
        for st_ in steps
    ]
    assert shape == ["", ["a", "b"], "c", ["d"], "e", ["f"]]


def test_depth_one_members_are_runs_one_per_batch_collections_included():
    graph = {0: {"a": 100, "b": 1, "c": 101}, 1: {"x": 102}}
    steps = list(walk(node(graph, 0), kids(graph, 2), infinite=False, bind_aware=True))
    assert isinstance(steps[0], Visit) and steps[0].path == ()
    assert [[s for s, _ in r.members] for r in steps[1:] if isinstance(r, Run)] == [
        ["a", "b"], ["c"],
    ]
    assert len(steps) == 3


def test_a_run_never_holds_a_collection_at_depth_infinity():
    graph = {0: {"a": 1, "b": 100, "c": 2}, 1: {"d": 101, "e": 0}, 2: {"f": 1}}
    for bind_aware in (True, False):
        try:
            steps = list(walk(node(graph, 0), kids(graph, 1), infinite=True,
                              bind_aware=bind_aware))  # fmt: skip
        except LoopDetected:
            assert not bind_aware
            continue
        for step in steps:
            if isinstance(step, Run):
                assert all(not n.is_collection for _, n in step.members)


@settings(max_examples=200, deadline=None)
@given(graphs(), st.integers(0, 5), st.integers(1, 4), st.sampled_from(["0", "1", "infinity"]))
def test_batch_size_never_changes_what_is_reported(graph, root, batch, depth):
    root = root if root in graph else 0
    for bind_aware in (True, False):
        try:
            whole = run_walk(graph, root, depth=depth, bind_aware=bind_aware)
        except LoopDetected:
            with pytest.raises(LoopDetected):
                run_walk(graph, root, depth=depth, bind_aware=bind_aware, batch=batch)
            continue
        assert run_walk(graph, root, depth=depth, bind_aware=bind_aware, batch=batch) == whole
