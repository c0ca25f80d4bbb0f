"""The plan PostgreSQL chooses for a batch of a listing (``postgres_txn.members`` and
``member_stamps``): each member's row looked up by its key, never a scan of the whole
resources table per batch (which made a listing of 10,000 members take three times as
long at the database and grows with every resource stored anywhere), and no sort of the
batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg")

from davbind.storage.open import open_blobs, open_metadata  # noqa: E402
from davbind.storage.postgres_txn import (  # noqa: E402
    MEMBER_BATCH,
    MEMBERS_AFTER,
    MEMBERS_FIRST,
    STAMPS_AFTER,
    STAMPS_FIRST,
)


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]


def test_a_batch_looks_members_up_by_key(postgres_url: str, tmp_path: Path) -> None:
    store = open_metadata(postgres_url, open_blobs(f"file://{tmp_path}/blobs", durable=True))
    try:
        with store.write() as txn:
            coll = txn.create(txn.root.key, "many", collection=True)
            for i in range(3000):  # a table of a few thousand rows, as in the benchmarks
                txn.create(coll.key, f"f{i:05d}", collection=False)
    finally:
        store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # statistics, as autovacuum gives a filled table
        for query, args in ((MEMBERS_FIRST, (coll.key, MEMBER_BATCH)),
                            (MEMBERS_AFTER, (coll.key, "f01000", MEMBER_BATCH)),
                            (STAMPS_FIRST, (coll.key, MEMBER_BATCH)),
                            (STAMPS_AFTER, (coll.key, "f01000", MEMBER_BATCH))):  # fmt: skip
            row = conn.execute(f"EXPLAIN (FORMAT JSON) {query}", args).fetchone()
            assert row is not None
            nodes = _nodes(row[0][0]["Plan"])
            kinds = [(n["Node Type"], n.get("Relation Name")) for n in nodes]
            assert ("Seq Scan", "resources") not in kinds, kinds
            assert not any(kind == "Sort" for kind, _ in kinds), kinds
            assert any(rel == "resources" and "Index" in kind for kind, rel in kinds), kinds
