"""The lock queries of the PostgreSQL metadata store's transaction (RFC 4918 §6, §7;
RFC 5842 §9): locks live in the shared database, so they survive restarts and every
server process sees them.  An expired lock is never returned; expired rows are swept
when a new lock is added."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from davbind.storage.model import AlreadyExists, Lock, NotFound

_LOCK_COLS = "token, key, root, infinite, exclusive, owner, principal, timeout, expires"


def _lock(row: Sequence[Any]) -> Lock:
    token, key, root, infinite, exclusive, owner, principal, timeout, expires = row
    return Lock(
        token=token,
        resource=key,
        root=root,
        infinite=infinite,
        exclusive=exclusive,
        owner_xml=owner,
        principal=principal,
        timeout=timeout,
        expires=expires,
    )


class PostgresLocks:
    """Lock reads and writes; mixed into ``PostgresTxn``, which provides the connection."""

    _c: psycopg.Connection[tuple[Any, ...]]

    def locks_on(self, keys: Iterable[int]) -> list[Lock]:
        keys = list(keys)
        if not keys:
            return []
        rows = self._c.execute(
            f"SELECT {_LOCK_COLS} FROM locks WHERE key = ANY(%s) AND expires > %s",
            (keys, time.time()),
        ).fetchall()
        return [_lock(r) for r in rows]

    def locks_rooted_at_or_below(self, root: str) -> list[Lock]:
        prefix = root.rstrip("/") + "/"
        rows = self._c.execute(
            f"SELECT {_LOCK_COLS} FROM locks "
            "WHERE (root = %s OR left(root, %s) = %s) AND expires > %s",
            (root, len(prefix), prefix, time.time()),
        ).fetchall()
        return [_lock(r) for r in rows]

    def lock(self, token: str) -> Lock | None:
        row = self._c.execute(
            f"SELECT {_LOCK_COLS} FROM locks WHERE token = %s AND expires > %s",
            (token, time.time()),
        ).fetchone()
        return None if row is None else _lock(row)

    def all_locks(self, limit: int) -> list[Lock] | None:
        rows = self._c.execute(
            f"SELECT {_LOCK_COLS} FROM locks WHERE expires > %s LIMIT %s",
            (time.time(), limit + 1),
        ).fetchall()
        return None if len(rows) > limit else [_lock(r) for r in rows]

    def add_lock(self, lock: Lock) -> None:
        self._c.execute("DELETE FROM locks WHERE expires <= %s", (time.time(),))
        if self.lock(lock.token) is not None:
            raise AlreadyExists(lock.token)
        self._c.execute(
            f"INSERT INTO locks({_LOCK_COLS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                lock.token, lock.resource, lock.root, lock.infinite, lock.exclusive,
                lock.owner_xml, lock.principal, lock.timeout, lock.expires,
            ),
        )

    def refresh_lock(self, token: str, timeout: int) -> Lock:
        now = time.time()
        self._c.execute(
            "UPDATE locks SET timeout = %s, expires = %s WHERE token = %s AND expires > %s",
            (timeout, now + timeout, token, now),
        )
        found = self.lock(token)
        if found is None:
            raise NotFound(token)
        return found

    def remove_lock(self, token: str) -> None:
        self._c.execute("DELETE FROM locks WHERE token = %s", (token,))
