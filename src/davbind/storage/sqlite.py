"""SQLite metadata store (``sqlite:///path``), the embedded default.

Resources, bindings, dead properties, locks and blob references in one WAL-mode database,
so several server processes can share it.  Readers get a snapshot; writers take the
database write lock up front (``BEGIN IMMEDIATE``), so a check-then-change is atomic.
What one transaction reads and writes is ``sqlite_txn.SqliteTxn``; this module holds the
schema, the connection pool, the generation, and the trash: blob files and inline
contents whose last reference went away are deleted only after commit, under the write
lock, so a concurrent upload of the same content can never lose them, and only once
the commits that released them are on disk.

With a blob store that is not ``durable`` (the ``standard`` durability) the store also
runs the process's ``Flusher`` after commits that listed new unsynced content, and
``recover`` (part of the start-up ``sweep``) re-hashes what a crash left unsynced and
rolls back what lost its bytes (``sqlite_txn`` module doc).  A ``durable`` blob store
gets ``synchronous=FULL``: every commit is on disk when it returns.

A full disk (``storage.space``): the store keeps a space reserve next to the database
and, while the disk is full, commits only transactions that remove things; a commit that
fails for lack of space is rolled back whole and raised as ``StorageFull``.  Work after a
commit (emptying the trash) never fails the commit: its errors are logged and it is
retried after the next commit.  A rollback is only attempted while a transaction is
open (SQLite rolls back by itself after ``SQLITE_FULL``), and its own failure is logged,
so the error that caused it is the one raised.

A directory that cannot be written (a read-only mount) opens the store read-only:
reads work, every write raises ``ReadOnlyStore``.  SQLite cannot open a WAL database
read-only without its shared-memory file, so such a database is opened ``immutable``
when no log is left to replay; with a non-empty log it is refused (``ReadOnlyStore``).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from davbind.storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from davbind.storage.flusher import Flusher
from davbind.storage.grants import OWNERS_FROM_HOMES, QUOTA_MESSAGE, quota_error
from davbind.storage.interface import BlobStore
from davbind.storage.model import ReadOnlyStore, StorageFull
from davbind.storage.recovery import recover
from davbind.storage.space import Reserve, is_full, writable
from davbind.storage.sqlite_accounts import TOKEN_SECRET_KEY, new_token_key
from davbind.storage.sqlite_txn import SqliteTxn

log = logging.getLogger("davbind.storage")

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources(
  key INTEGER PRIMARY KEY AUTOINCREMENT, rid TEXT NOT NULL UNIQUE, coll INTEGER NOT NULL,
  digest TEXT, size INTEGER NOT NULL DEFAULT 0, ctype TEXT,
  version INTEGER NOT NULL DEFAULT 1, created REAL NOT NULL, modified REAL NOT NULL,
  cgen INTEGER NOT NULL DEFAULT 0, owner TEXT);
CREATE INDEX IF NOT EXISTS resources_digest ON resources(digest) WHERE digest IS NOT NULL;
CREATE TABLE IF NOT EXISTS bindings(
  parent INTEGER NOT NULL, segment TEXT NOT NULL, child INTEGER NOT NULL,
  PRIMARY KEY(parent, segment)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bindings_child ON bindings(child, parent);
CREATE TABLE IF NOT EXISTS props(
  key INTEGER NOT NULL, name TEXT NOT NULL, xml TEXT NOT NULL,
  PRIMARY KEY(key, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS locks(
  token TEXT PRIMARY KEY, key INTEGER NOT NULL, root TEXT NOT NULL, infinite INTEGER NOT NULL,
  exclusive INTEGER NOT NULL, owner TEXT, principal TEXT, timeout INTEGER NOT NULL,
  expires REAL NOT NULL);
CREATE INDEX IF NOT EXISTS locks_key ON locks(key);
CREATE INDEX IF NOT EXISTS locks_root ON locks(root);
CREATE TABLE IF NOT EXISTS blobs(digest TEXT PRIMARY KEY, size INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS blob_trash(digest TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS inline_blobs(digest TEXT PRIMARY KEY, data BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta(k TEXT PRIMARY KEY, v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS unsynced(digest TEXT PRIMARY KEY, since REAL NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS fallback(
  key INTEGER PRIMARY KEY, existed INTEGER NOT NULL, digest TEXT, size INTEGER NOT NULL,
  ctype TEXT);
CREATE INDEX IF NOT EXISTS fallback_digest ON fallback(digest) WHERE digest IS NOT NULL;
CREATE TABLE IF NOT EXISTS damaged(digest TEXT PRIMARY KEY, reason TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS users(
  name TEXT PRIMARY KEY, pwhash TEXT NOT NULL, created REAL NOT NULL, changed REAL NOT NULL
  ) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tokens(
  id TEXT PRIMARY KEY, user TEXT NOT NULL, label TEXT NOT NULL, scope TEXT NOT NULL,
  digest TEXT NOT NULL UNIQUE, created REAL NOT NULL);
CREATE INDEX IF NOT EXISTS tokens_user ON tokens(user);
CREATE TABLE IF NOT EXISTS grants(
  key INTEGER NOT NULL, principal TEXT NOT NULL, privs INTEGER NOT NULL,
  PRIMARY KEY(key, principal)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS grants_principal ON grants(principal);
CREATE TABLE IF NOT EXISTS quotas(name TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage(name TEXT PRIMARY KEY, bytes INTEGER NOT NULL) WITHOUT ROWID;
"""

OWNERSHIP_TRIGGERS = f"""
CREATE TRIGGER IF NOT EXISTS resources_usage_ins AFTER INSERT ON resources
 WHEN new.owner IS NOT NULL AND new.size <> 0 BEGIN
  INSERT INTO usage(name, bytes) VALUES (new.owner, new.size)
   ON CONFLICT(name) DO UPDATE SET bytes = bytes + excluded.bytes;
 END;
CREATE TRIGGER IF NOT EXISTS resources_usage_del AFTER DELETE ON resources
 WHEN old.owner IS NOT NULL AND old.size <> 0 BEGIN
  UPDATE usage SET bytes = bytes - old.size WHERE name = old.owner;
 END;
CREATE TRIGGER IF NOT EXISTS resources_usage_upd AFTER UPDATE OF size, owner ON resources
 WHEN old.owner IS NOT new.owner OR old.size <> new.size BEGIN
  UPDATE usage SET bytes = bytes - old.size WHERE name = old.owner;
  INSERT INTO usage(name, bytes) SELECT new.owner, new.size WHERE new.owner IS NOT NULL
   ON CONFLICT(name) DO UPDATE SET bytes = bytes + excluded.bytes;
 END;
CREATE TRIGGER IF NOT EXISTS resources_grants_del AFTER DELETE ON resources BEGIN
  DELETE FROM grants WHERE key = old.key;
 END;
CREATE TRIGGER IF NOT EXISTS usage_quota_ins AFTER INSERT ON usage
 WHEN new.bytes > (SELECT bytes FROM quotas WHERE name = new.name) BEGIN
  SELECT RAISE(ABORT, '{QUOTA_MESSAGE}');
 END;
CREATE TRIGGER IF NOT EXISTS usage_quota_upd AFTER UPDATE OF bytes ON usage
 WHEN new.bytes > old.bytes AND new.bytes > (SELECT bytes FROM quotas WHERE name = new.name)
 BEGIN
  SELECT RAISE(ABORT, '{QUOTA_MESSAGE}');
 END;
"""
"""Usage, quota and grant bookkeeping (``storage.grants``), made after ``owner`` exists."""

SCHEMA_VERSION = 4
"""``PRAGMA user_version`` of the schema above.  1 (or 0: made before versions were
recorded) had render-cache columns in ``resources`` and a trigger keeping them, which
``_migrate`` drops; 3 added the accounts (``users``, ``tokens`` and the app-password
key in ``meta``, ``storage.accounts``), which ``_migrate`` gives its key; 4 added
ownership, grants and quotas (``storage.grants``): ``_migrate`` gives each user what is
reachable from their home.  A database
of a newer version is refused, never half-understood.  The ``damaged`` table (content
found damaged by ``davbind fsck --mark``) came without a version change: an older
davbind ignores it, and a database without it reads as having no marks."""


class SchemaTooNew(RuntimeError):
    """The database was made by a newer davbind."""


def _migrate(conn: sqlite3.Connection) -> None:
    """Bring an older database to ``SCHEMA_VERSION`` (under the write lock)."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise SchemaTooNew(
            f"the database has schema version {version}; this davbind knows up to "
            f"{SCHEMA_VERSION}: upgrade davbind"
        )
    if version == SCHEMA_VERSION:
        return
    if version < 2:
        conn.execute("DROP TRIGGER IF EXISTS resources_mgen")
        columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(resources)")}
        for column in ("cache", "cache_gen", "mgen"):
            if column in columns:
                conn.execute(f"ALTER TABLE resources DROP COLUMN {column}")
    if version < 3:  # the tables came with SCHEMA; the key is made once, here
        conn.execute(
            "INSERT OR IGNORE INTO meta(k, v) VALUES (?, ?)", (TOKEN_SECRET_KEY, new_token_key())
        )
    if version < 4:
        conn.execute(OWNERS_FROM_HOMES)
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is still open (after ``SQLITE_FULL`` SQLite has rolled
    back already); a failing rollback is logged, never raised over the error that led
    here."""
    if not conn.in_transaction:
        return
    try:
        conn.execute("ROLLBACK")
    except sqlite3.Error:
        log.exception("rollback failed")


class SqliteMetadataStore:
    """``MetadataStore`` over one SQLite file, with a small connection pool."""

    def __init__(self, path: Path, blobs: BlobStore) -> None:
        self.path = path
        self.blobs = blobs
        self._idle: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._watcher: sqlite3.Connection | None = None
        self._synchronous = "FULL" if blobs.durable else "NORMAL"
        self.read_only = not writable(path.parent)
        self._uri = f"file:{path}"
        self.reserve = Reserve(path.parent)
        self._trash_left = False  # a trash run after a commit failed: retry it
        self._flusher = None if blobs.durable or self.read_only else Flusher(
            blobs, self._mark_synced, self._stale_unsynced
        )
        self._checkpointer = Checkpointer(self._connect)
        if self.read_only:
            self.root_key = self._open_read_only()
            return
        self.reserve.prepare_open()  # opening creates the log files: give the reserve if needed
        try:
            conn, self.root_key = self._open_writable()
        except StorageFull:
            if not self.reserve.release_for_open():
                raise
            conn, self.root_key = self._open_writable()  # once: the room is all there is
        self._idle.append(conn)

    def _open_writable(self) -> tuple[sqlite3.Connection, int]:
        """Open the database in WAL mode with its schema; a lack of space (even for the
        ``-shm`` file) is ``StorageFull`` and releases the reserve."""
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            conn.execute("PRAGMA journal_mode=WAL")
            return conn, self._init_schema(conn)
        except BaseException as exc:
            if conn is not None:
                conn.close()
            if is_full(exc):
                self.reserve.release("opening the database")
                raise StorageFull(f"no space left to open {self.path}: {exc}") from exc
            raise

    def _init_schema(self, conn: sqlite3.Connection) -> int:
        """Create or migrate the schema and the root; returns the root's key."""
        conn.executescript(SCHEMA)
        columns = {str(r[1]) for r in conn.execute("PRAGMA table_info(resources)")}
        if "owner" not in columns:  # made before schema 4
            try:
                conn.execute("ALTER TABLE resources ADD COLUMN owner TEXT")
            except sqlite3.OperationalError as exc:  # another process added it meanwhile
                if "duplicate column" not in str(exc):
                    raise
        conn.executescript(OWNERSHIP_TRIGGERS)
        conn.execute("BEGIN IMMEDIATE")
        try:
            _migrate(conn)
            row = conn.execute("SELECT v FROM meta WHERE k='root'").fetchone()
            if row is None:
                now = time.time()
                cur = conn.execute(
                    "INSERT INTO resources(rid, coll, created, modified) VALUES (?,1,?,?)",
                    (f"urn:uuid:{uuid.uuid4()}", now, now),
                )
                root_key = int(cur.lastrowid or 0)
                conn.execute("INSERT INTO meta(k, v) VALUES ('root', ?)", (str(root_key),))
            else:
                root_key = int(row[0])
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return root_key

    def _open_read_only(self) -> int:
        """Open a database whose directory cannot be written (module doc)."""
        wal = Path(f"{self.path}-wal")
        if not Path(f"{self.path}-shm").exists():
            if wal.exists() and wal.stat().st_size > 0:
                raise ReadOnlyStore(
                    f"{self.path} is on a read-only file system with an unreplayed log "
                    f"({wal.name}): serve it once writable to fold the log in"
                )
            self._uri += "?mode=ro&immutable=1"
        else:
            self._uri += "?mode=ro"
        if not self.path.exists():
            raise ReadOnlyStore(f"{self.path} does not exist and its directory is read-only")
        conn = self._connect()
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version != SCHEMA_VERSION:
                raise ReadOnlyStore(
                    f"{self.path} has schema version {version}, this davbind needs "
                    f"{SCHEMA_VERSION}: it cannot be migrated while read-only"
                )
            row = conn.execute("SELECT v FROM meta WHERE k='root'").fetchone()
        except BaseException:
            conn.close()
            raise
        if row is None:
            conn.close()
            raise ReadOnlyStore(f"{self.path} has no root collection and is read-only")
        self._idle.append(conn)
        log.warning("%s is read-only: serving reads, refusing writes", self.path.parent)
        return int(row[0])

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self._uri, uri=True, isolation_level=None, check_same_thread=False, timeout=30.0
        )
        try:  # the first statement opens the files, so it is where a full disk shows
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            conn.execute("PRAGMA foreign_keys=OFF")
        except BaseException:
            conn.close()
            raise
        return conn

    def generation(self) -> int:
        """``PRAGMA data_version`` on a connection that never writes: it changes after a
        commit by any other connection, this process's included (SQLite §pragma
        data_version).  Costs a few microseconds, no file access beyond the WAL index."""
        watcher = self._watcher
        if watcher is None:
            watcher = self._watcher = self._connect()
        return int(watcher.execute("PRAGMA data_version").fetchone()[0])

    def _acquire(self) -> sqlite3.Connection:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return self._connect()

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._lock:
            if len(self._idle) < 16:
                self._idle.append(conn)
                return
        conn.close()

    @contextmanager
    def read(self) -> Iterator[SqliteTxn]:
        conn = self._acquire()
        try:
            conn.execute("BEGIN")
            yield SqliteTxn(conn, self.root_key, self.blobs)
        finally:
            _rollback(conn)
            self._release(conn)

    @contextmanager
    def write(self) -> Iterator[SqliteTxn]:
        if self.read_only:
            raise ReadOnlyStore(f"{self.path.parent} is read-only: no change can be stored")
        full = self.reserve.check()
        conn = self._acquire()
        txn = SqliteTxn(conn, self.root_key, self.blobs, full)
        try:
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield txn
                if full and txn.grew:
                    raise StorageFull(
                        "the disk is full: only deletions are accepted until space is freed"
                    )
                conn.execute("COMMIT")
            except BaseException as exc:
                _rollback(conn)
                if txn.placed:
                    self._drop_placed(conn, txn.placed)
                over = quota_error(exc) if isinstance(exc, sqlite3.IntegrityError) else None
                if over is not None:
                    raise over from exc
                if is_full(exc) and not isinstance(exc, StorageFull):
                    self.reserve.release(f"a commit failed: {exc}")
                    log.warning("a write failed for lack of space: %s", exc)
                    raise StorageFull(f"no space left on the storage device: {exc}") from exc
                raise
            if txn.trashed or self._trash_left:
                self._empty_trash_after_commit(conn)
        finally:
            self._release(conn)
        self._checkpointer.wrote()
        if txn.unsynced and self._flusher is not None:
            self._flusher.submit(txn.unsynced)

    def _drop_placed(self, conn: sqlite3.Connection, digests: list[str]) -> None:
        """A transaction that put blob files in place did not commit: delete those no row
        refers to (under the write lock: a concurrent upload of the same content may have
        committed a reference meanwhile), so a failed write leaves no file behind."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for digest in digests:
                    if conn.execute("SELECT 1 FROM blobs WHERE digest=?", (digest,)).fetchone():
                        continue
                    self.blobs.delete(digest)
            finally:
                _rollback(conn)
        except Exception:
            log.exception("removing the content of a failed write (left to the next start)")

    def _empty_trash_after_commit(self, conn: sqlite3.Connection) -> None:
        """The commit stands whatever happens here: a failure is logged, and the trash is
        emptied again after the next commit (or at start-up, ``sweep``)."""
        try:
            self._empty_trash(conn)
            self._trash_left = False
        except Exception:
            self._trash_left = True
            log.exception("releasing content after a commit failed (retried later)")

    def _mark_synced(self, digests: list[str]) -> None:
        with self.write() as txn:
            txn.mark_synced(digests)

    def _stale_unsynced(self, before: float) -> list[str]:
        with self.read() as txn:
            return txn.unsynced_digests(before)

    def flush_blobs(self, timeout: float | None = None) -> bool:
        """Wait until the content committed so far by this process is on disk."""
        return True if self._flusher is None else self._flusher.drain(timeout)

    def _sync_wal(self) -> None:
        """Make every commit so far durable (fsync of the write-ahead log, which SQLite
        replays on open): blob files are deleted only after the commits that stopped
        referring to them, or a power loss could bring back a reference to nothing."""
        if self._synchronous == "FULL":
            return  # each commit was synced already
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _has_file(self, digest: str) -> bool:
        """Whether ``digest`` may be held by the blob store (a store without local paths
        is asked to delete every released digest)."""
        path = self.blobs.path(digest)
        return path is None or path.exists()

    def _empty_trash(self, conn: sqlite3.Connection) -> None:
        """Delete content nobody references, blob files and inline rows alike, under the
        write lock (see module doc)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            rows = conn.execute(
                "SELECT t.digest FROM blob_trash t WHERE NOT EXISTS "
                "(SELECT 1 FROM blobs b WHERE b.digest=t.digest)"
            ).fetchall()
            # inline content goes with its row, in this transaction: only files need the
            # log on disk first (a small overwrite would otherwise fsync every time)
            files = [str(d) for (d,) in rows if self._has_file(str(d))]
            if files:
                self._sync_wal()
            for digest in files:
                self.blobs.delete(digest)
            conn.execute(
                "DELETE FROM inline_blobs WHERE digest IN (SELECT digest FROM blob_trash) "
                "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest=inline_blobs.digest)"
            )
            conn.execute("DELETE FROM blob_trash")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def recover(self) -> tuple[int, int]:
        """After a crash: re-hash what is still unsynced, keep what is complete, roll
        back what was lost (``storage.recovery``).  Returns (kept, rolled back)."""
        return recover(self)

    def sweep(self) -> int:
        """Startup hygiene (no other process may be writing): recover unsynced content
        (``recover``), finish interrupted trash runs and delete blob files no row refers
        to (left by a crash or a rollback between ``store_blob`` and commit).  Returns
        the number of orphans removed."""
        self.recover()
        conn = self._acquire()
        try:
            self._empty_trash(conn)
            known = {str(r[0]) for r in conn.execute("SELECT digest FROM blobs")}
            orphans = [d for d in self.blobs.digests() if d not in known]
            for digest in orphans:
                self.blobs.delete(digest)
            return len(orphans)
        finally:
            self._release(conn)

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.close()
        self._checkpointer.close()
        with self._lock:
            if self._watcher is not None:
                self._watcher.close()
                self._watcher = None
            for conn in self._idle:
                conn.close()
            self._idle.clear()
