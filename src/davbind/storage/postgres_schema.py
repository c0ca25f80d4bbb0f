"""The PostgreSQL metadata store's schema and its versioned migrations.

The tables are those of the SQLite store (``storage.sqlite``), typed for PostgreSQL:
keys are ``bigint`` identities (never reused, like SQLite's AUTOINCREMENT), times are
``double precision`` seconds, content is ``bytea``, and a collection flag is a boolean.
Two additions: ``schema_version`` (one row per applied migration) and ``generation``
(one row, bumped by every write transaction: ``PostgresMetadataStore.generation``).

Migrations run at start, in one transaction under the store's writer lock, so several
processes starting together apply each one once.  A database with a version newer than
``MIGRATIONS`` knows is refused (``SchemaTooNew``): it is never half-understood.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg

from davbind.storage.postgres_accounts import accounts_migration
from davbind.storage.postgres_grants import grants_migration
from davbind.storage.sqlite import SchemaTooNew

WRITER_LOCK = 0x64617662  # "davb": the advisory lock every write transaction takes
"""Key of the transaction-scoped advisory lock that serialises write transactions of
every process sharing the database (advisory locks are per database, so two stores in
two databases of one server do not contend)."""

_V1 = """
CREATE TABLE resources(
  key bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, rid text NOT NULL UNIQUE,
  coll boolean NOT NULL, digest text, size bigint NOT NULL DEFAULT 0, ctype text,
  version bigint NOT NULL DEFAULT 1, created double precision NOT NULL,
  modified double precision NOT NULL, cgen bigint NOT NULL DEFAULT 0);
CREATE INDEX resources_digest ON resources(digest) WHERE digest IS NOT NULL;
CREATE TABLE bindings(
  parent bigint NOT NULL, segment text COLLATE "C" NOT NULL, child bigint NOT NULL,
  PRIMARY KEY(parent, segment));
CREATE INDEX bindings_child ON bindings(child, parent);
CREATE TABLE props(
  key bigint NOT NULL, name text COLLATE "C" NOT NULL, xml text NOT NULL,
  PRIMARY KEY(key, name));
CREATE TABLE locks(
  token text PRIMARY KEY, key bigint NOT NULL, root text COLLATE "C" NOT NULL,
  infinite boolean NOT NULL, exclusive boolean NOT NULL, owner text, principal text,
  timeout bigint NOT NULL, expires double precision NOT NULL);
CREATE INDEX locks_key ON locks(key);
CREATE INDEX locks_root ON locks(root);
CREATE TABLE blobs(digest text PRIMARY KEY, size bigint NOT NULL);
CREATE TABLE blob_trash(digest text PRIMARY KEY);
CREATE TABLE inline_blobs(digest text PRIMARY KEY, data bytea NOT NULL);
CREATE TABLE meta(k text PRIMARY KEY, v text NOT NULL);
CREATE TABLE unsynced(digest text PRIMARY KEY, since double precision NOT NULL);
CREATE TABLE fallback(
  key bigint PRIMARY KEY, existed boolean NOT NULL, digest text, size bigint NOT NULL,
  ctype text);
CREATE INDEX fallback_digest ON fallback(digest) WHERE digest IS NOT NULL;
CREATE TABLE damaged(digest text PRIMARY KEY, reason text NOT NULL);
CREATE TABLE generation(one boolean PRIMARY KEY DEFAULT true CHECK (one),
  n bigint NOT NULL);
INSERT INTO generation(n) VALUES (0);
"""

Conn = psycopg.Connection[tuple[Any, ...]]

MIGRATIONS: tuple[Callable[[], str], ...] = (
    lambda: _V1, accounts_migration, grants_migration
)
"""Migration ``i`` (the SQL its function returns) brings a database from version ``i`` to
``i + 1``; append, never edit.  2: the accounts (``storage.postgres_accounts``); 3:
ownership, grants and quotas (``storage.postgres_grants``)."""

SCHEMA_VERSION = len(MIGRATIONS)


def current_version(conn: Conn) -> int:
    """The applied version (0: an empty database)."""
    row = conn.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()
    if row is None or not row[0]:
        return 0
    found = conn.execute("SELECT max(version) FROM schema_version").fetchone()
    return 0 if found is None or found[0] is None else int(found[0])


def migrate(conn: Conn) -> int:
    """Bring the database to ``SCHEMA_VERSION`` and make sure it has a root collection;
    returns the root's key.  ``conn`` is in autocommit mode; this runs one transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version("
            "version integer PRIMARY KEY, applied double precision NOT NULL)"
        )
        version = current_version(conn)
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"the database has schema version {version}; this davbind knows up to "
                f"{SCHEMA_VERSION}: upgrade davbind"
            )
        for number in range(version, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[number]().encode())
            conn.execute(
                "INSERT INTO schema_version(version, applied) VALUES (%s, %s)",
                (number + 1, time.time()),
            )
        row = conn.execute("SELECT v FROM meta WHERE k='root'").fetchone()
        if row is not None:
            return int(row[0])
        now = time.time()
        made = conn.execute(
            "INSERT INTO resources(rid, coll, created, modified) VALUES (%s, true, %s, %s) "
            "RETURNING key",
            (f"urn:uuid:{uuid.uuid4()}", now, now),
        ).fetchone()
        assert made is not None
        root_key = int(made[0])
        conn.execute("INSERT INTO meta(k, v) VALUES ('root', %s)", (str(root_key),))
        return root_key
