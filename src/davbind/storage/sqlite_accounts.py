"""The account queries of the SQLite metadata store's transaction (``AccountsTxn``):
the ``users`` and ``tokens`` tables, and the app-password key in ``meta``."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Iterator, Sequence

from davbind.storage.accounts import SCOPES, AppToken, User
from davbind.storage.model import AlreadyExists, NotFound

TOKEN_SECRET_KEY = "token_secret"
"""The ``meta`` row holding the app-password key (hex), written by the migration that
created the account tables (``sqlite._migrate``)."""


def new_token_key() -> str:
    """A fresh key for ``credentials.token_digest`` (hex), one per store."""
    return secrets.token_hex(32)


def _user(row: Sequence[object]) -> User:
    name, pwhash, created, changed = row
    return User(str(name), str(pwhash), float(created), float(changed))  # type: ignore[arg-type]


def _token(row: Sequence[object]) -> AppToken:
    tid, user, label, scope, digest, created = row
    s = str(scope)
    return AppToken(str(tid), str(user), str(label), "read" if s == "read" else "write",
                    str(digest), float(created))  # type: ignore[arg-type]  # fmt: skip


class SqliteAccounts:
    """Account reads and writes; mixed into ``SqliteTxn``, which provides the connection
    and ``_grow`` (the full-disk check before anything is added)."""

    _c: sqlite3.Connection

    def _grow(self) -> None:
        raise NotImplementedError

    def users(self) -> Iterator[User]:
        for row in self._c.execute(
            "SELECT name, pwhash, created, changed FROM users ORDER BY name"
        ):
            yield _user(row)

    def user(self, name: str) -> User | None:
        row = self._c.execute(
            "SELECT name, pwhash, created, changed FROM users WHERE name=?", (name,)
        ).fetchone()
        return None if row is None else _user(row)

    def has_users(self) -> bool:
        return self._c.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def add_user(self, user: User) -> None:
        self._grow()
        try:
            self._c.execute(
                "INSERT INTO users(name, pwhash, created, changed) VALUES (?,?,?,?)",
                (user.name, user.password_hash, user.created, user.changed),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"user {user.name}") from None

    def set_password(self, name: str, password_hash: str, when: float) -> None:
        cur = self._c.execute(
            "UPDATE users SET pwhash=?, changed=? WHERE name=?", (password_hash, when, name)
        )
        if cur.rowcount == 0:
            raise NotFound(f"user {name}")

    def remove_user(self, name: str) -> None:
        if self._c.execute("DELETE FROM users WHERE name=?", (name,)).rowcount == 0:
            raise NotFound(f"user {name}")
        self._c.execute("DELETE FROM tokens WHERE user=?", (name,))

    def tokens(self, user: str) -> list[AppToken]:
        rows = self._c.execute(
            "SELECT id, user, label, scope, digest, created FROM tokens WHERE user=? "
            "ORDER BY created, id",
            (user,),
        ).fetchall()
        return [_token(r) for r in rows]

    def token_by_digest(self, digest: str) -> AppToken | None:
        row = self._c.execute(
            "SELECT id, user, label, scope, digest, created FROM tokens WHERE digest=?",
            (digest,),
        ).fetchone()
        return None if row is None else _token(row)

    def add_token(self, token: AppToken) -> None:
        if token.scope not in SCOPES:
            raise ValueError(f"unknown token scope {token.scope!r}")
        self._grow()
        try:
            self._c.execute(
                "INSERT INTO tokens(id, user, label, scope, digest, created) "
                "VALUES (?,?,?,?,?,?)",
                (token.id, token.user, token.label, token.scope, token.digest, token.created),
            )
        except sqlite3.IntegrityError:
            raise AlreadyExists(f"token {token.id}") from None

    def revoke_token(self, user: str, token_id: str) -> None:
        cur = self._c.execute("DELETE FROM tokens WHERE user=? AND id=?", (user, token_id))
        if cur.rowcount == 0:
            raise NotFound(f"token {token_id} of user {user}")

    def token_secret(self) -> bytes:
        row = self._c.execute("SELECT v FROM meta WHERE k=?", (TOKEN_SECRET_KEY,)).fetchone()
        if row is None:
            raise NotFound("the store has no app-password key")
        return bytes.fromhex(str(row[0]))
