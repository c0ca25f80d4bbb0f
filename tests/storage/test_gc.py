"""Reclamation by reachability from the root (RFC 5842 §2.4, §5; decision A-27, B-2.4-2).

A resource lives while some path from the root reaches it; removing a binding reclaims,
in the same transaction, exactly what no longer has one: cycles cut off from the root
included, nothing that is still reachable through another binding.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

import pytest

from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import DeadProp, Lock, NotFound, Resource

MakeFile = Callable[..., Resource]
BlobStored = Callable[[str], bool]


def _alive(txn: Txn, key: int) -> bool:
    try:
        txn.get(key)
    except NotFound:
        return False
    return True


def _all_reachable(txn: Txn) -> set[int]:
    root = txn.root.key
    return txn.descendants(root) | {root}


def _lock(token: str, key: int, root: str) -> Lock:
    return Lock(token, key, root, True, True, None, None, 600, time.time() + 600)


def test_collection_bound_twice_survives_one_unbind(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        root = txn.root.key
        c = txn.create(root, "a", collection=True)
        txn.bind(root, "b", c.key)
        m = make_file(txn, c.key, "m", b"member of C")
        sub = txn.create(c.key, "sub", collection=True)
        deep = make_file(txn, sub.key, "deep", b"deep member")
        txn.set_dead_prop(deep.key, DeadProp("{urn:t}p", "<p/>"))
    with store.write() as txn:
        txn.unbind(txn.root.key, "a")
    with store.read() as txn:
        assert txn.lookup(txn.root.key, "a") is None
        assert txn.resolve(["b"]).key == c.key
        assert txn.resolve(["b", "m"]).key == m.key
        assert txn.resolve(["b", "sub", "deep"]).key == deep.key
        assert txn.dead_props(deep.key) == [DeadProp("{urn:t}p", "<p/>")]
        assert [s for s, _ in txn.children(c.key)] == ["m", "sub"]
    assert m.digest is not None and deep.digest is not None
    assert blob_stored(m.digest) and blob_stored(deep.digest)


def test_self_loop_cut_off_from_root_is_reclaimed(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "loop", collection=True)
        txn.bind(c.key, "self", c.key)
        f = make_file(txn, c.key, "f", b"inside the loop")
        txn.set_dead_prop(c.key, DeadProp("{urn:t}p", "<p/>"))
        txn.add_lock(_lock("t-c", c.key, "/loop"))
    assert f.digest is not None
    with store.write() as txn:
        assert txn.unbind(txn.root.key, "loop") == c.key
        assert not _alive(txn, c.key) and not _alive(txn, f.key)
    with store.read() as txn:
        assert not _alive(txn, c.key)
        assert not _alive(txn, f.key)
        assert txn.parents(c.key) == []
        assert txn.parents(f.key) == []
        assert list(txn.children(c.key)) == []
        assert txn.dead_props(c.key) == []
        assert txn.lock("t-c") is None
        assert _all_reachable(txn) == {txn.root.key}
    assert not blob_stored(f.digest)


def test_two_cycle_cut_off_from_root_is_reclaimed(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        root = txn.root.key
        holder = txn.create(root, "holder", collection=True)
        x = txn.create(holder.key, "x", collection=True)
        y = txn.create(x.key, "y", collection=True)
        txn.bind(y.key, "x", x.key)
        fx = make_file(txn, x.key, "fx", b"file in X")
        fy = make_file(txn, y.key, "fy", b"file in Y")
        keep = txn.create(root, "keep", collection=True)
    with store.write() as txn:
        txn.unbind(txn.root.key, "holder")
    with store.read() as txn:
        for res in (holder, x, y, fx, fy):
            assert not _alive(txn, res.key), res
            assert txn.parents(res.key) == []
        assert _alive(txn, keep.key)
        assert _all_reachable(txn) == {txn.root.key, keep.key}
    for res in (fx, fy):
        assert res.digest is not None and not blob_stored(res.digest)


def test_two_cycle_unbound_from_within(store: MetadataStore) -> None:
    # X{y->Y}, Y{x->X}, X bound at /x: unbinding /x leaves X and Y only each other.
    with store.write() as txn:
        x = txn.create(txn.root.key, "x", collection=True)
        y = txn.create(x.key, "y", collection=True)
        txn.bind(y.key, "x", x.key)
    with store.write() as txn:
        txn.unbind(txn.root.key, "x")
    with store.read() as txn:
        assert not _alive(txn, x.key) and not _alive(txn, y.key)


def test_breaking_a_cycle_inside_a_reachable_tree_keeps_it(store: MetadataStore) -> None:
    with store.write() as txn:
        x = txn.create(txn.root.key, "x", collection=True)
        y = txn.create(x.key, "y", collection=True)
        txn.bind(y.key, "back", x.key)
    with store.write() as txn:
        txn.unbind(y.key, "back")
    with store.read() as txn:
        assert txn.resolve(["x", "y"]).key == y.key
        assert list(txn.children(y.key)) == []


def test_dag_child_reachable_through_sibling_survives(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True)
        b = txn.create(root, "b", collection=True)
        shared = txn.create(a.key, "shared", collection=True)
        txn.bind(b.key, "shared", shared.key)
        leaf = make_file(txn, shared.key, "leaf", b"leaf")
        only_a = make_file(txn, a.key, "only-a", b"only in a")
    with store.write() as txn:
        txn.unbind(txn.root.key, "a")
    with store.read() as txn:
        assert not _alive(txn, a.key) and not _alive(txn, only_a.key)
        assert txn.resolve(["b", "shared", "leaf"]).key == leaf.key
        assert txn.parents(shared.key) == [(b.key, "shared")]
    assert leaf.digest is not None and only_a.digest is not None
    assert blob_stored(leaf.digest)
    assert not blob_stored(only_a.digest)


def test_child_reachable_through_a_sibling_inside_the_deleted_tree(
    store: MetadataStore,
) -> None:
    # /a/{b, x}, /a/b/x -> x, and b also bound at /b: unbinding /a keeps b and x.
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True)
        b = txn.create(a.key, "b", collection=True)
        x = txn.create(a.key, "x", collection=True)
        txn.bind(b.key, "x", x.key)
        txn.bind(root, "b", b.key)
    with store.write() as txn:
        txn.unbind(txn.root.key, "a")
    with store.read() as txn:
        assert not _alive(txn, a.key)
        assert txn.resolve(["b", "x"]).key == x.key
        assert txn.parents(x.key) == [(b.key, "x")]


def test_loop_back_to_a_reachable_ancestor_is_not_a_lifeline(store: MetadataStore) -> None:
    # /p/c with c{up -> p}: unbinding /p/c drops c even though c binds a live resource.
    with store.write() as txn:
        p = txn.create(txn.root.key, "p", collection=True)
        c = txn.create(p.key, "c", collection=True)
        txn.bind(c.key, "up", p.key)
    with store.write() as txn:
        txn.unbind(p.key, "c")
    with store.read() as txn:
        assert not _alive(txn, c.key)
        assert txn.parents(p.key) == [(txn.root.key, "p")]
        assert list(txn.children(p.key)) == []


def test_loop_through_the_root_does_not_reclaim_the_root(store: MetadataStore) -> None:
    # /a{top -> root}: unbinding /a must reclaim A, never the root or its other members.
    with store.write() as txn:
        root = txn.root
        a = txn.create(root.key, "a", collection=True)
        txn.bind(a.key, "top", root.key)
        other = txn.create(root.key, "other", collection=True)
        f = txn.create(other.key, "f", collection=False)
    with store.write() as txn:
        txn.unbind(root.key, "a")
    with store.read() as txn:
        assert txn.get(root.key).rid == root.rid
        assert txn.root.rid == root.rid
        assert txn.resolve(["other", "f"]).key == f.key
        assert not _alive(txn, a.key)
        assert txn.parents(root.key) == []


def test_unbinding_a_binding_of_the_root_keeps_it(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root
        a = txn.create(root.key, "a", collection=True)
        txn.bind(a.key, "top", root.key)
    with store.write() as txn:
        assert txn.unbind(a.key, "top") == root.key
    with store.read() as txn:
        assert txn.root.rid == root.rid
        assert txn.resolve(["a"]).key == a.key


def test_deleting_a_big_tree_reclaims_everything(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    rng = random.Random(5842)
    made: list[Resource] = []
    with store.write() as txn:
        top = txn.create(txn.root.key, "big", collection=True)
        colls = [top]
        while len(made) < 200:
            parent = rng.choice(colls)
            name = f"n{len(made)}"
            if rng.random() < 0.3:
                res = txn.create(parent.key, name, collection=True)
                colls.append(res)
            else:
                res = make_file(txn, parent.key, name, f"content {len(made)}".encode())
                txn.set_dead_prop(res.key, DeadProp("{urn:t}n", f"<n>{len(made)}</n>"))
            made.append(res)
        # Extra bindings inside the tree, a few loops among them.
        for _ in range(40):
            txn.bind(rng.choice(colls).key, f"extra{_}", rng.choice(made + colls).key)
        txn.add_lock(_lock("t-big", top.key, "/big"))
        keep = make_file(txn, txn.root.key, "keep", b"keep me")
    with store.read() as txn:
        assert _all_reachable(txn) == {txn.root.key, top.key, keep.key} | {r.key for r in made}
    with store.write() as txn:
        txn.unbind(txn.root.key, "big")
    with store.read() as txn:
        assert _all_reachable(txn) == {txn.root.key, keep.key}
        for res in [top, *made]:
            assert not _alive(txn, res.key)
            assert txn.parents(res.key) == []
            assert txn.dead_props(res.key) == []
        assert txn.locks_rooted_at_or_below("/") == []
    for res in made:
        if res.digest is not None:
            assert not blob_stored(res.digest)
    assert keep.digest is not None and blob_stored(keep.digest)


def test_deep_chain_is_reclaimed(store: MetadataStore) -> None:
    keys: list[int] = []
    with store.write() as txn:
        parent = txn.root.key
        for i in range(300):
            parent = txn.create(parent, f"d{i}", collection=True).key
            keys.append(parent)
        txn.bind(parent, "to-top", keys[0])
    with store.write() as txn:
        txn.unbind(txn.root.key, "d0")
    with store.read() as txn:
        assert not any(_alive(txn, k) for k in keys)
        assert _all_reachable(txn) == {txn.root.key}


def test_gc_is_rolled_back_with_the_transaction(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
        txn.bind(c.key, "self", c.key)
        f = make_file(txn, c.key, "f", b"rolled back")
    assert f.digest is not None
    with pytest.raises(RuntimeError), store.write() as txn:
        txn.unbind(txn.root.key, "c")
        assert not _alive(txn, f.key)
        raise RuntimeError("abort")
    with store.read() as txn:
        assert txn.resolve(["c", "self", "f"]).key == f.key
    assert blob_stored(f.digest)


def test_random_graphs_match_a_reachability_model(store: MetadataStore) -> None:
    """Random binds/unbinds/creates; after each step the live set equals what a plain
    graph search from the root finds in a model of the bindings."""
    rng = random.Random(2010)
    edges: dict[tuple[int, str], int] = {}
    colls: set[int] = set()
    with store.read() as txn:
        root = txn.root.key
    colls.add(root)
    created: set[int] = set()
    n = 0

    def model_live() -> set[int]:
        seen, todo = {root}, [root]
        while todo:
            k = todo.pop()
            for (p, _), c in edges.items():
                if p == k and c not in seen:
                    seen.add(c)
                    todo.append(c)
        return seen

    for step in range(300):
        live = model_live()
        with store.write() as txn:
            op = rng.random()
            live_colls = sorted(colls & live)
            if op < 0.45 or len(edges) < 3:
                parent = rng.choice(live_colls)
                seg = f"s{n}"
                n += 1
                is_coll = rng.random() < 0.6
                k = txn.create(parent, seg, collection=is_coll).key
                edges[(parent, seg)] = k
                created.add(k)
                if is_coll:
                    colls.add(k)
            elif op < 0.7:
                parent = rng.choice(live_colls)
                # Bindings to the root are covered by the loop-through-root tests.
                child = rng.choice(sorted(live - {root}))
                seg = f"b{n}"
                n += 1
                txn.bind(parent, seg, child)
                edges[(parent, seg)] = child
            else:
                parent, seg = rng.choice(sorted(e for e in edges if e[0] in live))
                txn.unbind(parent, seg)
                del edges[(parent, seg)]
                live = model_live()
                for e in [e for e in edges if e[0] not in live]:
                    del edges[e]
        with store.read() as txn:
            assert _all_reachable(txn) == model_live(), step
            for k in created:
                assert _alive(txn, k) == (k in model_live()), (step, k)
