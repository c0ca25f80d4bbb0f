"""Row-level access to a metadata store's tables for ``storage.migrate``, one class per
SQL dialect.

``davbind migrate`` copies every table row by row with its keys (a resource keeps its
key, so etags, bindings, props and locks stay valid), which the ``Txn`` interface does
not offer: it makes new keys and new resource ids by design.  What differs between the
dialects is handled here, once, for every table and column the schema has: how the
tables and their columns are listed, how rows are written (PostgreSQL's ``COPY``, which
also writes identity columns, and reads a collection flag SQLite gives as 0 or 1 as a
boolean), and the high-water marks of generated
keys (SQLite's ``sqlite_sequence``, PostgreSQL's identity sequences), which are carried
over so that a key is never reused after the move either.

A source is read in one snapshot (``snapshot``); a target is written in one transaction
under the store's own writer lock (``begin_write`` … ``commit``), so servers started on
it early wait, and an interruption leaves nothing (SQLite and PostgreSQL roll back an
unfinished transaction themselves).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from davbind.storage.interface import MetadataStore

BATCH = 2000
"""Rows read or written per round trip."""

Tables = dict[str, tuple[str, ...]]
"""Table name -> column names."""


def quoted(name: str) -> str:
    """An identifier quoted for both dialects (``user`` is a keyword in PostgreSQL)."""
    return '"' + name.replace('"', '""') + '"'


def _select(table: str, columns: Sequence[str]) -> str:
    return f"SELECT {', '.join(quoted(c) for c in columns)} FROM {quoted(table)}"


class SqlSide(Protocol):
    """One metadata store's tables, seen as rows (module doc)."""

    def tables(self) -> Tables: ...

    def snapshot(self) -> None:
        """Start reading one consistent state (a source)."""
        ...

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        """The table's rows (values in ``columns`` order), in batches."""
        ...

    def count(self, table: str) -> int: ...

    def high_water(self) -> dict[str, int]:
        """Per table with a generated key: the highest key ever handed out."""
        ...

    def begin_write(self) -> None:
        """Start the one write transaction of a target, under the store's writer lock."""
        ...

    def clear(self, table: str) -> None: ...

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        ...

    def set_high_water(self, marks: dict[str, int]) -> None:
        """Make every generated key of the target's tables start above ``marks``."""
        ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def close(self) -> None: ...


class SqliteSide:
    """A SQLite database file (``storage.sqlite``)."""

    def __init__(self, path: Path) -> None:
        self._c = sqlite3.connect(path, isolation_level=None, timeout=30.0)
        self._c.execute("PRAGMA synchronous=FULL")  # the copy is durable when it commits

    def tables(self) -> Tables:
        names = [str(r[0]) for r in self._c.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )]  # fmt: skip
        out: Tables = {}
        for name in names:
            info = self._c.execute(f"PRAGMA table_info({quoted(name)})").fetchall()
            out[name] = tuple(str(r[1]) for r in info)
        return out

    def snapshot(self) -> None:
        self._c.execute("BEGIN")
        self._c.execute("SELECT count(*) FROM sqlite_master").fetchone()  # pins the snapshot

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        cur = self._c.execute(_select(table, columns))
        while batch := cur.fetchmany(BATCH):
            yield batch

    def count(self, table: str) -> int:
        return int(self._c.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])

    def high_water(self) -> dict[str, int]:
        return {str(n): int(s) for n, s in self._c.execute("SELECT name, seq FROM sqlite_sequence")}

    def begin_write(self) -> None:
        self._c.execute("BEGIN IMMEDIATE")

    def clear(self, table: str) -> None:
        self._c.execute(f"DELETE FROM {quoted(table)}")

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        names = ", ".join(quoted(c) for c in columns)
        marks = ", ".join("?" for _ in columns)
        self._c.executemany(f"INSERT INTO {quoted(table)}({names}) VALUES ({marks})", rows)

    def set_high_water(self, marks: dict[str, int]) -> None:
        for table, mark in marks.items():
            cur = self._c.execute(
                "UPDATE sqlite_sequence SET seq=max(seq, ?) WHERE name=?", (mark, table)
            )
            if cur.rowcount == 0:
                self._c.execute("INSERT INTO sqlite_sequence(name, seq) VALUES (?, ?)",
                                (table, mark))  # fmt: skip

    def commit(self) -> None:
        self._c.execute("COMMIT")

    def rollback(self) -> None:
        if self._c.in_transaction:
            self._c.execute("ROLLBACK")

    def close(self) -> None:
        self.rollback()
        self._c.close()


class PostgresSide:
    """A PostgreSQL database (``storage.postgres``)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self._c: Any = psycopg.connect(url, autocommit=True, connect_timeout=10)
        self._cursors = 0

    def tables(self) -> Tables:
        out: dict[str, list[str]] = {}
        for table, column in self._c.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position"
        ):
            out.setdefault(table, []).append(column)
        return {t: tuple(cols) for t, cols in out.items()}

    def snapshot(self) -> None:
        self._c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        self._c.execute("SELECT 1").fetchone()  # the snapshot is taken by the first query

    def rows(self, table: str, columns: Sequence[str]) -> Iterator[list[tuple[Any, ...]]]:
        import psycopg

        self._cursors += 1  # a server-side cursor: a big table is not held in memory
        idle = self._c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        if idle:  # such a cursor lives in a transaction: a read of its own
            self._c.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            with self._c.cursor(name=f"migrate_{self._cursors}") as cur:
                cur.execute(_select(table, columns))
                while batch := cur.fetchmany(BATCH):
                    yield batch
        finally:
            if idle:
                self._c.execute("ROLLBACK")

    def count(self, table: str) -> int:
        return int(self._c.execute(f"SELECT count(*) FROM {quoted(table)}").fetchone()[0])

    def _sequences(self) -> list[tuple[str, str, str]]:
        """(table, column, sequence) of every identity or serial column."""
        rows = self._c.execute(
            "SELECT table_name, column_name, "
            "pg_get_serial_sequence(quote_ident(table_name), column_name) "
            "FROM information_schema.columns WHERE table_schema = current_schema()"
        ).fetchall()
        return [(str(t), str(c), str(s)) for t, c, s in rows if s is not None]

    def high_water(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for table, _, sequence in self._sequences():
            query = f"SELECT last_value, is_called FROM {sequence}"
            last, called = self._c.execute(query.encode()).fetchone()
            out[table] = int(last) if called else int(last) - 1
        return out

    def begin_write(self) -> None:
        from davbind.storage.postgres_schema import WRITER_LOCK

        self._c.execute("BEGIN")
        self._c.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))

    def clear(self, table: str) -> None:
        self._c.execute(f"DELETE FROM {quoted(table)}".encode())

    def insert(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        # COPY writes identity columns as given (like OVERRIDING SYSTEM VALUE), and its
        # text format takes 0 and 1 for a boolean
        names = ", ".join(quoted(c) for c in columns)
        with self._c.cursor().copy(f"COPY {quoted(table)}({names}) FROM STDIN".encode()) as copy:
            for row in rows:
                copy.write_row(row)

    def set_high_water(self, marks: dict[str, int]) -> None:
        for table, column, sequence in self._sequences():
            top = self._c.execute(
                f"SELECT coalesce(max({quoted(column)}), 0) FROM {quoted(table)}".encode()
            ).fetchone()[0]
            mark = max(int(top), marks.get(table, 0))
            if mark > 0:
                self._c.execute("SELECT setval(%s, %s, true)", (sequence, mark))

    def commit(self) -> None:
        self._c.execute("COMMIT")
        # statistics for the planner now, not at autovacuum's leisure: a listing planned
        # without them is many times slower on a freshly filled database
        self._c.execute("ANALYZE")

    def rollback(self) -> None:
        import psycopg

        if self._c.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            self._c.execute("ROLLBACK")

    def close(self) -> None:
        try:
            self.rollback()
        finally:
            self._c.close()


def side_for(store: MetadataStore) -> SqlSide:
    """The rows of an open metadata store, on a connection of their own."""
    from davbind.storage.sqlite import SqliteMetadataStore

    if isinstance(store, SqliteMetadataStore):
        return SqliteSide(store.path)
    from davbind.storage.postgres import PostgresMetadataStore

    if isinstance(store, PostgresMetadataStore):
        return PostgresSide(store.url)
    raise ValueError(f"cannot migrate a {type(store).__name__}")
