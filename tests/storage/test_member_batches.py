"""``Txn.member_batches``: the light listing query agrees with ``children`` (contract)."""

from __future__ import annotations

from typing import Any

from davbind.storage.interface import MetadataStore


def test_member_batches_match_children(store: MetadataStore, make_file: Any) -> None:
    with store.write() as txn:
        root = txn.root.key
        coll = txn.create(root, "dir", collection=True)
        for name in ("b", "a", "é", "Z"):
            make_file(txn, coll.key, name, name.encode())
        txn.create(coll.key, "sub", collection=True)
        f = txn.lookup(coll.key, "a")
        assert f is not None
        txn.store_cache([(f.key, f.cgen, "cached text")])
    with store.read() as txn:
        full = list(txn.children(coll.key))
        batches = list(txn.member_batches(coll.key))
        light = [pair for batch in batches for pair in batch]
    assert [s for s, _ in light] == [s for s, _ in full] == ["Z", "a", "b", "sub", "é"]
    for (_, row), (_, res) in zip(light, full, strict=True):
        assert (row.key, row.is_collection, row.cgen, row.cache) == (
            res.key, res.is_collection, res.cgen, res.cache
        )
    assert dict(light)["a"].cache == "cached text" and dict(light)["b"].cache is None


def test_member_batches_are_bounded_and_ordered(store: MetadataStore, make_file: Any) -> None:
    with store.write() as txn:
        coll = txn.create(txn.root.key, "many", collection=True)
        for i in range(1300):
            make_file(txn, coll.key, f"f{i:04d}", b"%d" % i)
    with store.read() as txn:
        batches = list(txn.member_batches(coll.key))
        assert all(batches) and max(len(b) for b in batches) <= 512
        names = [s for b in batches for s, _ in b]
        assert names == sorted(names) and len(names) == 1300
        assert next(iter(txn.member_batches(txn.root.key)))[0][0] == "many"


def test_member_gens_and_slices_agree_with_member_batches(
    store: MetadataStore, make_file: Any
) -> None:
    with store.write() as txn:
        coll = txn.create(txn.root.key, "many", collection=True)
        for i in range(1100):
            make_file(txn, coll.key, f"f{i:04d}", b"%d" % i)
    with store.read() as txn:
        rows = [pair for batch in txn.member_batches(coll.key) for pair in batch]
        gens = [list(batch) for batch in txn.member_gens(coll.key)]
        assert [len(b) for b in gens] == [len(b) for b in txn.member_batches(coll.key)]
        assert [g for b in gens for g in b] == [row.cgen for _, row in rows]
        for start, count in ((0, 512), (512, 512), (1024, 512), (700, 3), (1099, 5)):
            want = rows[start : start + count]
            assert txn.member_slice(coll.key, start, count) == want
            after = rows[start - 1][0] if start else None
            assert txn.member_slice(coll.key, start, count, after) == want
        assert txn.member_slice(coll.key, 1100, 10) == []
        assert all(row.cache is None for _, row in rows)  # no text stored yet
        assert txn.member_slice(coll.key, 5000, 10) == []
