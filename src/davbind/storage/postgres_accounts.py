"""The account queries of the PostgreSQL metadata store's transaction (``AccountsTxn``):
the ``users`` and ``tokens`` tables and the app-password key in ``meta``, as the SQLite
store keeps them (``storage.sqlite_accounts``).  A conflict is found with
``ON CONFLICT DO NOTHING`` rather than a failed insert, which would abort the whole
PostgreSQL transaction."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg

from davbind.storage.accounts import SCOPES, AppToken, User
from davbind.storage.model import AlreadyExists, NotFound
from davbind.storage.sqlite_accounts import TOKEN_SECRET_KEY, new_token_key
from davbind.storage.sqlite_accounts import _token as _token_row
from davbind.storage.sqlite_accounts import _user as _user_row

ACCOUNTS_MIGRATION = f"""
CREATE TABLE users(
  name text COLLATE "C" PRIMARY KEY, pwhash text NOT NULL, created double precision NOT NULL,
  changed double precision NOT NULL);
CREATE TABLE tokens(
  id text PRIMARY KEY, "user" text COLLATE "C" NOT NULL, label text NOT NULL,
  scope text NOT NULL, digest text NOT NULL UNIQUE, created double precision NOT NULL);
CREATE INDEX tokens_user ON tokens("user");
INSERT INTO meta(k, v) VALUES ('{TOKEN_SECRET_KEY}', '{{key}}') ON CONFLICT DO NOTHING;
"""
"""Schema migration 2 (``postgres_schema.MIGRATIONS``); ``{key}`` is filled with a new
key when it runs."""

_USER = "SELECT name, pwhash, created, changed FROM users"
_TOKEN = 'SELECT id, "user", label, scope, digest, created FROM tokens'


def accounts_migration() -> str:
    return ACCOUNTS_MIGRATION.replace("{key}", new_token_key())


class PostgresAccounts:
    """Account reads and writes; mixed into ``PostgresTxn``, which provides the
    connection.  (The full-disk check of the SQLite store has no PostgreSQL
    counterpart: PostgreSQL reports a full disk itself.)"""

    _c: psycopg.Connection[tuple[Any, ...]]

    def users(self) -> Iterator[User]:
        for row in self._c.execute(f"{_USER} ORDER BY name").fetchall():
            yield _user_row(row)

    def user(self, name: str) -> User | None:
        row = self._c.execute(f"{_USER} WHERE name=%s", (name,)).fetchone()
        return None if row is None else _user_row(row)

    def has_users(self) -> bool:
        return self._c.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def add_user(self, user: User) -> None:
        cur = self._c.execute(
            "INSERT INTO users(name, pwhash, created, changed) VALUES (%s,%s,%s,%s) "
            "ON CONFLICT DO NOTHING",
            (user.name, user.password_hash, user.created, user.changed),
        )
        if cur.rowcount == 0:
            raise AlreadyExists(f"user {user.name}")

    def set_password(self, name: str, password_hash: str, when: float) -> None:
        cur = self._c.execute(
            "UPDATE users SET pwhash=%s, changed=%s WHERE name=%s", (password_hash, when, name)
        )
        if cur.rowcount == 0:
            raise NotFound(f"user {name}")

    def remove_user(self, name: str) -> None:
        if self._c.execute("DELETE FROM users WHERE name=%s", (name,)).rowcount == 0:
            raise NotFound(f"user {name}")
        self._c.execute('DELETE FROM tokens WHERE "user"=%s', (name,))

    def tokens(self, user: str) -> list[AppToken]:
        rows = self._c.execute(f'{_TOKEN} WHERE "user"=%s ORDER BY created, id', (user,))
        return [_token_row(r) for r in rows.fetchall()]

    def token_by_digest(self, digest: str) -> AppToken | None:
        row = self._c.execute(f"{_TOKEN} WHERE digest=%s", (digest,)).fetchone()
        return None if row is None else _token_row(row)

    def add_token(self, token: AppToken) -> None:
        if token.scope not in SCOPES:
            raise ValueError(f"unknown token scope {token.scope!r}")
        cur = self._c.execute(
            'INSERT INTO tokens(id, "user", label, scope, digest, created) '
            "VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT DO NOTHING",
            (token.id, token.user, token.label, token.scope, token.digest, token.created),
        )
        if cur.rowcount == 0:
            raise AlreadyExists(f"token {token.id}")

    def revoke_token(self, user: str, token_id: str) -> None:
        cur = self._c.execute('DELETE FROM tokens WHERE "user"=%s AND id=%s', (user, token_id))
        if cur.rowcount == 0:
            raise NotFound(f"token {token_id} of user {user}")

    def token_secret(self) -> bytes:
        row = self._c.execute("SELECT v FROM meta WHERE k=%s", (TOKEN_SECRET_KEY,)).fetchone()
        if row is None:
            raise NotFound("the store has no app-password key")
        return bytes.fromhex(str(row[0]))
