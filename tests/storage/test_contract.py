"""The storage contract: what every ``MetadataStore`` backend must do (the model of
docs/architecture.md).

Resources and ids (RFC 5842 §2.7, §3.1), bindings and paths (§1.1, §2, §3.2), transactions,
dead properties (§2.6), locks (RFC 4918 §6, RFC 5842 §9) and concurrency.  Reclamation is
in test_gc.py, content addressing in test_blobs.py.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from davbind.storage.interface import BlobStore, MetadataStore, Txn
from davbind.storage.model import (
    AlreadyExists,
    DeadProp,
    Lock,
    NotACollection,
    NotFound,
    Resource,
)

OpenStore = Callable[[], MetadataStore]
MakeFile = Callable[..., Resource]
PutBlob = Callable[[Txn, bytes], tuple[str, int]]
BlobStored = Callable[[str], bool]


def _is_uuid4_urn(rid: str) -> bool:
    if not rid.startswith("urn:uuid:"):
        return False
    return uuid.UUID(rid.removeprefix("urn:uuid:")).version == 4


def _root_rid(store: MetadataStore) -> str:
    with store.read() as txn:
        return txn.root.rid


# -- resources and ids ---------------------------------------------------------------------


def test_fresh_store_has_a_root_collection(store: MetadataStore) -> None:
    with store.read() as txn:
        root = txn.root
        assert root.is_collection
        assert _is_uuid4_urn(root.rid)
        assert txn.get(root.key) == root
        assert txn.resolve([]) == root
        assert list(txn.children(root.key)) == []
        assert txn.parents(root.key) == []


def test_root_survives_reopening(store: MetadataStore, open_store: OpenStore) -> None:
    with store.write() as txn:
        root = txn.root
        a = txn.create(root.key, "a", collection=True)
    store.close()
    again = open_store()
    with again.read() as txn:
        assert txn.root.rid == root.rid
        assert txn.root.key == root.key
        assert txn.resolve(["a"]).rid == a.rid


def test_create_gives_new_uuid4_rids(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True)
        f = make_file(txn, a.key, "f", b"x")
    assert a.is_collection and not f.is_collection
    assert _is_uuid4_urn(a.rid) and _is_uuid4_urn(f.rid)
    assert len({a.rid, f.rid, _root_rid(store)}) == 3
    assert a.key != f.key


def test_rid_and_key_never_reused(store: MetadataStore, make_file: MakeFile) -> None:
    seen_rids: set[str] = set()
    seen_keys: set[int] = set()
    for _ in range(5):
        with store.write() as txn:
            f = make_file(txn, txn.root.key, "f", b"same")
        assert f.rid not in seen_rids and f.key not in seen_keys
        seen_rids.add(f.rid)
        seen_keys.add(f.key)
        with store.write() as txn:
            assert txn.unbind(txn.root.key, "f") == f.key
        with store.read() as txn, pytest.raises(NotFound):
            txn.get(f.key)


def test_rid_not_reused_after_reopen(store: MetadataStore, open_store: OpenStore) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        txn.unbind(txn.root.key, "a")
    store.close()
    again = open_store()
    with again.write() as txn:
        b = txn.create(txn.root.key, "a", collection=True)
    assert b.rid != a.rid
    assert b.key != a.key


def test_create_stores_content_fields(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f.txt", b"hello", "text/x-test")
        assert txn.get(f.key) == f
    assert f.size == 5
    assert f.content_type == "text/x-test"
    assert f.digest is not None and len(f.digest) == 64
    assert f.version >= 1
    assert f.created <= f.modified


def test_create_collection_has_no_content(store: MetadataStore) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
    assert c.digest is None and c.size == 0


def test_get_unknown_key_raises_not_found(store: MetadataStore) -> None:
    with store.read() as txn, pytest.raises(NotFound):
        txn.get(987654321)


# -- create / lookup / resolve / children --------------------------------------------------


def test_lookup_and_resolve(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        b = txn.create(a.key, "b", collection=True)
        f = make_file(txn, b.key, "f.txt", b"x")
    with store.read() as txn:
        assert txn.lookup(txn.root.key, "a") == txn.get(a.key)
        assert txn.lookup(a.key, "b") == txn.get(b.key)
        assert txn.lookup(a.key, "nope") is None
        assert txn.lookup(txn.root.key, "b") is None
        assert txn.resolve(["a"]).key == a.key
        assert txn.resolve(["a", "b", "f.txt"]) == f


def test_segments_are_exact(store: MetadataStore) -> None:
    names = ["a", "A", "a ", "ä", "a%20b", "a b", "ﬁ", "𝔘"]
    with store.write() as txn:
        made = {n: txn.create(txn.root.key, n, collection=False).key for n in names}
    with store.read() as txn:
        for n in names:
            assert txn.resolve([n]).key == made[n]
        assert txn.lookup(txn.root.key, "fi") is None


def test_resolve_missing_raises_not_found(store: MetadataStore) -> None:
    with store.write() as txn:
        txn.create(txn.root.key, "a", collection=True)
    with store.read() as txn:
        with pytest.raises(NotFound):
            txn.resolve(["nope"])
        with pytest.raises(NotFound):
            txn.resolve(["a", "nope"])
        with pytest.raises(NotFound):
            txn.resolve(["a", "nope", "deeper"])


def test_resolve_through_a_file_raises_not_a_collection(
    store: MetadataStore, make_file: MakeFile
) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        make_file(txn, a.key, "f", b"x")
    with store.read() as txn:
        with pytest.raises(NotACollection):
            txn.resolve(["a", "f", "x"])
        assert txn.resolve(["a", "f"]).is_collection is False


def test_children_sorted_by_code_point(store: MetadataStore) -> None:
    names = ["é", "a", "B", "_", "Z", "ab", "a b", "10", "9", "𝔘", "ﬀ", "ü"]
    with store.write() as txn:
        for n in names:
            txn.create(txn.root.key, n, collection=n in {"B", "ab"})
    with store.read() as txn:
        got = [seg for seg, _ in txn.children(txn.root.key)]
    assert got == sorted(names)
    assert got.index("B") < got.index("a") < got.index("é")


def test_children_yields_current_resources(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
        f = make_file(txn, c.key, "f", b"1")
        g = txn.create(c.key, "g", collection=True)
    with store.read() as txn:
        assert list(txn.children(c.key)) == [("f", txn.get(f.key)), ("g", txn.get(g.key))]
        assert list(txn.children(f.key)) == []


def test_children_of_a_large_collection(store: MetadataStore) -> None:
    names = [f"n{i:05d}" for i in range(1500)]
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
        for n in reversed(names):
            txn.create(c.key, n, collection=False)
    with store.read() as txn:
        assert [s for s, _ in txn.children(c.key)] == names


def test_create_existing_segment_raises_already_exists(
    store: MetadataStore, make_file: MakeFile
) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        make_file(txn, a.key, "f", b"x")
    with store.write() as txn:
        with pytest.raises(AlreadyExists):
            txn.create(txn.root.key, "a", collection=False)
        with pytest.raises(AlreadyExists):
            txn.create(a.key, "f", collection=True)
    with store.read() as txn:
        assert txn.resolve(["a"]).key == a.key
        assert [s for s, _ in txn.children(a.key)] == ["f"]


def test_bind_existing_segment_raises_already_exists(
    store: MetadataStore, make_file: MakeFile
) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        f = make_file(txn, a.key, "f", b"x")
        g = make_file(txn, a.key, "g", b"y")
    with store.write() as txn:
        with pytest.raises(AlreadyExists):
            txn.bind(a.key, "f", g.key)
        with pytest.raises(AlreadyExists):
            txn.bind(a.key, "f", f.key)
    with store.read() as txn:
        assert txn.resolve(["a", "f"]).key == f.key
        assert txn.resolve(["a", "g"]).key == g.key


def test_bindings_only_between_existing_resources_in_collections(
    store: MetadataStore,
) -> None:
    # A binding is state of a collection (RFC 5842 §1.1): a non-collection or a missing
    # resource cannot hold one, and a binding cannot name a missing resource.
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False)
    missing = f.key + 10_000
    attempts: list[tuple[type[Exception], Callable[[Txn], object]]] = [
        (NotACollection, lambda t: t.create(f.key, "x", collection=False)),
        (NotACollection, lambda t: t.bind(f.key, "x", f.key)),
        (NotFound, lambda t: t.create(missing, "x", collection=False)),
        (NotFound, lambda t: t.bind(missing, "x", f.key)),
        (NotFound, lambda t: t.bind(t.root.key, "x", missing)),
    ]
    for error, attempt in attempts:
        with pytest.raises(error), store.write() as txn:
            attempt(txn)
    with store.read() as txn:
        assert txn.parents(f.key) == [(txn.root.key, "f")]
        assert list(txn.children(f.key)) == []
        assert [s for s, _ in txn.children(txn.root.key)] == ["f"]


def test_unbind_missing_raises_not_found(store: MetadataStore) -> None:
    with store.write() as txn, pytest.raises(NotFound):
        txn.unbind(txn.root.key, "nope")


# -- bindings (RFC 5842 §2) ----------------------------------------------------------------


def test_one_file_under_two_parents(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        x = txn.create(txn.root.key, "x", collection=True)
        y = txn.create(txn.root.key, "y", collection=True)
        f = make_file(txn, x.key, "f", b"shared")
        txn.bind(y.key, "alias", f.key)
    with store.read() as txn:
        via_x = txn.resolve(["x", "f"])
        via_y = txn.resolve(["y", "alias"])
        assert via_x == via_y
        assert (via_x.key, via_x.rid) == (f.key, f.rid)
        assert txn.parents(f.key) == sorted([(x.key, "f"), (y.key, "alias")])


def test_unbind_one_binding_keeps_the_other(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        x = txn.create(txn.root.key, "x", collection=True)
        y = txn.create(txn.root.key, "y", collection=True)
        f = make_file(txn, x.key, "f", b"survivor")
        txn.set_dead_prop(f.key, DeadProp("{urn:t}p", '<p xmlns="urn:t">1</p>'))
        txn.bind(y.key, "f", f.key)
        txn.add_lock(_lock("tok-f", f.key, "/y/f"))
    assert f.digest is not None
    with store.write() as txn:
        assert txn.unbind(x.key, "f") == f.key
    with store.read() as txn:
        assert txn.lookup(x.key, "f") is None
        got = txn.resolve(["y", "f"])
        assert (got.key, got.rid, got.digest) == (f.key, f.rid, f.digest)
        assert txn.parents(f.key) == [(y.key, "f")]
        assert txn.dead_props(f.key) == [DeadProp("{urn:t}p", '<p xmlns="urn:t">1</p>')]
        assert txn.lock("tok-f") is not None
    assert blob_stored(f.digest)


def test_unbind_last_binding_removes_resource_blob_props_and_locks(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored, blobs: BlobStore
) -> None:
    with store.write() as txn:
        x = txn.create(txn.root.key, "x", collection=True)
        y = txn.create(txn.root.key, "y", collection=True)
        f = make_file(txn, x.key, "f", b"doomed content")
        txn.bind(y.key, "f", f.key)
        txn.set_dead_prop(f.key, DeadProp("{urn:t}p", "<p/>"))
        txn.add_lock(_lock("tok-f", f.key, "/x/f"))
    assert f.digest is not None
    assert blob_stored(f.digest)
    with store.write() as txn:
        txn.unbind(x.key, "f")
    assert blob_stored(f.digest)
    with store.write() as txn:
        txn.unbind(y.key, "f")
        # Reclaimed in the same transaction; the file goes only after commit.
        with pytest.raises(NotFound):
            txn.get(f.key)
        assert f.digest in set(blobs.unsettled_digests())  # type: ignore[attr-defined]
    assert not blob_stored(f.digest)
    with store.read() as txn:
        with pytest.raises(NotFound):
            txn.get(f.key)
        with pytest.raises(NotFound):
            txn.resolve(["y", "f"])
        assert txn.dead_props(f.key) == []
        assert txn.lock("tok-f") is None
        assert txn.locks_on([f.key]) == []
        assert txn.locks_rooted_at_or_below("/x") == []
        assert txn.parents(f.key) == []


def test_bind_collection_shares_members(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
        m = make_file(txn, c.key, "m", b"member")
        d = txn.create(txn.root.key, "d", collection=True)
        txn.bind(d.key, "c2", c.key)
    with store.write() as txn:
        # A member added through one path shows through the other (RFC 5842 §2.1).
        n = txn.create(txn.resolve(["d", "c2"]).key, "n", collection=False)
    with store.read() as txn:
        assert txn.resolve(["d", "c2", "m"]).key == m.key
        assert txn.resolve(["c", "n"]).key == n.key
        assert txn.parents(m.key) == [(c.key, "m")]


def test_two_bindings_in_one_collection(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "x.gif", b"gif")
        txn.bind(txn.root.key, "y.gif", f.key)
    with store.read() as txn:
        root = txn.root.key
        assert [(s, r.key) for s, r in txn.children(root)] == [("x.gif", f.key), ("y.gif", f.key)]
        assert txn.parents(f.key) == [(root, "x.gif"), (root, "y.gif")]
    with store.write() as txn:
        txn.unbind(txn.root.key, "x.gif")
    with store.read() as txn:
        assert txn.resolve(["y.gif"]).key == f.key


def test_membership_change_bumps_parent_version(store: MetadataStore) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
    with store.write() as txn:
        txn.create(c.key, "m", collection=False)
    with store.read() as txn:
        after_create = txn.get(c.key)
    assert after_create.etag != c.etag
    with store.write() as txn:
        txn.unbind(c.key, "m")
    with store.read() as txn:
        assert txn.get(c.key).etag != after_create.etag


# -- ancestors / descendants ---------------------------------------------------------------


def test_ancestors_and_descendants_of_a_tree(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True).key
        b = txn.create(a, "b", collection=True).key
        f = txn.create(b, "f", collection=False).key
        g = txn.create(root, "g", collection=False).key
    with store.read() as txn:
        assert txn.ancestors(f) == {root, a, b}
        assert txn.ancestors(a) == {root}
        assert txn.ancestors(root) == set()
        assert txn.descendants(a) == {b, f}
        assert txn.descendants(root) == {a, b, f, g}
        assert txn.descendants(f) == set()


def test_ancestors_and_descendants_on_a_loop(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True).key
        b = txn.create(a, "b", collection=True).key
        c = txn.create(b, "c", collection=True).key
        f = txn.create(c, "f", collection=False).key
        txn.bind(c, "up", a)  # /a/b/c/up -> /a
        txn.bind(c, "self", c)
        other = txn.create(root, "other", collection=True).key
    with store.read() as txn:
        assert txn.descendants(a) == {a, b, c, f}
        assert txn.descendants(c) == {a, b, c, f}
        assert txn.descendants(root) == {a, b, c, f, other}
        assert txn.ancestors(c) == {root, a, b, c}
        assert txn.ancestors(a) == {root, a, b, c}
        assert txn.ancestors(f) == {root, a, b, c}
        assert txn.ancestors(other) == {root}
        assert txn.descendants(other) == set()


def test_root_bound_inside_a_collection_terminates(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True).key
        txn.bind(a, "top", root)
    with store.read() as txn:
        assert txn.resolve(["a", "top", "a", "top", "a"]).key == a
        assert txn.descendants(root) == {root, a}
        assert txn.ancestors(root) == {root, a}
        assert txn.parents(root) == [(a, "top")]


# -- transactions --------------------------------------------------------------------------


class _Boom(Exception):
    pass


def test_exception_in_write_rolls_back_everything(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        keep = make_file(txn, txn.root.key, "keep", b"keep me")
        c = txn.create(txn.root.key, "c", collection=True)
        m = txn.create(c.key, "m", collection=False)
        txn.set_dead_prop(keep.key, DeadProp("{urn:t}p", "<p>old</p>"))
    assert keep.digest is not None
    with pytest.raises(_Boom), store.write() as txn:
        txn.create(txn.root.key, "new", collection=True)
        txn.unbind(txn.root.key, "keep")
        txn.bind(txn.root.key, "alias", m.key)
        txn.unbind(txn.root.key, "c")
        txn.set_dead_prop(m.key, DeadProp("{urn:t}q", "<q/>"))
        txn.add_lock(_lock("tok", m.key, "/c/m"))
        raise _Boom
    with store.read() as txn:
        root = txn.root.key
        assert [s for s, _ in txn.children(root)] == ["c", "keep"]
        assert txn.resolve(["keep"]) == txn.get(keep.key)
        assert txn.resolve(["c", "m"]).key == m.key
        assert txn.dead_props(keep.key) == [DeadProp("{urn:t}p", "<p>old</p>")]
        assert txn.dead_props(m.key) == []
        assert txn.lock("tok") is None
    assert blob_stored(keep.digest)
    # The store still works after the rollback.
    with store.write() as txn:
        txn.create(txn.root.key, "after", collection=False)
    with store.read() as txn:
        assert txn.lookup(txn.root.key, "after") is not None


def test_storage_error_in_write_rolls_back(store: MetadataStore) -> None:
    with pytest.raises(AlreadyExists), store.write() as txn:
        txn.create(txn.root.key, "a", collection=True)
        txn.create(txn.root.key, "a", collection=True)
    with store.read() as txn:
        assert txn.lookup(txn.root.key, "a") is None


def test_read_snapshot_ignores_later_commit(store: MetadataStore) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        txn.create(a.key, "old", collection=False)
    with store.read() as old:
        assert [s for s, _ in old.children(a.key)] == ["old"]
        before = old.get(a.key)
        with store.write() as txn:
            txn.create(a.key, "new", collection=False)
            txn.unbind(a.key, "old")
            txn.create(txn.root.key, "b", collection=True)
        assert [s for s, _ in old.children(a.key)] == ["old"]
        assert old.get(a.key) == before
        assert old.lookup(old.root.key, "b") is None
        assert old.resolve(["a", "old"]) is not None
    with store.read() as txn:
        assert [s for s, _ in txn.children(a.key)] == ["new"]
        assert txn.lookup(txn.root.key, "b") is not None


def test_read_does_not_see_uncommitted_write(store: MetadataStore) -> None:
    with store.write() as txn:
        txn.create(txn.root.key, "pending", collection=False)
        with store.read() as other:
            assert other.lookup(other.root.key, "pending") is None
    with store.read() as txn:
        assert txn.lookup(txn.root.key, "pending") is not None


# -- dead properties (RFC 5842 §2.6) -------------------------------------------------------


def test_dead_props_set_replace_remove(store: MetadataStore) -> None:
    p = DeadProp("{urn:t}p", '<p xmlns="urn:t">1</p>')
    p2 = DeadProp("{urn:t}p", '<p xmlns="urn:t">2</p>')
    a = DeadProp("{urn:a}z", '<z xmlns="urn:a"/>')
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False)
        assert txn.dead_props(f.key) == []
        txn.set_dead_prop(f.key, p)
        txn.set_dead_prop(f.key, a)
        txn.set_dead_prop(f.key, p2)
    with store.read() as txn:
        assert txn.dead_props(f.key) == [a, p2]
    with store.write() as txn:
        txn.remove_dead_prop(f.key, p.name)
        txn.remove_dead_prop(f.key, "{urn:t}absent")
    with store.read() as txn:
        assert txn.dead_props(f.key) == [a]


def test_dead_props_are_per_resource_not_per_path(store: MetadataStore) -> None:
    p = DeadProp("{urn:t}p", "<p/>")
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False)
        txn.bind(txn.root.key, "g", f.key)
        txn.set_dead_prop(txn.resolve(["g"]).key, p)
    with store.read() as txn:
        assert txn.dead_props(txn.resolve(["f"]).key) == [p]


def test_copy_dead_props_replaces_target(store: MetadataStore) -> None:
    s1 = DeadProp("{urn:t}a", "<a/>")
    s2 = DeadProp("{urn:t}b", "<b>src</b>")
    t1 = DeadProp("{urn:t}b", "<b>tgt</b>")
    t2 = DeadProp("{urn:t}c", "<c/>")
    with store.write() as txn:
        src = txn.create(txn.root.key, "src", collection=False).key
        tgt = txn.create(txn.root.key, "tgt", collection=False).key
        empty = txn.create(txn.root.key, "empty", collection=False).key
        for prop in (s1, s2):
            txn.set_dead_prop(src, prop)
        for prop in (t1, t2):
            txn.set_dead_prop(tgt, prop)
        txn.copy_dead_props(src, tgt)
    with store.read() as txn:
        assert txn.dead_props(tgt) == [s1, s2]
        assert txn.dead_props(src) == [s1, s2]
    with store.write() as txn:
        txn.copy_dead_props(empty, tgt)
    with store.read() as txn:
        assert txn.dead_props(tgt) == []
        assert txn.dead_props(src) == [s1, s2]


def test_copy_dead_props_onto_itself_keeps_them(store: MetadataStore) -> None:
    p = DeadProp("{urn:t}a", "<a/>")
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.set_dead_prop(f, p)
        txn.copy_dead_props(f, f)
    with store.read() as txn:
        assert txn.dead_props(f) == [p]


# -- versions and etags --------------------------------------------------------------------


def test_set_content_bumps_version_and_etag(
    store: MetadataStore, make_file: MakeFile, put_blob: PutBlob
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"one")
    with store.write() as txn:
        digest, size = put_blob(txn, b"two!")
        g = txn.set_content(f.key, digest, size, "text/x-two")
    assert (g.digest, g.size, g.content_type) == (digest, 4, "text/x-two")
    assert g.version > f.version and g.etag != f.etag
    assert (g.key, g.rid) == (f.key, f.rid)
    # Same bytes again still make a new version (a PUT is a write).
    with store.write() as txn:
        h = txn.set_content(f.key, digest, size, "text/x-two")
    assert h.etag not in {f.etag, g.etag}
    with store.read() as txn:
        assert txn.resolve(["f"]) == h


def test_etags_differ_between_resources(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        a = make_file(txn, txn.root.key, "a", b"same")
        b = make_file(txn, txn.root.key, "b", b"same")
        c = txn.create(txn.root.key, "c", collection=True)
    assert len({a.etag, b.etag, c.etag}) == 3
    for tag in (a.etag, b.etag, c.etag):
        assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/")


def test_etag_not_reused_after_recreate(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        a = make_file(txn, txn.root.key, "a", b"same")
        txn.unbind(txn.root.key, "a")
        b = make_file(txn, txn.root.key, "a", b"same")
    assert a.etag != b.etag


# -- locks (RFC 4918 §6, RFC 5842 §9) ------------------------------------------------------


def _lock(token: str, key: int, root: str, *, expires_in: float = 600.0) -> Lock:
    return Lock(
        token=token,
        resource=key,
        root=root,
        infinite=True,
        exclusive=True,
        owner_xml='<D:owner xmlns:D="DAV:">me</D:owner>',
        principal="alice",
        timeout=600,
        expires=time.time() + expires_in,
    )


def test_add_and_read_lock(store: MetadataStore) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        lk = _lock("opaquelocktoken:1", a.key, "/a")
        txn.add_lock(lk)
    with store.read() as txn:
        assert txn.lock(lk.token) == lk
        assert txn.lock("opaquelocktoken:none") is None
        assert txn.locks_on([a.key]) == [lk]
        assert txn.locks_on([]) == []
        assert txn.locks_on([txn.root.key]) == []


def test_lock_fields_round_trip(store: MetadataStore) -> None:
    lk = Lock(
        token="opaquelocktoken:x",
        resource=0,
        root="/ä b",
        infinite=False,
        exclusive=False,
        owner_xml=None,
        principal=None,
        timeout=3600,
        expires=time.time() + 3600,
    )
    with store.write() as txn:
        f = txn.create(txn.root.key, "ä b", collection=False)
        lk = dataclasses.replace(lk, resource=f.key)
        txn.add_lock(lk)
    with store.read() as txn:
        assert txn.lock(lk.token) == lk


def test_locks_on_many_keys(store: MetadataStore) -> None:
    with store.write() as txn:
        keys = [txn.create(txn.root.key, f"f{i}", collection=False).key for i in range(1200)]
        for i in range(0, 1200, 100):
            txn.add_lock(_lock(f"t{i}", keys[i], f"/f{i}"))
    with store.read() as txn:
        got = txn.locks_on(keys)
        assert sorted(lk.token for lk in got) == sorted(f"t{i}" for i in range(0, 1200, 100))
        assert txn.locks_on(iter(keys[:101])) != []


def test_locks_rooted_at_or_below(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True).key
        b = txn.create(a, "b", collection=True).key
        ab = txn.create(root, "ab", collection=True).key
        txn.add_lock(_lock("t-a", a, "/a"))
        txn.add_lock(_lock("t-ab-path", b, "/a/b"))
        txn.add_lock(_lock("t-deep", b, "/a/b/c/d"))
        txn.add_lock(_lock("t-ab", ab, "/ab"))
        txn.add_lock(_lock("t-root", root, "/"))
    with store.read() as txn:

        def tokens(path: str) -> set[str]:
            return {lk.token for lk in txn.locks_rooted_at_or_below(path)}

        assert tokens("/a") == {"t-a", "t-ab-path", "t-deep"}
        assert tokens("/a/b") == {"t-ab-path", "t-deep"}
        assert tokens("/ab") == {"t-ab"}
        assert tokens("/a/b/c") == {"t-deep"}
        assert tokens("/x") == set()
        assert tokens("/") == {"t-a", "t-ab-path", "t-deep", "t-ab", "t-root"}


def test_locks_rooted_match_literally(store: MetadataStore) -> None:
    # Path text is data, not a pattern: no LIKE / GLOB wildcards.
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.add_lock(_lock("t-pct", f, "/a%/x"))
        txn.add_lock(_lock("t-us", f, "/a_/x"))
        txn.add_lock(_lock("t-star", f, "/a*/x"))
        txn.add_lock(_lock("t-plain", f, "/ab/x"))
    with store.read() as txn:
        assert {lk.token for lk in txn.locks_rooted_at_or_below("/a%")} == {"t-pct"}
        assert {lk.token for lk in txn.locks_rooted_at_or_below("/a_")} == {"t-us"}
        assert {lk.token for lk in txn.locks_rooted_at_or_below("/a*")} == {"t-star"}


def test_refresh_lock(store: MetadataStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        lk = _lock("t", f, "/f", expires_in=5)
        txn.add_lock(lk)
    with store.write() as txn:
        fresh = txn.refresh_lock("t", 3600)
    assert fresh.timeout == 3600
    assert fresh.expires >= time.time() + 3500
    assert (fresh.token, fresh.resource, fresh.root, fresh.owner_xml) == (
        lk.token,
        lk.resource,
        lk.root,
        lk.owner_xml,
    )
    with store.read() as txn:
        assert txn.lock("t") == fresh
    with store.write() as txn, pytest.raises(NotFound):
        txn.refresh_lock("missing", 60)


def test_remove_lock(store: MetadataStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.add_lock(_lock("t1", f, "/f"))
        txn.add_lock(_lock("t2", f, "/f"))
    with store.write() as txn:
        txn.remove_lock("t1")
        txn.remove_lock("never-existed")
    with store.read() as txn:
        assert txn.lock("t1") is None
        assert [lk.token for lk in txn.locks_on([f])] == ["t2"]
        assert [lk.token for lk in txn.locks_rooted_at_or_below("/f")] == ["t2"]


def test_expired_locks_are_invisible(store: MetadataStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.add_lock(_lock("old", f, "/f", expires_in=-1))
        txn.add_lock(_lock("live", f, "/f"))
    with store.read() as txn:
        assert txn.lock("old") is None
        assert [lk.token for lk in txn.locks_on([f])] == ["live"]
        assert [lk.token for lk in txn.locks_rooted_at_or_below("/")] == ["live"]


def test_expired_lock_cannot_be_refreshed(store: MetadataStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.add_lock(_lock("old", f, "/f", expires_in=-1))
    with store.write() as txn, pytest.raises(NotFound):
        txn.refresh_lock("old", 600)
    with store.read() as txn:
        assert txn.lock("old") is None


def test_expired_lock_token_can_be_reused(store: MetadataStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        txn.add_lock(_lock("t", f, "/f", expires_in=-1))
    with store.write() as txn:
        txn.add_lock(_lock("t", f, "/g"))
    with store.read() as txn:
        got = txn.lock("t")
        assert got is not None and got.root == "/g"


def test_locks_survive_reopening(store: MetadataStore, open_store: OpenStore) -> None:
    with store.write() as txn:
        f = txn.create(txn.root.key, "f", collection=False).key
        lk = _lock("t", f, "/f")
        txn.add_lock(lk)
    store.close()
    with open_store().read() as txn:
        assert txn.lock("t") == lk


# -- concurrency ---------------------------------------------------------------------------


def test_concurrent_writers_lose_nothing(store: MetadataStore) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(tag: str) -> None:
        try:
            start.wait()
            for i in range(50):
                with store.write() as txn:
                    txn.create(c.key, f"{tag}-{i:02d}", collection=False)
                    txn.create(c.key, f"{tag}-tmp", collection=False)
                    txn.unbind(c.key, f"{tag}-tmp")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in ("x", "y")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with store.read() as txn:
        names = [s for s, _ in txn.children(c.key)]
        final = txn.get(c.key)
    assert names == sorted(f"{t}-{i:02d}" for t in "xy" for i in range(50))
    # 200 creates + 100 unbinds, each bumping the parent's version once: none lost.
    assert final.version >= c.version + 300


def test_concurrent_readers_and_writers(store: MetadataStore) -> None:
    with store.write() as txn:
        c = txn.create(txn.root.key, "c", collection=True)
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            for i in range(40):
                with store.write() as txn:
                    txn.create(c.key, f"n{i:02d}", collection=False)
                    txn.create(c.key, f"m{i:02d}", collection=False)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                with store.read() as txn:
                    names = [s for s, _ in txn.children(c.key)]
                # Each writer transaction adds a pair: a reader sees both or neither.
                assert len(names) % 2 == 0, names
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write)] + [threading.Thread(target=read) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with store.read() as txn:
        assert len(list(txn.children(c.key))) == 80
