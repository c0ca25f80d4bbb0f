"""``Txn.members``, ``member_stamps``, ``resources_of`` and ``dead_props_of``: the
listing queries agree with ``children``, ``get`` and ``dead_props`` (contract), and the
schema migration of older stores."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from davbind.storage.interface import MetadataStore
from davbind.storage.model import DeadProp, MemberStamp
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.sqlite import SCHEMA_VERSION, SchemaTooNew


def test_members_match_children(store: MetadataStore, make_file: Any) -> None:
    with store.write() as txn:
        root = txn.root.key
        coll = txn.create(root, "dir", collection=True)
        for name in ("b", "a", "é", "Z"):
            make_file(txn, coll.key, name, name.encode())
        txn.create(coll.key, "sub", collection=True)
    with store.read() as txn:
        full = list(txn.children(coll.key))
        batched = [pair for batch in txn.members(coll.key) for pair in batch]
        one_by_one = [(s, txn.get(r.key)) for s, r in full]
    assert [s for s, _ in batched] == ["Z", "a", "b", "sub", "é"]
    assert batched == full == one_by_one
    kinds = {s: r.is_collection for s, r in batched}
    assert kinds["sub"] is True and kinds["a"] is False  # real booleans, not 0/1


def test_members_are_bounded_and_ordered(store: MetadataStore, make_file: Any) -> None:
    with store.write() as txn:
        coll = txn.create(txn.root.key, "many", collection=True)
        for i in range(1300):
            make_file(txn, coll.key, f"f{i:04d}", b"%d" % i)
    with store.read() as txn:
        batches = list(txn.members(coll.key))
        assert all(batches) and max(len(b) for b in batches) <= 512 and len(batches) >= 3
        names = [s for b in batches for s, _ in b]
        assert names == sorted(names) and len(names) == 1300
        assert next(iter(txn.members(txn.root.key)))[0][0] == "many"


def test_member_stamps_and_resources_of_match_members(store: MetadataStore,
                                                    make_file: Any) -> None:  # fmt: skip
    with store.write() as txn:
        coll = txn.create(txn.root.key, "many", collection=True)
        for i in range(1100):
            make_file(txn, coll.key, f"f{i:04d}", b"%d" % i)
        txn.create(coll.key, "sub", collection=True)
        owned = txn.lookup(coll.key, "f0001")
        assert owned is not None
        txn.set_owner(owned.key, "alice")
    with store.write() as txn:  # a change of content and of dead properties: new cgens
        changed = txn.lookup(coll.key, "f0007")
        assert changed is not None
        digest, size = txn.store_inline(b"new")
        txn.set_content(changed.key, digest, size, "text/plain")
        txn.set_dead_prop(changed.key, DeadProp("{urn:x}a", '<a xmlns="urn:x"/>'))
    with store.read() as txn:
        full = [pair for batch in txn.members(coll.key) for pair in batch]
        batches = list(txn.member_stamps(coll.key))
        stamps = [pair for batch in batches for pair in batch]
        assert max(len(b) for b in batches) <= 512 and len(batches) >= 3
        expected = [(s, MemberStamp(r.key, r.is_collection, r.cgen, r.owner)) for s, r in full]
        assert stamps == expected and len(stamps) == 1101
        assert {type(st.is_collection) for _, st in stamps} == {bool}
        wanted = [*(r.key for _, r in full[::3]), 10**9]  # one key that does not exist
        found = txn.resources_of(wanted)
        assert found == {r.key: r for _, r in full[::3]}
        assert txn.resources_of([]) == {}
    by_name = dict(stamps)
    assert by_name["f0007"].cgen > by_name["f0008"].cgen
    assert by_name["f0001"].owner == "alice" and by_name["sub"].is_collection


def test_dead_props_of_matches_dead_props(store: MetadataStore, make_file: Any) -> None:
    with store.write() as txn:
        coll = txn.create(txn.root.key, "d", collection=True)
        keys = [make_file(txn, coll.key, f"f{i}", b"x").key for i in range(700)]
        for i in (0, 3, 511, 512, 699):  # across the 512-key query batches
            txn.set_dead_prop(keys[i], DeadProp("{urn:x}b", f'<b xmlns="urn:x">{i}</b>'))
            txn.set_dead_prop(keys[i], DeadProp("{urn:x}a", '<a xmlns="urn:x"/>'))
    with store.read() as txn:
        many = txn.dead_props_of(keys)
        assert sorted(many) == sorted(keys[i] for i in (0, 3, 511, 512, 699))
        for key in keys:
            assert many.get(key, []) == txn.dead_props(key)
        assert [p.name for p in many[keys[3]]] == ["{urn:x}a", "{urn:x}b"]
        assert txn.dead_props_of([]) == {}


def _old_store(path: Path) -> None:
    """A metadata database as an earlier release made it: render-cache columns, the
    trigger that kept them, no schema version."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript(
            "CREATE TABLE resources(key INTEGER PRIMARY KEY AUTOINCREMENT, rid TEXT NOT NULL "
            "UNIQUE, coll INTEGER NOT NULL, digest TEXT, size INTEGER NOT NULL DEFAULT 0, "
            "ctype TEXT, version INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL, "
            "modified REAL NOT NULL, cgen INTEGER NOT NULL DEFAULT 0, cache TEXT, "
            "cache_gen INTEGER NOT NULL DEFAULT -1, mgen INTEGER NOT NULL DEFAULT 0);"
            "CREATE TABLE bindings(parent INTEGER NOT NULL, segment TEXT NOT NULL, "
            "child INTEGER NOT NULL, PRIMARY KEY(parent, segment)) WITHOUT ROWID;"
            "CREATE TRIGGER resources_mgen AFTER UPDATE OF cgen ON resources BEGIN "
            "UPDATE resources SET mgen=mgen+1 WHERE key IN "
            "(SELECT parent FROM bindings WHERE child=NEW.key); END;"
            "CREATE TABLE meta(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;"
            "INSERT INTO resources(rid, coll, created, modified, cache, cache_gen) "
            "VALUES ('urn:uuid:00000000-0000-4000-8000-000000000001', 1, 1, 1, 'old text', 0);"
            "INSERT INTO meta VALUES ('root', '1');"
        )
        db.commit()


def test_an_older_store_is_migrated_and_keeps_its_data(tmp_path: Path) -> None:
    meta = tmp_path / "meta.sqlite3"
    _old_store(meta)
    blobs = open_blobs(f"file://{tmp_path / 'blobs'}")
    store = open_metadata(f"sqlite://{meta}", blobs)
    try:
        with store.write() as txn:
            root = txn.root
            assert root.rid == "urn:uuid:00000000-0000-4000-8000-000000000001"
            txn.create(root.key, "new", collection=True)  # no trigger left to trip over
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(meta)) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(resources)")}
        assert not columns & {"cache", "cache_gen", "mgen"}
        triggers = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
        assert "resources_mgen" not in triggers
        assert {"resources_usage_ins", "resources_grants_del"} <= triggers
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_a_newer_store_is_refused(tmp_path: Path) -> None:
    meta = tmp_path / "meta.sqlite3"
    store = open_metadata(f"sqlite://{meta}", open_blobs(f"file://{tmp_path / 'blobs'}"))
    store.close()
    with contextlib.closing(sqlite3.connect(meta)) as db:
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaTooNew, match="upgrade davbind"):
        open_metadata(f"sqlite://{meta}", open_blobs(f"file://{tmp_path / 'blobs'}"))
