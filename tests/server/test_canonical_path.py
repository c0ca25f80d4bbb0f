"""The canonical path of a parent in DAV:parent-set (RFC 5842 §3.2; decision A-22):
``liveprops.canonical_path`` against the definition itself (a breadth-first walk from
the root, segments in code-point order) on random binding graphs with shared members
and loops, and its cost, which must not grow with the number of siblings."""

from __future__ import annotations

import contextlib
import tempfile
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from davbind.server.liveprops import canonical_path
from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import AlreadyExists
from davbind.storage.open import open_blobs, open_metadata

SEGMENTS = ("a", "a-", "aa", "b", "Z", "é", "a b")


def bfs_definition(txn: Txn, key: int) -> tuple[str, ...] | None:
    """Decision A-22 word for word: the first path to ``key`` a breadth-first walk from
    the root finds, taking each collection's members in code-point order."""
    if key == txn.root_key:
        return ()
    seen = {txn.root_key}
    queue: deque[tuple[int, tuple[str, ...]]] = deque([(txn.root_key, ())])
    while queue:
        node, path = queue.popleft()
        for seg, child in sorted(txn.children(node), key=lambda m: m[0]):
            if child.key == key:
                return (*path, seg)
            if child.key not in seen and child.is_collection:
                seen.add(child.key)
                queue.append((child.key, (*path, seg)))
    return None


def _store(directory: Path) -> MetadataStore:
    return open_metadata(f"sqlite://{directory}/meta.sqlite3", open_blobs(f"file://{directory}/b"))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    s = _store(tmp_path)
    yield s
    s.close()


graphs = st.integers(2, 9).flatmap(
    lambda n: st.tuples(
        st.just(n),
        # the tree: node i (1..n-1) bound in an earlier node
        st.lists(st.tuples(st.integers(0, n - 1), st.sampled_from(SEGMENTS)),
                 min_size=n - 1, max_size=n - 1),
        # more bindings, anywhere (loops included); the root cannot be bound
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, n - 1),
                           st.sampled_from(SEGMENTS)), max_size=14),
    )
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graphs)
def test_canonical_path_is_the_breadth_first_definition(graph: tuple) -> None:  # type: ignore[type-arg]
    _, tree, extra = graph
    with tempfile.TemporaryDirectory() as tmp:
        store = _store(Path(tmp))
        try:
            with store.write() as txn:
                keys = [txn.root_key]
                for i, (parent, seg) in enumerate(tree, start=1):
                    p = keys[parent % i]
                    keys.append(txn.create(p, f"{seg}{i}", collection=True).key)
                for parent, child, seg in extra:
                    with contextlib.suppress(AlreadyExists):
                        txn.bind(keys[parent], seg, keys[child])
                for k in keys:
                    assert canonical_path(txn, k) == bfs_definition(txn, k), k
        finally:
            store.close()


class CountingTxn:
    """A ``Txn`` that counts the bindings ``canonical_path`` reads, and refuses to list
    a collection (listing the root's members is what made it slow)."""

    def __init__(self, txn: Txn) -> None:
        self.txn = txn
        self.parents_calls = 0
        self.rows = 0

    @property
    def root_key(self) -> int:
        return self.txn.root_key

    def parents(self, key: int) -> list[tuple[int, str]]:
        self.parents_calls += 1
        found = self.txn.parents(key)
        self.rows += len(found)
        return found

    def children(self, parent: int) -> None:
        raise AssertionError("canonical_path listed the members of a collection")


def test_cost_follows_depth_not_siblings(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root_key
        for i in range(3000):
            txn.create(root, f"s{i:05d}", collection=True)
        deep = root
        chain = []
        for _ in range(40):
            deep = txn.create(deep, "zz", collection=True).key
            chain.append(deep)
        # a shorter way to the 30th collection of the chain, through a crowded root
        s0 = txn.lookup(root, "s00000")
        assert s0 is not None
        detour = txn.create(s0.key, "x", collection=True).key
        txn.bind(detour, "y", chain[29])
        counting = CountingTxn(txn)
        assert canonical_path(counting, chain[20]) == ("zz",) * 21  # type: ignore[arg-type]
        assert counting.parents_calls == 21  # one query per level, one binding each
        assert counting.rows == 21
        counting = CountingTxn(txn)
        assert canonical_path(counting, deep) == ("s00000", "x", "y", *("zz",) * 10)  # type: ignore[arg-type]
        # at most two collections per level: the chain and the detour
        assert counting.parents_calls <= 2 * 13
        assert counting.rows <= 2 * 13

def test_unreachable_and_root(store: MetadataStore) -> None:
    with store.write() as txn:
        assert canonical_path(txn, txn.root_key) == ()
        a = txn.create(txn.root_key, "a", collection=True).key
        b = txn.create(a, "b", collection=True).key
        txn.bind(b, "loop", a)
        assert canonical_path(txn, b) == ("a", "b")
        assert canonical_path(txn, 10**9) is None
