"""Reclamation and unsynced-content bookkeeping of the PostgreSQL store's transaction.

The rules are the SQLite store's (``sqlite_txn`` module doc): removing a binding
collects exactly the resources that lost every path from the root, cycles included
(RFC 5842 §2.4, §5; decision A-27), in the same transaction; content whose last
reference went away goes to the trash, emptied after commit by the store; content not
yet known to be on disk is listed in ``unsynced`` and guarded by ``fallback`` rows.

The reachability walk is two recursive queries with no temporary table: the candidates
(``start`` and everything below it), then those of them still reachable through a
binding from outside the candidates.  Whatever is left is deleted by key array.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import psycopg

from davbind.storage.model import Resource

_DEAD = """
WITH RECURSIVE down(k) AS (
  SELECT %(start)s::bigint
  UNION SELECT b.child FROM bindings b JOIN down ON b.parent = down.k),
cand AS (SELECT k FROM down WHERE k <> %(root)s),
live(k) AS (
  SELECT b.child FROM bindings b JOIN cand ON b.child = cand.k
  WHERE b.parent NOT IN (SELECT k FROM cand)
  UNION SELECT b.child FROM bindings b JOIN live ON b.parent = live.k)
SELECT k FROM cand EXCEPT SELECT k FROM live
"""


class PostgresReclaim:
    """Mixed into ``PostgresTxn``, which provides the connection, the root key and the
    reachability and binding queries."""

    _c: psycopg.Connection[tuple[Any, ...]]
    _root_key: int
    trashed: bool

    def reachable(self, key: int) -> bool:
        raise NotImplementedError

    def parents(self, key: int) -> list[tuple[int, str]]:
        raise NotImplementedError

    def _membership_changed(self, parent: int) -> None:
        raise NotImplementedError

    def _retain(self, digest: str, size: int) -> None:
        """Content referenced again in this transaction (a copy of something this same
        transaction released) must not be deleted after commit."""
        self._c.execute(
            "INSERT INTO blobs(digest, size) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (digest, size),
        )
        self._c.execute("DELETE FROM blob_trash WHERE digest = %s", (digest,))

    def _collect(self, start: int) -> None:
        """Delete what removing a binding to ``start`` left unreachable (decision A-27):
        only ``start`` and its descendants can have lost their path from the root."""
        if self.reachable(start):
            return
        c = self._c
        dead = [int(r[0]) for r in c.execute(_DEAD, {"start": start, "root": self._root_key})]
        if not dead:
            return
        digests = [
            str(r[0])
            for r in c.execute(
                "SELECT DISTINCT digest FROM resources WHERE key = ANY(%s) "
                "AND digest IS NOT NULL", (dead,),
            )
        ]
        digests += [
            str(r[0])
            for r in c.execute(
                "DELETE FROM fallback WHERE key = ANY(%s) RETURNING digest", (dead,)
            )
            if r[0] is not None
        ]
        c.execute("DELETE FROM bindings WHERE parent = ANY(%s)", (dead,))
        c.execute("DELETE FROM props WHERE key = ANY(%s)", (dead,))
        c.execute("DELETE FROM locks WHERE key = ANY(%s)", (dead,))
        c.execute("DELETE FROM resources WHERE key = ANY(%s)", (dead,))
        self._release_digests(digests)

    def _release_digests(self, digests: Iterable[str]) -> None:
        for digest in digests:
            used = self._c.execute(
                "SELECT 1 FROM resources WHERE digest = %s UNION ALL "
                "SELECT 1 FROM fallback WHERE digest = %s LIMIT 1", (digest, digest),
            ).fetchone()
            if used is None:
                self._c.execute("DELETE FROM blobs WHERE digest = %s", (digest,))
                self._c.execute("DELETE FROM unsynced WHERE digest = %s", (digest,))
                self._c.execute(
                    "INSERT INTO blob_trash(digest) VALUES (%s) ON CONFLICT DO NOTHING",
                    (digest,),
                )
                self.trashed = True

    def _track_fallback(self, key: int, old: Resource | None, digest: str | None) -> None:
        """Keep the last durable content of ``key`` (``old``, None for a new resource)
        while its content is unsynced; forget it once the content is durable again."""
        c = self._c
        if digest is not None and c.execute(
            "SELECT 1 FROM unsynced WHERE digest = %s", (digest,)
        ).fetchone():
            # only the first change keeps its old content: by the invariant it is durable
            c.execute(
                "INSERT INTO fallback(key, existed, digest, size, ctype) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                (key, False, None, 0, None) if old is None
                else (key, True, old.digest, old.size, old.content_type),
            )
            return
        if old is None:
            return  # a new resource has no fallback to forget
        row = c.execute(
            "DELETE FROM fallback WHERE key = %s RETURNING digest", (key,)
        ).fetchone()
        if row is not None and row[0] is not None:
            self._release_digests([str(row[0])])

    # -- content not yet known durable ---------------------------------------------------

    def unsynced_digests(self, before: float | None = None) -> list[str]:
        """Digests listed as unsynced (only those listed before ``before``, if given)."""
        if before is None:
            rows = self._c.execute("SELECT digest FROM unsynced")
        else:
            rows = self._c.execute("SELECT digest FROM unsynced WHERE since < %s", (before,))
        return [str(r[0]) for r in rows]

    def mark_synced(self, digests: Iterable[str]) -> None:
        """``digests`` are on disk: forget them, and the fallbacks that no longer guard
        anything (their resource's content is durable now), releasing what they kept."""
        c = self._c
        c.execute("DELETE FROM unsynced WHERE digest = ANY(%s)", (list(digests),))
        released = c.execute(
            "DELETE FROM fallback WHERE key IN (SELECT r.key FROM resources r "
            "WHERE r.digest IS NULL OR r.digest NOT IN (SELECT digest FROM unsynced)) "
            "RETURNING digest"
        ).fetchall()
        self._release_digests(str(d) for (d,) in released if d is not None)

    def roll_back_unsynced(self, digest: str) -> int:
        """The content ``digest`` was lost (a crash before it reached the disk): every
        resource showing it gets its last durable content back, and one created since
        is unbound everywhere.  Returns the number of resources changed."""
        c = self._c
        keys = [
            int(r[0]) for r in c.execute("SELECT key FROM resources WHERE digest = %s", (digest,))
        ]
        for key in keys:
            row = c.execute(
                "DELETE FROM fallback WHERE key = %s RETURNING existed, digest, size, ctype",
                (key,),
            ).fetchone()
            if row is not None and row[0]:
                c.execute(
                    "UPDATE resources SET digest = %s, size = %s, ctype = %s, "
                    "version = version + 1, cgen = cgen + 1, modified = %s WHERE key = %s",
                    (row[1], row[2], row[3], time.time(), key),
                )
                continue
            for parent, segment in self.parents(key):
                c.execute(
                    "DELETE FROM bindings WHERE parent = %s AND segment = %s", (parent, segment)
                )
                self._membership_changed(parent)
            self._collect(key)
        c.execute("DELETE FROM unsynced WHERE digest = %s", (digest,))
        self._release_digests([digest])
        return len(keys)
