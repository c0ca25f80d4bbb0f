"""The transaction of the PostgreSQL metadata store: every read and write of resources,
bindings, dead properties and content references (``Txn``).

The semantics are the SQLite store's (``sqlite_txn``); lock queries are
``postgres_locks``', reclamation and unsynced bookkeeping ``postgres_reclaim``'.  A move
or a rebind is one row of ``bindings`` changed by (parent, segment); paths are never
stored.  Segments, property names and lock roots are ``COLLATE "C"``, so listings sort
by code point whatever the database's locale.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg

from davbind.storage.grants import GrantsQueries
from davbind.storage.interface import INLINE_MAX, BlobStore, Upload
from davbind.storage.model import (
    AlreadyExists,
    DeadProp,
    MemberStamp,
    NotACollection,
    NotFound,
    Resource,
)
from davbind.storage.postgres_accounts import PostgresAccounts
from davbind.storage.postgres_locks import PostgresLocks
from davbind.storage.postgres_reclaim import PostgresReclaim

_COLS = (
    "r.key, r.rid, r.coll, r.digest, r.size, r.ctype, r.version, r.created, r.modified, "
    "r.cgen, r.owner"
)

MEMBER_BATCH = 512
"""Members per batch of ``members`` (rows fetched per round trip).  2,048 was no faster
once each batch is a few index lookups (store-level listing of 10,000 members)."""

# A batch of ``members``: the page of bindings is cut (index order, LIMIT) before
# anything is joined: planned without statistics (a freshly filled database, before
# autovacuum's first ANALYZE), a join came first and read every member after the last
# one for each batch, quadratic in the collection's size (6.7 ms a batch instead of
# 0.6).  Each member's row is then looked up by its key (LATERAL, kept from being
# flattened into a plain join by OFFSET 0): as a plain join of a table of a few
# thousand rows the planner hashed the *whole* resources table for every batch and
# sorted the result (4.1 ms a batch of 512 against 1.2 looked up, EXPLAIN ANALYZE on
# 10,000 members); the lookups keep the page's order, so nothing is sorted.
_PAGE = "SELECT segment, child FROM bindings WHERE parent = %s{} ORDER BY segment LIMIT %s"
_LOOKUP = ("SELECT b.segment, {cols} FROM ({page}) b CROSS JOIN LATERAL "
           "(SELECT {cols} FROM resources r WHERE r.key = b.child OFFSET 0) r "
           "ORDER BY b.segment")  # fmt: skip
_STAMP_COLS = "r.key, r.coll, r.cgen, r.owner"
MEMBERS_FIRST = _LOOKUP.format(cols=_COLS, page=_PAGE.format(""))
"""The first batch: (parent, limit)."""
MEMBERS_AFTER = _LOOKUP.format(cols=_COLS, page=_PAGE.format(" AND segment > %s"))
"""A next batch: (parent, last segment of the batch before, limit)."""
STAMPS_FIRST = _LOOKUP.format(cols=_STAMP_COLS, page=_PAGE.format(""))
"""``MEMBERS_FIRST`` for ``member_stamps``."""
STAMPS_AFTER = _LOOKUP.format(cols=_STAMP_COLS, page=_PAGE.format(" AND segment > %s"))
"""``MEMBERS_AFTER`` for ``member_stamps``."""


def _key_array(keys: Sequence[int]) -> str:
    """Keys as one array literal for ``= ANY(%s::bigint[])``: a list parameter is dumped
    element by element in Python (psycopg), most of such a query's time (512 keys:
    0.74 ms as a list, 0.45 as a binary list, 0.22 as the literal)."""
    return "{" + ",".join(str(int(k)) for k in keys) + "}"


class PostgresTxn(PostgresLocks, PostgresAccounts, PostgresReclaim, GrantsQueries):
    """``Txn`` over one PostgreSQL connection inside an open transaction."""

    _P = "%s"  # the driver's placeholder, for the queries shared with SQLite

    def __init__(
        self, conn: psycopg.Connection[tuple[Any, ...]], root_key: int, blobs: BlobStore
    ) -> None:
        self._c = conn
        self._root_key = root_key
        self._blobs = blobs
        self.trashed = False
        self.unsynced: list[str] = []  # digests this transaction listed as unsynced
        self.placed: list[str] = []  # blob files this transaction put in place

    # -- reads ---------------------------------------------------------------------------

    @property
    def root(self) -> Resource:
        return self.get(self._root_key)

    @property
    def root_key(self) -> int:
        return self._root_key

    def get(self, key: int) -> Resource:
        row = self._c.execute(
            f"SELECT {_COLS} FROM resources r WHERE r.key = %s", (key,)
        ).fetchone()
        if row is None:
            raise NotFound(f"resource {key}")
        return Resource._make(row)

    def lookup(self, parent: int, segment: str) -> Resource | None:
        row = self._c.execute(
            f"SELECT {_COLS} FROM bindings b JOIN resources r ON r.key = b.child "
            "WHERE b.parent = %s AND b.segment = %s",
            (parent, segment),
        ).fetchone()
        return None if row is None else Resource._make(row)

    def resolve(self, segments: Sequence[str]) -> Resource:
        if not segments:
            return self.root
        key, is_collection = self._root_key, True
        found: Resource | None = None
        for i, seg in enumerate(segments):
            if not is_collection:
                raise NotACollection("/" + "/".join(segments[:i]))
            found = self.lookup(key, seg)
            if found is None:
                raise NotFound("/" + "/".join(segments[: i + 1]))
            key, is_collection = found.key, found.is_collection
        assert found is not None
        return found

    def children(self, parent: int) -> Iterator[tuple[str, Resource]]:
        for batch in self.members(parent):
            yield from batch

    def members(self, parent: int) -> Iterator[list[tuple[str, Resource]]]:
        make = Resource._make
        for rows in self._pages(parent, MEMBERS_FIRST, MEMBERS_AFTER):
            yield [(row[0], make(row[1:])) for row in rows]

    def member_stamps(self, parent: int) -> Iterator[list[tuple[str, MemberStamp]]]:
        make = MemberStamp._make
        for rows in self._pages(parent, STAMPS_FIRST, STAMPS_AFTER):
            yield [(row[0], make(row[1:])) for row in rows]

    def _pages(self, parent: int, first: str, after_query: str) -> Iterator[list[Any]]:
        # keyset pagination rather than a cursor: a batch is one short query, and the
        # caller may run other queries on this connection between batches
        after: str | None = None
        while True:
            if after is None:
                rows = self._c.execute(first, (parent, MEMBER_BATCH)).fetchall()
            else:
                rows = self._c.execute(after_query, (parent, after, MEMBER_BATCH)).fetchall()
            if not rows:
                return
            yield rows
            if len(rows) < MEMBER_BATCH:
                return
            after = rows[-1][0]

    def resources_of(self, keys: Sequence[int]) -> dict[int, Resource]:
        if not keys:
            return {}
        rows = self._c.execute(
            f"SELECT {_COLS} FROM resources r WHERE r.key = ANY(%s::bigint[])",
            (_key_array(keys),),
        ).fetchall()
        make = Resource._make
        return {row[0]: make(row) for row in rows}

    def parents(self, key: int) -> list[tuple[int, str]]:
        rows = self._c.execute(
            "SELECT parent, segment FROM bindings WHERE child = %s ORDER BY parent, segment",
            (key,),
        ).fetchall()
        return [(int(p), str(s)) for p, s in rows]

    def ancestors(self, key: int) -> set[int]:
        rows = self._c.execute(
            "WITH RECURSIVE up(k) AS (SELECT parent FROM bindings WHERE child = %s "
            "UNION SELECT b.parent FROM bindings b JOIN up ON b.child = up.k) SELECT k FROM up",
            (key,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def descendants(self, key: int) -> set[int]:
        rows = self._c.execute(
            "WITH RECURSIVE down(k) AS (SELECT child FROM bindings WHERE parent = %s "
            "UNION SELECT b.child FROM bindings b JOIN down ON b.parent = down.k) "
            "SELECT k FROM down",
            (key,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def edges_below(self, key: int) -> Iterator[tuple[int, int, bool]]:
        rows = self._c.execute(
            "WITH RECURSIVE reach(k) AS (SELECT %s::bigint UNION SELECT b.child FROM "
            "bindings b JOIN reach ON b.parent = reach.k JOIN resources r ON r.key = b.child "
            "WHERE r.coll) SELECT b.parent, b.child, r.coll FROM reach "
            "JOIN bindings b ON b.parent = reach.k JOIN resources r ON r.key = b.child",
            (key,),
        ).fetchall()
        for parent, child, coll in rows:
            yield int(parent), int(child), bool(coll)

    def has_locks(self) -> bool:
        row = self._c.execute(
            "SELECT 1 FROM locks WHERE expires > %s LIMIT 1", (time.time(),)
        ).fetchone()
        return row is not None

    def dead_props(self, key: int) -> list[DeadProp]:
        rows = self._c.execute(
            "SELECT name, xml FROM props WHERE key = %s ORDER BY name", (key,)
        ).fetchall()
        return [DeadProp(n, x) for n, x in rows]

    def dead_props_of(self, keys: Sequence[int]) -> dict[int, list[DeadProp]]:
        out: dict[int, list[DeadProp]] = {}
        if not keys:
            return out
        rows = self._c.execute(
            "SELECT key, name, xml FROM props WHERE key = ANY(%s::bigint[]) ORDER BY key, name",
            (_key_array(keys),),
        )
        for key, name, xml in rows:
            out.setdefault(key, []).append(DeadProp(name, xml))
        return out

    # -- writes --------------------------------------------------------------------------

    def create(
        self,
        parent: int,
        segment: str,
        *,
        collection: bool,
        digest: str | None = None,
        size: int = 0,
        content_type: str | None = None,
        modified: float | None = None,
    ) -> Resource:
        self._require_collection(parent)
        if self.lookup(parent, segment) is not None:
            raise AlreadyExists(segment)
        now = time.time()
        row = self._c.execute(
            "INSERT INTO resources(rid, coll, digest, size, ctype, created, modified, owner) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, (SELECT owner FROM resources WHERE key = %s)) "
            "RETURNING key",
            (f"urn:uuid:{uuid.uuid4()}", collection, digest, size, content_type, now,
             now if modified is None else modified, parent),
        ).fetchone()
        assert row is not None
        key = int(row[0])
        if digest is not None:
            self._retain(digest, size)
            self._track_fallback(key, None, digest)
        self._c.execute(
            "INSERT INTO bindings(parent, segment, child) VALUES (%s, %s, %s)",
            (parent, segment, key),
        )
        self._membership_changed(parent)
        return self.get(key)

    def _require_collection(self, key: int) -> None:
        if not self.get(key).is_collection:
            raise NotACollection(str(key))

    def bind(self, parent: int, segment: str, child: int) -> None:
        self._require_collection(parent)
        self.get(child)
        # ON CONFLICT rather than catching the unique violation: an error would abort
        # the whole PostgreSQL transaction, and the caller may go on after AlreadyExists
        row = self._c.execute(
            "INSERT INTO bindings(parent, segment, child) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING RETURNING 1",
            (parent, segment, child),
        ).fetchone()
        if row is None:
            raise AlreadyExists(segment)
        self._membership_changed(parent)

    def unbind(self, parent: int, segment: str) -> int:
        row = self._c.execute(
            "DELETE FROM bindings WHERE parent = %s AND segment = %s RETURNING child",
            (parent, segment),
        ).fetchone()
        if row is None:
            raise NotFound(segment)
        child = int(row[0])
        self._membership_changed(parent)
        self._collect(child)
        return child

    def replace(self, parent: int, segment: str, child: int) -> int:
        row = self._c.execute(
            "UPDATE bindings n SET child = %s FROM bindings o WHERE n.parent = %s "
            "AND n.segment = %s AND o.parent = n.parent AND o.segment = n.segment "
            "RETURNING o.child",
            (child, parent, segment),
        ).fetchone()
        if row is None:
            raise NotFound(segment)
        old = int(row[0])
        self._membership_changed(parent)
        if old != child:
            self._collect(old)
        return old

    def reachable(self, key: int) -> bool:
        return key == self._root_key or self._root_key in self.ancestors(key)

    def store_blob(self, upload: Upload) -> tuple[str, int]:
        digest, size = upload.finish()
        placed = self._blobs.commit(upload)
        if placed:
            self.placed.append(digest)
        if not self._blobs.durable and (placed or not self._known(digest)):
            # a file no row knows (left by a rolled-back transaction) was never flushed
            self._c.execute(
                "INSERT INTO unsynced(digest, since) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (digest, time.time()),
            )
            self.unsynced.append(digest)
        self._retain(digest, size)
        return digest, size

    def _known(self, digest: str) -> bool:
        row = self._c.execute("SELECT 1 FROM blobs WHERE digest = %s", (digest,)).fetchone()
        return row is not None

    def store_inline(self, data: bytes) -> tuple[str, int]:
        if len(data) > INLINE_MAX:
            raise ValueError(f"{len(data)} bytes is more than inline content may hold")
        digest = hashlib.sha256(data).hexdigest()
        if not self._known(digest):  # else it is stored already, inline or as a file
            self._c.execute(
                "INSERT INTO inline_blobs(digest, data) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                (digest, data),
            )
        self._retain(digest, len(data))
        return digest, len(data)

    def read_inline(self, digest: str) -> bytes | None:
        row = self._c.execute(
            "SELECT data FROM inline_blobs WHERE digest = %s", (digest,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def set_content(
        self, key: int, digest: str | None, size: int, content_type: str | None,
        modified: float | None = None,
    ) -> Resource:
        old = self.get(key)
        if old.is_collection:
            raise NotACollection(f"{key} is a collection; it has no content")
        self._c.execute(
            "UPDATE resources SET digest = %s, size = %s, ctype = %s, version = version + 1, "
            "cgen = cgen + 1, modified = %s WHERE key = %s",
            (digest, size, content_type, time.time() if modified is None else modified, key),
        )
        if digest is not None:
            self._retain(digest, size)
        self._track_fallback(key, old, digest)
        if old.digest is not None and old.digest != digest:
            self._release_digests([old.digest])
        return self.get(key)

    def _changed(self, key: int) -> None:
        self._c.execute("UPDATE resources SET cgen = cgen + 1 WHERE key = %s", (key,))

    def _membership_changed(self, parent: int) -> None:
        self._c.execute(
            "UPDATE resources SET version = version + 1, cgen = cgen + 1, modified = %s "
            "WHERE key = %s",
            (time.time(), parent),
        )

    def set_dead_prop(self, key: int, prop: DeadProp) -> None:
        self._changed(key)
        self._c.execute(
            "INSERT INTO props(key, name, xml) VALUES (%s, %s, %s) "
            "ON CONFLICT (key, name) DO UPDATE SET xml = excluded.xml",
            (key, prop.name, prop.xml),
        )

    def remove_dead_prop(self, key: int, name: str) -> None:
        self._changed(key)
        self._c.execute("DELETE FROM props WHERE key = %s AND name = %s", (key, name))

    def copy_dead_props(self, source: int, target: int) -> None:
        if source == target:
            return
        self._changed(target)
        self._c.execute("DELETE FROM props WHERE key = %s", (target,))
        self._c.execute(
            "INSERT INTO props(key, name, xml) SELECT %s, name, xml FROM props WHERE key = %s",
            (target, source),
        )

    # -- content found damaged (``storage.fsck``) ----------------------------------------

    def damage(self, digest: str) -> str | None:
        row = self._c.execute(
            "SELECT reason FROM damaged WHERE digest = %s", (digest,)
        ).fetchone()
        return None if row is None else str(row[0])

    def set_damage(self, marks: dict[str, str]) -> None:
        self._c.execute("DELETE FROM damaged")
        with self._c.cursor() as cur:
            cur.executemany(
                "INSERT INTO damaged(digest, reason) VALUES (%s, %s)", list(marks.items())
            )

    def content_refs(self) -> Iterator[tuple[int, str, int]]:
        rows = self._c.execute(
            "SELECT key, digest, size FROM resources WHERE digest IS NOT NULL ORDER BY key"
        ).fetchall()
        for key, digest, size in rows:
            yield int(key), str(digest), int(size)
