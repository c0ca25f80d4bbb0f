"""``Txn.member_rows``: the light listing query agrees with ``children`` (contract)."""

from __future__ import annotations

from typing import Any

from davbind.storage.interface import MetadataStore


def test_member_rows_match_children(store: MetadataStore, make_file: Any) -> None:
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
        light = list(txn.member_rows(coll.key))
    assert [s for s, _ in light] == [s for s, _ in full] == ["Z", "a", "b", "sub", "é"]
    for (_, row), (_, res) in zip(light, full, strict=True):
        assert (row.key, row.is_collection, row.cache) == (res.key, res.is_collection, res.cache)
    assert dict(light)["a"].cache == "cached text" and dict(light)["b"].cache is None
