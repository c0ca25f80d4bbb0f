"""PostgreSQL metadata store (``postgresql://user@host/db``), for several machines.

Everything the SQLite store keeps (resources, bindings, dead properties, locks, blob
references, unsynced/fallback bookkeeping, damage marks, the trash) lives in one
PostgreSQL database shared by every server process, on any machine; the schema and its
migrations are ``postgres_schema``, one transaction's queries ``postgres_txn``.

Transactions: a reader gets ``REPEATABLE READ READ ONLY`` (one snapshot for the whole
request).  A writer first takes a transaction-scoped advisory lock
(``pg_advisory_xact_lock``), held until commit or rollback: write transactions of every
process are serial, as with SQLite's ``BEGIN IMMEDIATE``, so a check-then-change (a
cycle check, the reachability walk of garbage collection, "does this segment exist")
sees no other writer's half-done work, and ``READ COMMITTED`` suffices inside it.

The generation (``generation``) is a one-row counter bumped by every write transaction
just before it commits: it changes whenever some process committed a change a read can
see, at the cost of one indexed read per call.  Bookkeeping that no read shows (the
flusher marking content durable, emptying the trash) commits without a bump, so it
does not invalidate every cache of every node.

The trash is emptied after commit, in a write transaction of its own (so under the
writer lock: a concurrent upload of the same content either committed its reference
first, and the content stays, or places its file after the delete).  PostgreSQL's
commit is durable on return (``synchronous_commit`` on), so no log needs syncing before
blob files are deleted.  A blob store that is not ``durable`` gets the same background
flusher and crash recovery (``recover``) as with SQLite.

Faults: a lost connection (the server restarting or unreachable) or a pool that has no
connection to give within ``POOL_WAIT`` seconds (``DOWN_WAIT`` once that happened, until
a connection is had again) is ``Unavailable`` (the server answers
503 with ``Retry-After``); the open transaction dies with the connection, so nothing of
it is kept.  A connection the pool kept across a server restart is dead: that shows at
its first statement (``BEGIN``, which changes nothing), so it is dropped, the pool
checks its other idle connections, and the transaction starts again on a fresh one.
New connections are made by the pool in the background as the server comes back: no
restart of davbind is needed, and no request pays a liveness round trip.

Local-only parts of the SQLite store are absent here: the full-disk reserve
(``storage.space``; a server whose disk is full answers ``disk_full``, raised as
``StorageFull``), read-only opening, and WAL checkpoints.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from davbind.storage.flusher import Flusher
from davbind.storage.grants import quota_error
from davbind.storage.interface import BlobStore
from davbind.storage.model import StorageError, StorageFull, Unavailable
from davbind.storage.postgres_schema import WRITER_LOCK, migrate
from davbind.storage.postgres_txn import PostgresTxn
from davbind.storage.recovery import recover

log = logging.getLogger("davbind.storage")

Conn = psycopg.Connection[tuple[Any, ...]]

POOL_MAX = 16
"""Connections per process at most: the server's reader pool plus its writer thread,
with room for the flusher and the generation checks."""
POOL_WAIT = 5.0
"""Seconds a transaction waits for a pooled connection before it is ``Unavailable``:
while the server is down the pool has none, and a request must not hang."""
DOWN_WAIT = 0.5
"""The wait instead of ``POOL_WAIT`` once a wait found no connection: the pool keeps
reconnecting in the background, and requests meanwhile fail fast."""
CONNECT_TIMEOUT = 5
"""Seconds one connection attempt may take (an unreachable host, not a refusal)."""


def _redacted(url: str) -> str:
    """``url`` without its password, for messages."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "the metadata URL"
    host, db = info.get("host", "localhost"), info.get("dbname", "")
    return f"postgresql://{info.get('user', '')}@{host}:{info.get('port', 5432)}/{db}"


class PostgresMetadataStore:
    """``MetadataStore`` over one PostgreSQL database, with a connection pool."""

    read_only = False

    def __init__(self, url: str, blobs: BlobStore) -> None:
        self.url = url
        self.blobs = blobs
        self._trash_left = False
        self._down = False  # the server is taken for down (``_getconn``)
        self._in_use = 0  # connections this process holds
        self._count_lock = threading.Lock()
        try:
            # one direct connection first: an unreachable server fails at once, with the
            # driver's reason rather than the pool's timeout
            with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
                self.root_key = migrate(conn)
        except psycopg.Error as exc:
            raise StorageError(f"cannot open {_redacted(url)}: {exc}") from exc
        self._pool: ConnectionPool[Conn] = ConnectionPool(
            url, min_size=1, max_size=POOL_MAX, timeout=POOL_WAIT, open=True,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT},
            name="davbind-metadata",
        )
        self._flusher = None if blobs.durable else Flusher(
            blobs, self._mark_synced, self._stale_unsynced
        )

    @contextmanager
    def _connection(self, begin: Callable[[Conn], None]) -> Iterator[Conn]:
        """A pooled connection on which ``begin`` (the first statements of a
        transaction) succeeded; retried once on a fresh connection when the pooled one
        turns out dead (module doc).  Connection faults in the body are ``Unavailable``."""
        with _database_errors():
            conn = self._live_connection(begin)
            try:
                yield conn
            finally:
                self._putconn(conn)

    def _live_connection(self, begin: Callable[[Conn], None]) -> Conn:
        for attempt in (1, 2):
            conn = self._getconn()
            try:
                begin(conn)
                return conn
            except psycopg.OperationalError:
                broken = conn.broken
                self._putconn(conn)
                if not broken or attempt == 2:
                    raise
                log.warning("a pooled database connection was lost: checking the others")
                self._pool.check()
        raise AssertionError("unreachable")

    def _getconn(self) -> Conn:
        """A connection from the pool, waiting ``POOL_WAIT`` seconds at most, or only
        ``DOWN_WAIT`` while the server is taken for down: a wait found no connection
        while this process held none (so not a pool merely busy under load); every
        request then fails fast until the pool has a connection again."""
        wait = DOWN_WAIT if self._down else POOL_WAIT
        try:
            conn = self._pool.getconn(timeout=wait)
        except PoolTimeout:
            with self._count_lock:
                self._down = self._in_use == 0
            raise
        with self._count_lock:
            self._in_use += 1
            self._down = False
        return conn

    def _putconn(self, conn: Conn) -> None:
        with self._count_lock:
            self._in_use -= 1
        self._pool.putconn(conn)  # a broken one is discarded, not kept

    def generation(self) -> int:
        """The write counter (module doc); one round trip to the server."""
        rows: list[tuple[Any, ...]] = []

        def select(conn: Conn) -> None:
            rows.extend(conn.execute("SELECT n FROM generation"))

        with self._connection(select):
            pass
        return int(rows[0][0])

    @contextmanager
    def read(self) -> Iterator[PostgresTxn]:
        with self._connection(_begin_read) as conn:
            try:
                yield PostgresTxn(conn, self.root_key, self.blobs)
            finally:
                _rollback(conn)

    def write(self) -> AbstractContextManager[PostgresTxn]:
        return self._write(visible=True)

    @contextmanager
    def _write(self, *, visible: bool) -> Iterator[PostgresTxn]:
        """A write transaction; ``visible``: it may change what a read returns, so it
        bumps the generation (bookkeeping of the flusher does not)."""
        with self._connection(_begin_write) as conn:
            txn = PostgresTxn(conn, self.root_key, self.blobs)
            try:
                yield txn
                if visible:
                    conn.execute("UPDATE generation SET n = n + 1")
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                if txn.placed:
                    self._drop_placed(conn, txn.placed)
                raise
            if txn.trashed or self._trash_left:
                self._empty_trash_after_commit(conn)
        if txn.unsynced and self._flusher is not None:
            self._flusher.submit(txn.unsynced)

    def _drop_placed(self, conn: Conn, digests: list[str]) -> None:
        """A transaction that put blob files in place did not commit: delete those no row
        refers to (under the writer lock: another process may have committed a reference
        to the same content meanwhile)."""
        if conn.broken:  # the database is gone: the start-up sweep removes them
            log.warning("content of a failed write left for the next start-up sweep")
            return
        try:
            _begin_write(conn)
            try:
                known = {
                    str(r[0]) for r in conn.execute(
                        "SELECT digest FROM blobs WHERE digest = ANY(%s)", (digests,)
                    )
                }
                for digest in digests:
                    if digest not in known:
                        self.blobs.delete(digest)
            finally:
                _rollback(conn)
        except Exception:
            log.exception("removing the content of a failed write (left to the next start)")

    def _empty_trash_after_commit(self, conn: Conn) -> None:
        """The commit stands whatever happens here: a failure is logged, and the trash is
        emptied again after the next commit (or at start-up, ``sweep``)."""
        try:
            self._empty_trash(conn)
            self._trash_left = False
        except Exception:
            self._trash_left = True
            log.exception("releasing content after a commit failed (retried later)")

    def _has_file(self, digest: str) -> bool:
        """Whether ``digest`` may be held by the blob store (a store without local paths
        is asked to delete every released digest)."""
        path = self.blobs.path(digest)
        return path is None or path.exists()

    def _empty_trash(self, conn: Conn) -> None:
        """Delete content nobody references, blob files and inline rows alike, under the
        writer lock (module doc)."""
        _begin_write(conn)
        try:
            rows = conn.execute(
                "SELECT t.digest FROM blob_trash t WHERE NOT EXISTS "
                "(SELECT 1 FROM blobs b WHERE b.digest = t.digest)"
            ).fetchall()
            for (digest,) in rows:
                if self._has_file(str(digest)):
                    self.blobs.delete(str(digest))
            conn.execute(
                "DELETE FROM inline_blobs WHERE digest IN (SELECT digest FROM blob_trash) "
                "AND NOT EXISTS (SELECT 1 FROM blobs b WHERE b.digest = inline_blobs.digest)"
            )
            conn.execute("DELETE FROM blob_trash")
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def _mark_synced(self, digests: list[str]) -> None:
        with self._write(visible=False) as txn:
            txn.mark_synced(digests)

    def _stale_unsynced(self, before: float) -> list[str]:
        with self.read() as txn:
            return txn.unsynced_digests(before)

    def flush_blobs(self, timeout: float | None = None) -> bool:
        """Wait until the content committed so far by this process is on disk."""
        return True if self._flusher is None else self._flusher.drain(timeout)

    def recover(self) -> tuple[int, int]:
        """After a crash: re-hash what is still unsynced, keep what is complete, roll
        back what was lost (``storage.recovery``).  Returns (kept, rolled back)."""
        return recover(self)

    def sweep(self) -> int:
        """Start-up hygiene: recover unsynced content, finish interrupted trash runs,
        delete stored content no row refers to, then the object store's own leftovers
        (``sweep_data``: uploads that were never committed, old enough that no server
        sharing the bucket can still be committing them).

        Content is listed without the writer lock (a large bucket takes long to list and
        every server's writes would wait), then checked and deleted under it: content is
        put in place only inside a write transaction, so a listed digest that no row
        names while this holds the lock belongs to no open transaction of any server,
        and one committed since the listing is named.  An unreachable object store skips
        the clean-up with a warning (the next start does it).  Returns the orphans
        removed."""
        self.recover()
        try:
            orphans = self._sweep_content()
        except Unavailable as exc:
            log.warning("start-up clean-up of stored content skipped: %s", exc)
            return 0
        sweep_data = getattr(self.blobs, "sweep_data", None)
        if sweep_data is not None:
            try:
                dropped = sweep_data()
            except Unavailable as exc:
                log.warning("start-up sweep of unfinished uploads skipped: %s", exc)
            else:
                if dropped:
                    log.info("deleted %d upload(s) that were never committed", dropped)
        return len(orphans)

    def _sweep_content(self) -> list[str]:
        listed = list(self.blobs.digests())
        with self._connection(_nothing) as conn:
            self._empty_trash(conn)
            _begin_write(conn)
            try:
                known = {
                    str(r[0])
                    for r in conn.execute(
                        "SELECT digest FROM blobs WHERE digest = ANY(%s)", (listed,)
                    )
                }
                orphans = [d for d in listed if d not in known]
                for digest in orphans:
                    self.blobs.delete(digest)
            finally:
                _rollback(conn)
        return orphans

    def close(self) -> None:
        if self._flusher is not None:
            self._flusher.close()
        self._pool.close()


@contextmanager
def _database_errors() -> Iterator[None]:
    """A full disk on the server is ``StorageFull``; a lost connection, a server that
    cannot be reached or a pool with no connection to give is ``Unavailable``; a quota
    trigger's refusal is ``QuotaExceeded`` (``storage.grants``)."""
    try:
        yield
    except psycopg.IntegrityError as exc:
        over = quota_error(exc)
        if over is not None:
            raise over from exc
        raise
    except psycopg.errors.DiskFull as exc:
        raise StorageFull(f"the database server is out of space: {exc}") from exc
    except psycopg.OperationalError as exc:
        log.warning("metadata database unavailable: %s", str(exc).split("\n")[0])
        raise Unavailable("the metadata database is unavailable") from exc


def _nothing(conn: Conn) -> None:
    """No first statement (a liveness failure then shows at the caller's own)."""


def _begin_read(conn: Conn) -> None:
    """One snapshot for the whole read (module doc)."""
    conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")


def _begin_write(conn: Conn) -> None:
    """Open a write transaction: serial across every process (module doc)."""
    conn.execute("BEGIN")
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))


def _rollback(conn: Conn) -> None:
    """Roll back if a transaction is open; a failing rollback (a lost connection) is
    logged, never raised over the error that led here."""
    if conn.broken or conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
        return
    try:
        conn.execute("ROLLBACK")
    except psycopg.Error:
        log.exception("rollback failed")
