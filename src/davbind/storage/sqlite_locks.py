"""The lock queries of the SQLite metadata store's transaction (RFC 4918 §6, §7;
RFC 5842 §9): locks live in the metadata store, so they survive restarts and every
process sees them.  An expired lock is never returned; expired rows are swept when a
new lock is added."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence

from davbind.storage.model import AlreadyExists, Lock, NotFound


def _lock(row: Sequence[object]) -> Lock:
    token, key, root, infinite, exclusive, owner, principal, timeout, expires = row
    return Lock(
        token=str(token),
        resource=int(key),  # type: ignore[call-overload]
        root=str(root),
        infinite=bool(infinite),
        exclusive=bool(exclusive),
        owner_xml=None if owner is None else str(owner),
        principal=None if principal is None else str(principal),
        timeout=int(timeout),  # type: ignore[call-overload]
        expires=float(expires),  # type: ignore[arg-type]
    )



class SqliteLocks:
    """Lock reads and writes; mixed into ``SqliteTxn``, which provides the connection
    and ``_grow`` (the full-disk check before anything is added)."""

    _c: sqlite3.Connection

    def _grow(self) -> None:
        raise NotImplementedError

    def locks_on(self, keys: Iterable[int]) -> list[Lock]:
        keys = list(keys)
        if not keys:
            return []
        out: list[Lock] = []
        now = time.time()
        for i in range(0, len(keys), 500):
            part = keys[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self._c.execute(
                f"SELECT * FROM locks WHERE key IN ({marks}) AND expires > ?", (*part, now)
            ).fetchall()
            out.extend(_lock(r) for r in rows)
        return out

    def locks_rooted_at_or_below(self, root: str) -> list[Lock]:
        prefix = root.rstrip("/") + "/"
        rows = self._c.execute(
            "SELECT * FROM locks WHERE (root=? OR substr(root, 1, ?)=?) AND expires > ?",
            (root, len(prefix), prefix, time.time()),
        ).fetchall()
        return [_lock(r) for r in rows]

    def lock(self, token: str) -> Lock | None:
        row = self._c.execute(
            "SELECT * FROM locks WHERE token=? AND expires > ?", (token, time.time())
        ).fetchone()
        return None if row is None else _lock(row)

    def all_locks(self, limit: int) -> list[Lock] | None:
        rows = self._c.execute(
            "SELECT * FROM locks WHERE expires > ? LIMIT ?", (time.time(), limit + 1)
        ).fetchall()
        return None if len(rows) > limit else [_lock(r) for r in rows]

    def add_lock(self, lock: Lock) -> None:
        self._grow()
        self._c.execute("DELETE FROM locks WHERE expires <= ?", (time.time(),))
        if self.lock(lock.token) is not None:
            raise AlreadyExists(lock.token)
        self._c.execute(
            "INSERT INTO locks VALUES (?,?,?,?,?,?,?,?,?)",
            (
                lock.token, lock.resource, lock.root, int(lock.infinite), int(lock.exclusive),
                lock.owner_xml, lock.principal, lock.timeout, lock.expires,
            ),
        )

    def refresh_lock(self, token: str, timeout: int) -> Lock:
        now = time.time()
        self._c.execute(
            "UPDATE locks SET timeout=?, expires=? WHERE token=? AND expires > ?",
            (timeout, now + timeout, token, now),
        )
        found = self.lock(token)
        if found is None:
            raise NotFound(token)
        return found

    def remove_lock(self, token: str) -> None:
        self._c.execute("DELETE FROM locks WHERE token=?", (token,))

