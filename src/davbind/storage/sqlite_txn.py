"""The transaction of the SQLite metadata store: every read and write of resources,
bindings, dead properties, locks and content references (``Txn``).

Reclamation is by reachability from the root (RFC 5842 §2.4, §5; decision A-27): removing a
binding collects exactly the resources that no longer have a path from the root, cycles
included, in the same transaction.  Content whose last reference went away is put in the
trash, which the store empties after commit (``sqlite.SqliteMetadataStore``).  Every
change a listing shows bumps the resource's change counter (``cgen``): caches above
storage key renderings by (key, cgen).

Content not yet known to be on disk (a blob store that is not ``durable``, see
``blobs_file``) is listed in ``unsynced`` by the transaction that first stores it.  A
resource whose content is set to such a digest keeps its last durable content in
``fallback`` (or that it did not exist before), which keeps that content alive until the
new one is flushed (``mark_synced``), and is what ``roll_back_unsynced`` restores after a
crash that lost the new bytes.  Invariant: a resource without a ``fallback`` row has
durable content.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from davbind.storage.grants import GrantsQueries
from davbind.storage.interface import INLINE_MAX, BlobStore, Upload
from davbind.storage.model import (
    AlreadyExists,
    DeadProp,
    MemberStamp,
    NotACollection,
    NotFound,
    Resource,
    StorageFull,
)
from davbind.storage.sqlite_accounts import SqliteAccounts
from davbind.storage.sqlite_locks import SqliteLocks

_COLS = (
    "r.key, r.rid, r.coll, r.digest, r.size, r.ctype, r.version, r.created, r.modified, "
    "r.cgen, r.owner"
)

MEMBER_BATCH = 512
"""Members per batch of ``members``."""


def _resource(row: Sequence[Any]) -> Resource:
    """A row of ``_COLS`` as a ``Resource`` (sqlite3 returns the declared types already,
    but ``coll`` as 0 or 1)."""
    key, rid, coll, *rest = row
    return Resource(key, rid, coll == 1, *rest)


class SqliteTxn(SqliteLocks, SqliteAccounts, GrantsQueries):
    """``Txn`` over one SQLite connection (its lock queries are ``SqliteLocks``', its
    account queries ``SqliteAccounts``')."""

    def __init__(self, conn: sqlite3.Connection, root_key: int, blobs: BlobStore,
                 full: bool = False) -> None:  # fmt: skip
        self._c = conn
        self._full = full
        self._root_key = root_key
        self._blobs = blobs
        self.trashed = False
        self.unsynced: list[str] = []  # digests this transaction listed as unsynced
        self.grew = False  # added a row: refused while the disk is full (``storage.space``)
        self.placed: list[str] = []  # blob files this transaction put in place

    def _grow(self) -> None:
        """About to add something: refused at once on a full disk (``storage.space``)."""
        if self._full:
            raise StorageFull("the disk is full: only deletions are accepted for now")
        self.grew = True

    # -- reads ---------------------------------------------------------------------------

    @property
    def root(self) -> Resource:
        return self.get(self._root_key)

    @property
    def root_key(self) -> int:
        return self._root_key

    def get(self, key: int) -> Resource:
        row = self._c.execute(f"SELECT {_COLS} FROM resources r WHERE r.key=?", (key,)).fetchone()
        if row is None:
            raise NotFound(f"resource {key}")
        return _resource(row)

    def lookup(self, parent: int, segment: str) -> Resource | None:
        row = self._c.execute(
            f"SELECT {_COLS} FROM bindings b JOIN resources r ON r.key=b.child "
            "WHERE b.parent=? AND b.segment=?",
            (parent, segment),
        ).fetchone()
        return None if row is None else _resource(row)

    def resolve(self, segments: Sequence[str]) -> Resource:
        if not segments:
            return self.root
        key, is_collection = self._root_key, True  # the root's row is not needed
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
        cur = self._c.execute(
            f"SELECT b.segment, {_COLS} FROM bindings b JOIN resources r ON r.key=b.child "
            "WHERE b.parent=? ORDER BY b.segment",
            (parent,),
        )
        make = Resource._make
        while rows := cur.fetchmany(MEMBER_BATCH):
            # ``_resource`` inlined: a listing builds one per member
            yield [(s, make((k, i, c == 1, *rest))) for s, k, i, c, *rest in rows]

    def member_stamps(self, parent: int) -> Iterator[list[tuple[str, MemberStamp]]]:
        cur = self._c.execute(
            "SELECT b.segment, r.key, r.coll, r.cgen, r.owner FROM bindings b "
            "JOIN resources r ON r.key=b.child WHERE b.parent=? ORDER BY b.segment",
            (parent,),
        )
        make = MemberStamp._make  # a third cheaper than calling the class
        while rows := cur.fetchmany(MEMBER_BATCH):
            yield [(s, make((k, c == 1, g, o))) for s, k, c, g, o in rows]

    def resources_of(self, keys: Sequence[int]) -> dict[int, Resource]:
        out: dict[int, Resource] = {}
        for i in range(0, len(keys), MEMBER_BATCH):
            part = keys[i : i + MEMBER_BATCH]
            marks = ",".join("?" * len(part))
            for row in self._c.execute(
                f"SELECT {_COLS} FROM resources r WHERE r.key IN ({marks})", part
            ):
                out[row[0]] = _resource(row)
        return out

    def parents(self, key: int) -> list[tuple[int, str]]:
        rows = self._c.execute(
            "SELECT parent, segment FROM bindings WHERE child=? ORDER BY parent, segment", (key,)
        ).fetchall()
        return [(int(p), str(s)) for p, s in rows]

    def ancestors(self, key: int) -> set[int]:
        rows = self._c.execute(
            "WITH RECURSIVE up(k) AS (SELECT parent FROM bindings WHERE child=? "
            "UNION SELECT b.parent FROM bindings b JOIN up ON b.child=up.k) SELECT k FROM up",
            (key,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def descendants(self, key: int) -> set[int]:
        rows = self._c.execute(
            "WITH RECURSIVE down(k) AS (SELECT child FROM bindings WHERE parent=? "
            "UNION SELECT b.child FROM bindings b JOIN down ON b.parent=down.k) SELECT k FROM down",
            (key,),
        ).fetchall()
        return {int(r[0]) for r in rows}

    def edges_below(self, key: int) -> Iterator[tuple[int, int, bool]]:
        cur = self._c.execute(
            "WITH RECURSIVE reach(k) AS (SELECT ? UNION SELECT b.child FROM bindings b "
            "JOIN reach ON b.parent=reach.k JOIN resources r ON r.key=b.child WHERE r.coll=1) "
            "SELECT b.parent, b.child, r.coll FROM reach JOIN bindings b ON b.parent=reach.k "
            "JOIN resources r ON r.key=b.child",
            (key,),
        )
        while rows := cur.fetchmany(1024):
            for parent, child, coll in rows:
                yield int(parent), int(child), bool(coll)

    def has_locks(self) -> bool:
        row = self._c.execute(
            "SELECT 1 FROM locks WHERE expires > ? LIMIT 1", (time.time(),)
        ).fetchone()
        return row is not None

    def dead_props(self, key: int) -> list[DeadProp]:
        rows = self._c.execute(
            "SELECT name, xml FROM props WHERE key=? ORDER BY name", (key,)
        ).fetchall()
        return [DeadProp(n, x) for n, x in rows]

    def dead_props_of(self, keys: Sequence[int]) -> dict[int, list[DeadProp]]:
        out: dict[int, list[DeadProp]] = {}
        for i in range(0, len(keys), MEMBER_BATCH):
            part = keys[i : i + MEMBER_BATCH]
            marks = ",".join("?" * len(part))
            rows = self._c.execute(
                f"SELECT key, name, xml FROM props WHERE key IN ({marks}) ORDER BY key, name",
                part,
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
        self._grow()
        now = time.time()
        cur = self._c.execute(
            "INSERT INTO resources(rid, coll, digest, size, ctype, created, modified, owner) "
            "VALUES (?,?,?,?,?,?,?,(SELECT owner FROM resources WHERE key=?))",
            (f"urn:uuid:{uuid.uuid4()}", int(collection), digest, size, content_type, now,
             now if modified is None else modified, parent),
        )
        key = int(cur.lastrowid or 0)
        if digest is not None:
            self._retain(digest, size)
            self._track_fallback(key, None, digest)
        self._c.execute(
            "INSERT INTO bindings(parent, segment, child) VALUES (?,?,?)", (parent, segment, key)
        )
        self._membership_changed(parent)
        return self.get(key)

    def _require_collection(self, key: int) -> None:
        if not self.get(key).is_collection:
            raise NotACollection(str(key))

    def bind(self, parent: int, segment: str, child: int) -> None:
        self._require_collection(parent)
        self.get(child)
        self._grow()
        try:
            self._c.execute(
                "INSERT INTO bindings(parent, segment, child) VALUES (?,?,?)",
                (parent, segment, child),
            )
        except sqlite3.IntegrityError as exc:
            raise AlreadyExists(segment) from exc
        self._membership_changed(parent)

    def unbind(self, parent: int, segment: str) -> int:
        row = self._c.execute(
            "SELECT child FROM bindings WHERE parent=? AND segment=?", (parent, segment)
        ).fetchone()
        if row is None:
            raise NotFound(segment)
        child = int(row[0])
        self._c.execute("DELETE FROM bindings WHERE parent=? AND segment=?", (parent, segment))
        self._membership_changed(parent)
        self._collect(child)
        return child

    def replace(self, parent: int, segment: str, child: int) -> int:
        row = self._c.execute(
            "SELECT child FROM bindings WHERE parent=? AND segment=?", (parent, segment)
        ).fetchone()
        if row is None:
            raise NotFound(segment)
        old = int(row[0])
        self._c.execute(
            "UPDATE bindings SET child=? WHERE parent=? AND segment=?", (child, parent, segment)
        )
        self._membership_changed(parent)
        if old != child:
            self._collect(old)
        return old

    def reachable(self, key: int) -> bool:
        return key == self._root_key or self._root_key in self.ancestors(key)

    def store_blob(self, upload: Upload) -> tuple[str, int]:
        digest, size = upload.finish()
        self._grow()
        placed = self._blobs.commit(upload)
        if placed:
            self.placed.append(digest)
        if not self._blobs.durable and (placed or not self._known(digest)):
            # a file that no row knows (left by a rolled-back transaction) was never
            # flushed either
            self._c.execute(
                "INSERT OR IGNORE INTO unsynced(digest, since) VALUES (?,?)", (digest, time.time())
            )
            self.unsynced.append(digest)
        self._retain(digest, size)
        return digest, size

    def _known(self, digest: str) -> bool:
        row = self._c.execute("SELECT 1 FROM blobs WHERE digest=?", (digest,)).fetchone()
        return row is not None

    def store_inline(self, data: bytes) -> tuple[str, int]:
        if len(data) > INLINE_MAX:
            raise ValueError(f"{len(data)} bytes is more than inline content may hold")
        digest = hashlib.sha256(data).hexdigest()
        self._grow()
        if not self._known(digest):  # else the content is stored already, inline or as a file
            self._c.execute(
                "INSERT OR IGNORE INTO inline_blobs(digest, data) VALUES (?,?)", (digest, data)
            )
        self._retain(digest, len(data))
        return digest, len(data)

    def read_inline(self, digest: str) -> bytes | None:
        row = self._c.execute("SELECT data FROM inline_blobs WHERE digest=?", (digest,)).fetchone()
        return None if row is None else bytes(row[0])

    def set_content(
        self, key: int, digest: str | None, size: int, content_type: str | None,
        modified: float | None = None,
    ) -> Resource:
        old = self.get(key)
        if old.is_collection:
            raise NotACollection(f"{key} is a collection; it has no content")
        self._grow()
        self._c.execute(
            "UPDATE resources SET digest=?, size=?, ctype=?, version=version+1, cgen=cgen+1, "
            "modified=? "
            "WHERE key=?",
            (digest, size, content_type, time.time() if modified is None else modified, key),
        )
        if digest is not None:
            self._retain(digest, size)
        self._track_fallback(key, old, digest)
        if old.digest is not None and old.digest != digest:
            self._release_digests([old.digest])
        return self.get(key)

    def _track_fallback(self, key: int, old: Resource | None, digest: str | None) -> None:
        """Keep the last durable content of ``key`` (``old``, None for a new resource)
        while its content is unsynced; forget it once the content is durable again."""
        c = self._c
        if digest is not None and c.execute(
            "SELECT 1 FROM unsynced WHERE digest=?", (digest,)
        ).fetchone():
            # only the first change keeps its old content: by the invariant it is durable
            c.execute(
                "INSERT OR IGNORE INTO fallback(key, existed, digest, size, ctype) "
                "VALUES (?,?,?,?,?)",
                (key, 0, None, 0, None) if old is None
                else (key, 1, old.digest, old.size, old.content_type),
            )
            return
        if old is None:
            return  # a new resource has no fallback to forget
        row = c.execute("DELETE FROM fallback WHERE key=? RETURNING digest", (key,)).fetchone()
        if row is not None and row[0] is not None:
            self._release_digests([str(row[0])])


    def _changed(self, key: int) -> None:
        self._c.execute("UPDATE resources SET cgen=cgen+1 WHERE key=?", (key,))

    def set_dead_prop(self, key: int, prop: DeadProp) -> None:
        self._grow()
        self._changed(key)
        self._c.execute(
            "INSERT OR REPLACE INTO props(key, name, xml) VALUES (?,?,?)",
            (key, prop.name, prop.xml),
        )

    def remove_dead_prop(self, key: int, name: str) -> None:
        self._changed(key)
        self._c.execute("DELETE FROM props WHERE key=? AND name=?", (key, name))

    def copy_dead_props(self, source: int, target: int) -> None:
        if source == target:
            return
        self._grow()
        self._changed(target)
        self._c.execute("DELETE FROM props WHERE key=?", (target,))
        self._c.execute(
            "INSERT INTO props(key, name, xml) SELECT ?, name, xml FROM props WHERE key=?",
            (target, source),
        )

    # -- content found damaged (``storage.fsck``) ----------------------------------------

    def damage(self, digest: str) -> str | None:
        """Why ``digest`` was marked damaged by ``davbind fsck --mark``, or None."""
        try:
            row = self._c.execute(
                "SELECT reason FROM damaged WHERE digest=?", (digest,)
            ).fetchone()
        except sqlite3.OperationalError:  # a database opened full, before the table existed
            return None
        return None if row is None else str(row[0])

    def set_damage(self, marks: dict[str, str]) -> None:
        """Replace every mark with ``marks`` (digest -> reason)."""
        self._c.execute("DELETE FROM damaged")
        self._c.executemany("INSERT INTO damaged(digest, reason) VALUES (?,?)", marks.items())
        if marks:
            self._grow()

    def content_refs(self) -> Iterator[tuple[int, str, int]]:
        """(key, digest, size) of every resource with content, by key."""
        cur = self._c.execute(
            "SELECT key, digest, size FROM resources WHERE digest IS NOT NULL ORDER BY key"
        )
        while rows := cur.fetchmany(1024):
            for key, digest, size in rows:
                yield int(key), str(digest), int(size)

    # -- reclamation ---------------------------------------------------------------------

    def _retain(self, digest: str, size: int) -> None:
        """Content referenced again in this transaction (a copy of something this same
        transaction released) must not be deleted after commit."""
        self._c.execute("INSERT OR IGNORE INTO blobs(digest, size) VALUES (?,?)", (digest, size))
        self._c.execute("DELETE FROM blob_trash WHERE digest=?", (digest,))

    def _membership_changed(self, parent: int) -> None:
        self._c.execute(
            "UPDATE resources SET version=version+1, cgen=cgen+1, modified=? WHERE key=?",
            (time.time(), parent),
        )

    def _collect(self, start: int) -> None:
        """Delete what removing a binding to ``start`` left unreachable (decision A-27).

        Only ``start`` and its descendants can have lost their path from the root; of
        those, the ones still reachable are the ones reachable from a binding that comes
        from outside that set.
        """
        if self.reachable(start):
            return
        c = self._c
        c.execute("CREATE TEMP TABLE IF NOT EXISTS gc_d(k INTEGER PRIMARY KEY)")
        c.execute("DELETE FROM gc_d")
        c.execute(
            "WITH RECURSIVE down(k) AS (SELECT ? UNION SELECT b.child FROM bindings b "
            "JOIN down ON b.parent=down.k) INSERT INTO gc_d SELECT k FROM down",
            (start,),
        )
        c.execute("DELETE FROM gc_d WHERE k=?", (self._root_key,))  # the root always lives
        c.execute(
            "WITH RECURSIVE live(k) AS ("
            " SELECT DISTINCT b.child FROM bindings b JOIN gc_d d ON b.child=d.k"
            " WHERE b.parent NOT IN (SELECT k FROM gc_d)"
            " UNION SELECT b.child FROM bindings b JOIN live ON b.parent=live.k)"
            " DELETE FROM gc_d WHERE k IN (SELECT k FROM live)"
        )
        digests = [
            str(r[0])
            for r in c.execute(
                "SELECT DISTINCT r.digest FROM resources r JOIN gc_d d ON r.key=d.k "
                "WHERE r.digest IS NOT NULL"
            )
        ]
        digests += [
            str(r[0])
            for r in c.execute(
                "DELETE FROM fallback WHERE key IN (SELECT k FROM gc_d) RETURNING digest"
            )
            if r[0] is not None
        ]
        c.execute("DELETE FROM bindings WHERE parent IN (SELECT k FROM gc_d)")
        c.execute("DELETE FROM props WHERE key IN (SELECT k FROM gc_d)")
        c.execute("DELETE FROM locks WHERE key IN (SELECT k FROM gc_d)")
        c.execute("DELETE FROM resources WHERE key IN (SELECT k FROM gc_d)")
        c.execute("DELETE FROM gc_d")
        self._release_digests(digests)

    def _release_digests(self, digests: Iterable[str]) -> None:
        for digest in digests:
            used = self._c.execute(
                "SELECT 1 FROM resources WHERE digest=? UNION ALL "
                "SELECT 1 FROM fallback WHERE digest=? LIMIT 1", (digest, digest)
            ).fetchone()
            if used is None:
                self._c.execute("DELETE FROM blobs WHERE digest=?", (digest,))
                self._c.execute("DELETE FROM unsynced WHERE digest=?", (digest,))
                self._c.execute("INSERT OR IGNORE INTO blob_trash(digest) VALUES (?)", (digest,))
                self.trashed = True

    # -- content not yet known durable (module doc) -------------------------------------

    def unsynced_digests(self, before: float | None = None) -> list[str]:
        """Digests listed as unsynced (only those listed before ``before``, if given)."""
        if before is None:
            rows = self._c.execute("SELECT digest FROM unsynced")
        else:
            rows = self._c.execute("SELECT digest FROM unsynced WHERE since < ?", (before,))
        return [str(r[0]) for r in rows]

    def mark_synced(self, digests: Iterable[str]) -> None:
        """``digests`` are on disk: forget them, and the fallbacks that no longer guard
        anything (their resource's content is durable now), releasing what they kept."""
        c = self._c
        c.executemany("DELETE FROM unsynced WHERE digest=?", ((d,) for d in digests))
        released = c.execute(
            "DELETE FROM fallback WHERE key IN (SELECT r.key FROM resources r "
            "WHERE r.digest IS NULL OR r.digest NOT IN (SELECT digest FROM unsynced)) "
            "RETURNING digest"
        ).fetchall()
        self._release_digests(str(d) for (d,) in released if d is not None)

    def roll_back_unsynced(self, digest: str) -> int:
        """The content ``digest`` was lost (a crash before it reached the disk): every
        resource showing it gets its last durable content back, and one created since
        is unbound everywhere, as if the writes since had not happened.  Returns the
        number of resources changed."""
        c = self._c
        keys = [int(r[0]) for r in c.execute("SELECT key FROM resources WHERE digest=?", (digest,))]
        for key in keys:
            row = c.execute(
                "DELETE FROM fallback WHERE key=? RETURNING existed, digest, size, ctype", (key,)
            ).fetchone()
            if row is not None and row[0]:
                c.execute(
                    "UPDATE resources SET digest=?, size=?, ctype=?, version=version+1, "
                    "cgen=cgen+1, modified=? WHERE key=?",
                    (row[1], row[2], row[3], time.time(), key),
                )
                continue
            for parent, segment in self.parents(key):
                c.execute("DELETE FROM bindings WHERE parent=? AND segment=?", (parent, segment))
                self._membership_changed(parent)
            self._collect(key)
        c.execute("DELETE FROM unsynced WHERE digest=?", (digest,))
        self._release_digests([digest])
        return len(keys)
