"""Accounts in the metadata store: users, app passwords, the per-store key, the
migration from schema version 2, and home collections with their alias binding."""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

import pytest

from davbind.storage.accounts import AppToken, BadUserName, User, check_user_name
from davbind.storage.credentials import (
    hash_password,
    looks_like_token,
    mint_token,
    token_digest,
    verify_password,
)
from davbind.storage.homes import ALIAS_PARENT, HOME_PARENT, make_home, remove_home
from davbind.storage.interface import MetadataStore
from davbind.storage.model import AlreadyExists, Conflict, NotFound
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.sqlite import SCHEMA_VERSION


def _user(name: str, pwhash: str = "h") -> User:
    now = time.time()
    return User(name, pwhash, now, now)


def _token(user: str, tid: str, digest: str, scope: str = "write") -> AppToken:
    return AppToken(tid, user, "phone", scope, digest, time.time())  # type: ignore[arg-type]


def test_users_are_added_listed_changed_and_removed(store: MetadataStore) -> None:
    with store.read() as txn:
        assert not txn.has_users()
    with store.write() as txn:
        txn.add_user(_user("bob"))
        txn.add_user(_user("alice"))
        with pytest.raises(AlreadyExists):
            txn.add_user(_user("alice"))
    with store.write() as txn:
        txn.set_password("alice", "new", 5.0)
        with pytest.raises(NotFound):
            txn.set_password("carol", "x", 5.0)
    with store.read() as txn:
        assert txn.has_users()
        assert [u.name for u in txn.users()] == ["alice", "bob"]
        alice = txn.user("alice")
        assert alice is not None and alice.password_hash == "new" and alice.changed == 5.0
        assert txn.user("carol") is None
    with store.write() as txn:
        txn.add_token(_token("bob", "t1", "d1"))
        txn.remove_user("bob")
        with pytest.raises(NotFound):
            txn.remove_user("bob")
    with store.read() as txn:
        assert txn.token_by_digest("d1") is None  # a removed user's tokens go with them
        assert [u.name for u in txn.users()] == ["alice"]


def test_tokens_are_found_by_digest_and_revoked(store: MetadataStore) -> None:
    with store.write() as txn:
        txn.add_user(_user("alice"))
        txn.add_token(_token("alice", "t1", "d1", "read"))
        txn.add_token(_token("alice", "t2", "d2"))
        with pytest.raises(AlreadyExists):
            txn.add_token(_token("alice", "t1", "d3"))
        with pytest.raises(ValueError, match="scope"):
            txn.add_token(_token("alice", "t9", "d9", "admin"))
    with store.read() as txn:
        found = txn.token_by_digest("d1")
        assert found is not None and found.id == "t1" and found.scope == "read"
        assert [t.id for t in txn.tokens("alice")] == ["t1", "t2"]
    with store.write() as txn:
        txn.revoke_token("alice", "t1")
        with pytest.raises(NotFound):
            txn.revoke_token("alice", "t1")
        with pytest.raises(NotFound):  # another user's token is not theirs to revoke
            txn.revoke_token("bob", "t2")
    with store.read() as txn:
        assert txn.token_by_digest("d1") is None
        assert [t.id for t in txn.tokens("alice")] == ["t2"]


def test_each_store_has_its_own_stable_token_key(
    tmp_path: Path, store: MetadataStore
) -> None:
    with store.read() as txn:
        key = txn.token_secret()
    assert len(key) == 32
    with store.read() as txn:
        assert txn.token_secret() == key
    other = open_metadata(f"sqlite://{tmp_path}/other.sqlite3", open_blobs(f"file://{tmp_path}/b"))
    try:
        with other.read() as txn:
            assert txn.token_secret() != key
    finally:
        other.close()


def test_a_version_2_store_gains_the_accounts(tmp_path: Path) -> None:
    meta = tmp_path / "meta.sqlite3"
    blobs = open_blobs(f"file://{tmp_path / 'blobs'}")
    open_metadata(f"sqlite://{meta}", blobs).close()
    with contextlib.closing(sqlite3.connect(meta)) as db:  # as version 2 left it
        db.executescript(
            "DROP TABLE users; DROP TABLE tokens; "
            "DELETE FROM meta WHERE k='token_secret'; PRAGMA user_version=2;"
        )
    store = open_metadata(f"sqlite://{meta}", blobs)
    try:
        with store.write() as txn:
            txn.add_user(_user("alice"))
            assert len(txn.token_secret()) == 32
    finally:
        store.close()
    with contextlib.closing(sqlite3.connect(meta)) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4


def test_passwords_are_argon2id_and_verified() -> None:
    stored = hash_password("correct horse")
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert verify_password(stored, "correct horse")
    assert not verify_password(stored, "correct hors")
    assert not verify_password(None, "correct horse")  # an unknown user
    assert not verify_password("not a hash", "x")
    with pytest.raises(ValueError, match="empty"):
        hash_password("")


def test_app_passwords_are_random_and_hashed_with_the_store_key() -> None:
    a, b = mint_token(), mint_token()
    assert a.token != b.token and a.id != b.id
    assert a.token.startswith(f"dbt_{a.id}_") and looks_like_token(a.token)
    assert not looks_like_token("hunter2")
    key1, key2 = b"k" * 32, b"j" * 32
    assert token_digest(key1, a.token) == token_digest(key1, a.token)
    assert token_digest(key1, a.token) != token_digest(key2, a.token)
    assert token_digest(key1, a.token) != token_digest(key1, b.token)
    assert a.token not in token_digest(key1, a.token)


@pytest.mark.parametrize("bad", ["", "a:b", "a/b", "..", ".x", "x" * 65, "a b", "é"])
def test_user_names_that_cannot_be_a_segment_or_a_basic_user_are_refused(bad: str) -> None:
    with pytest.raises(BadUserName):
        check_user_name(bad)


def test_a_home_is_one_collection_under_two_paths(store: MetadataStore) -> None:
    with store.write() as txn:
        home = make_home(txn, "alice")
    with store.read() as txn:
        assert txn.resolve((*HOME_PARENT, "alice")).key == home.key
        assert txn.resolve((*ALIAS_PARENT, "alice")).key == home.key
        assert home.is_collection
    with store.write() as txn:  # again: kept as it is
        assert make_home(txn, "alice").key == home.key
        remove_home(txn, "alice", purge=False)
    with store.read() as txn:
        assert txn.resolve((*HOME_PARENT, "alice")).key == home.key
        with pytest.raises(NotFound):
            txn.resolve((*ALIAS_PARENT, "alice"))
    with store.write() as txn:
        remove_home(txn, "alice", purge=True)
        remove_home(txn, "alice", purge=True)  # nothing left: no error
    with store.read() as txn, pytest.raises(NotFound):
        txn.resolve((*HOME_PARENT, "alice"))


def test_a_home_path_taken_by_something_else_is_refused(store: MetadataStore) -> None:
    with store.write() as txn:
        files = txn.create(txn.resolve(()).key, "home", collection=True)
        txn.create(files.key, "bob", collection=False)
    with store.write() as txn, pytest.raises(Conflict, match="not a collection"):
        make_home(txn, "bob")
    with store.write() as txn:
        other = txn.create(txn.resolve(()).key, "other", collection=True)
        make_home(txn, "carol")
        parent = txn.resolve(ALIAS_PARENT)
        txn.unbind(parent.key, "carol")
        txn.bind(parent.key, "carol", other.key)
        with pytest.raises(Conflict, match="not carol's home"):
            make_home(txn, "carol")
