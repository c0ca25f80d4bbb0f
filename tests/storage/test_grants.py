"""Owners, grants, usage and quotas (``storage.grants``) on every backend pair: owners
inherited at creation, usage kept by the triggers through every change of size or
owner, quotas refusing a change (nothing stored) but never a deletion, grants going
with their resource, sharing as grant plus binding, and the migration that gives
existing users what their homes reach."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from davbind.storage.accounts import User
from davbind.storage.grants import AUTHENTICATED, READ_WRITE, Grant, Privilege
from davbind.storage.homes import make_home
from davbind.storage.interface import MetadataStore
from davbind.storage.model import QuotaExceeded
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.sharing import share, unshare
from davbind.storage.sqlite import SCHEMA_VERSION


def _user(txn, name: str) -> int:  # type: ignore[no-untyped-def]
    txn.add_user(User(name, "$argon2id$x", time.time(), time.time()))
    return int(make_home(txn, name).key)


def test_owner_is_inherited_and_usage_follows_every_change(store: MetadataStore,
                                                          make_file) -> None:  # type: ignore[no-untyped-def]  # fmt: skip
    with store.write() as txn:
        home = _user(txn, "alice")
        assert txn.get(home).owner == "alice"
        folder = txn.create(home, "f", collection=True)
        a = make_file(txn, folder.key, "a.txt", b"x" * 100)
        b = make_file(txn, txn.root_key, "b.txt", b"y" * 50)  # the server's
        assert (folder.owner, a.owner, b.owner) == ("alice", "alice", None)
        assert txn.usage("alice") == 100
        txn.bind(folder.key, "alias", a.key)  # a second binding: counted once
        assert txn.usage("alice") == 100
        txn.set_content(a.key, a.digest, 30, "text/plain")
        assert txn.usage("alice") == 30
        txn.set_owner(b.key, "alice")
        assert txn.usage("alice") == 80
    with store.write() as txn:
        txn.unbind(home, "f")  # the folder and the file go (reachability, RFC 5842 §5)
        assert txn.usage("alice") == 50
        assert txn.usage("nobody") == 0


def test_a_quota_refuses_growth_stores_nothing_and_allows_deletion(
    store: MetadataStore, make_file  # type: ignore[no-untyped-def]
) -> None:
    with store.write() as txn:
        home = _user(txn, "bob")
        txn.set_quota("bob", 1000)
        make_file(txn, home, "one.bin", b"1" * 800)
    with pytest.raises(QuotaExceeded), store.write() as txn:
        make_file(txn, home, "two.bin", b"2" * 300)
    with store.read() as txn:
        assert txn.lookup(home, "two.bin") is None and txn.usage("bob") == 800
        assert txn.quota("bob") == 1000
    with store.write() as txn:
        txn.set_quota("bob", 10)  # lowered below usage
    with store.write() as txn:
        txn.unbind(home, "one.bin")
        assert txn.usage("bob") == 0
    with store.write() as txn:
        txn.set_quota("bob", None)
        make_file(txn, home, "big.bin", b"3" * 5000)
        assert txn.quota("bob") is None and txn.usage("bob") == 5000


def test_grants_are_kept_replaced_and_go_with_their_resource(store: MetadataStore) -> None:
    with store.write() as txn:
        assert not txn.has_grants()
        home = _user(txn, "carol")
        _user(txn, "dave")
        folder = txn.create(home, "shared", collection=True)
        txn.set_grant(folder.key, "dave", Privilege.READ)
        txn.set_grant(folder.key, AUTHENTICATED, Privilege.READ)
        txn.set_grant(folder.key, "dave", READ_WRITE)
        assert txn.has_grants()
        assert txn.grants_on([folder.key, home]) == {
            folder.key: {"dave": READ_WRITE, AUTHENTICATED: Privilege.READ}}
        assert txn.grants_to("dave") == [Grant(folder.key, "dave", READ_WRITE)]
        txn.set_grant(folder.key, AUTHENTICATED, Privilege.NONE)
        assert txn.grants_on([folder.key]) == {folder.key: {"dave": READ_WRITE}}
    with store.write() as txn:
        txn.unbind(home, "shared")
        assert not txn.has_grants() and txn.grants_to("dave") == []


def test_sharing_binds_into_the_recipients_shared_folder(store: MetadataStore) -> None:
    with store.write() as txn:
        home = _user(txn, "erin")
        frank_home = _user(txn, "frank")
        project = txn.create(home, "Project", collection=True)
        made = share(txn, ("home", "erin", "Project"), "frank", Privilege.READ)
        assert made.bound_at == ("home", "frank", "Shared", "Project")
        shared = txn.lookup(frank_home, "Shared")
        assert shared is not None and shared.owner == "frank"
        assert txn.resolve(made.bound_at).rid == project.rid
        again = share(txn, ("home", "erin", "Project"), "frank", READ_WRITE)
        assert again.bound_at == made.bound_at  # the grant changed, no second binding
        assert txn.grants_on([project.key])[project.key] == {"frank": READ_WRITE}
        other = txn.create(frank_home, "x", collection=True)
        txn.create(other.key, "Project", collection=True)
        assert unshare(txn, ("home", "erin", "Project"), "frank")
        assert txn.lookup(shared.key, "Project") is None
        assert txn.lookup(home, "Project") is not None  # erin's content stays
        assert not unshare(txn, ("home", "erin", "Project"), "frank")


def test_a_version_3_sqlite_store_gives_users_what_their_homes_reach(tmp_path: Path) -> None:
    meta = tmp_path / "meta.sqlite3"
    blobs = open_blobs(f"file://{tmp_path / 'blobs'}")
    store = open_metadata(f"sqlite://{meta}", blobs)
    try:
        with store.write() as txn:
            home = _user(txn, "gina")
            folder = txn.create(home, "docs", collection=True)
            txn.create(folder.key, "deep", collection=True)
            txn.create(txn.root_key, "public", collection=True)
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(meta)) as db:  # as version 3 left it
        db.executescript(
            "DROP TRIGGER resources_usage_ins; DROP TRIGGER resources_usage_del; "
            "DROP TRIGGER resources_usage_upd; DROP TRIGGER resources_grants_del; "
            "DROP TRIGGER usage_quota_ins; DROP TRIGGER usage_quota_upd; "
            "DROP TABLE grants; DROP TABLE quotas; DROP TABLE usage; "
            "ALTER TABLE resources DROP COLUMN owner; PRAGMA user_version=3;"
        )
    store = open_metadata(f"sqlite://{meta}", blobs)
    try:
        with store.read() as txn:
            owners = {seg: txn.resolve(seg).owner for seg in (
                ("home", "gina"), ("home", "gina", "docs"), ("home", "gina", "docs", "deep"),
                ("public",), ("home",))}  # fmt: skip
    finally:
        store.close()
    assert owners == {("home", "gina"): "gina", ("home", "gina", "docs"): "gina",
                      ("home", "gina", "docs", "deep"): "gina", ("public",): None,
                      ("home",): None}  # fmt: skip
    with contextlib.closing(sqlite3.connect(meta)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
