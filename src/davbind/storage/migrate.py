"""Copy a whole store to other backends (``davbind migrate``): SQLite <-> PostgreSQL for
the metadata, local files <-> an S3-compatible bucket for the content.

What is copied: every table of the metadata schema, row by row with its keys
(``migrate_sql``): resources with their ids and keys, every binding (loops and several
bindings to one resource included), dead properties, locks, users, app passwords and
the store's app-password key, inline content, damage marks, and whatever table a later
schema adds.  Only ``LOCAL_TABLES`` stay behind.  Both stores are opened first with
``open_metadata``, which brings each schema to this davbind's version, and the two
schemas must then match (else nothing is written).

In two steps, so that an interrupted run can simply be started again:

1. **Content.** Each digest the source's metadata lists (``blobs``) and does not keep
   inline is streamed from the source blob store into the target one; the upload hashes
   the bytes on the way and the copy is kept only if they hash to the digest and have
   the listed size.  Content the target already holds whole (re-hashed) is skipped, so a
   second run copies only what the first did not finish.  Content already in the target
   blob store but unreferenced by its metadata is what ``davbind serve``'s start-up
   sweep removes, should the migration be abandoned.
2. **Metadata**, in one transaction of the target under its writer lock: every copied
   table is emptied and filled, inline content is re-hashed row by row, and the
   high-water marks of generated keys are carried over.  An interruption rolls it back
   whole: the target's metadata is then still empty, and the next run starts again.

Both steps read one snapshot of the source: run it with the servers of the source
stopped (a source written meanwhile is copied as it was when the run began).

The target's metadata must be empty (a fresh store: its own root and nothing else),
or hold a finished copy of this same source (its root has the source's resource id), in
which case nothing is written and the run reports the copy verified or refuses if the
source has changed since.  After the copy, every copied table is compared, row for row,
between the source's snapshot and the target (``fingerprint``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

from davbind.storage.fsck import paths_of
from davbind.storage.interface import BlobStore, MetadataStore
from davbind.storage.migrate_sql import SqlSide, Tables, side_for
from davbind.storage.model import Damaged, StorageError
from davbind.storage.open import open_blobs, open_metadata

LOCAL_TABLES = frozenset({"schema_version", "generation"})
"""Tables of one store's own that are not copied: PostgreSQL's record of applied
migrations and its commit counter.  Every other table of the schema is copied; a new
table that must stay behind is added here."""

FRESH_ROWS = {"resources": 1, "meta": None}
"""What a store holds before anything is stored in it: its root (one resource) and its
``meta`` rows (None: any number).  Every other copied table of a fresh target is empty."""

_ORDER = {"resources": 0, "quotas": 2}
"""Tables copied first and last (the rest in name order): resources first; quotas after
usage, since the target's triggers refuse usage past a quota, and a user may be over a
quota lowered after the fact (``storage.grants``)."""

CONTENT_TABLE, INLINE_TABLE = "blobs", "inline_blobs"
"""The list of referenced content (digest, size) and the content kept inline."""

READ = 4 * 1024 * 1024


class MigrationError(StorageError):
    """The migration cannot go on; what was written so far is safe to leave or resume."""


@dataclass(frozen=True, slots=True)
class Progress:
    phase: str  # "content" or "metadata"
    done: int
    total: int
    item: str = ""  # the digest copied or the table filled


@dataclass(slots=True)
class Report:
    copied: int = 0
    skipped: int = 0
    bytes_copied: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    already_done: bool = False


@dataclass(frozen=True, slots=True)
class Endpoints:
    """Metadata and blob store URLs of one side."""

    metadata: str
    blobs: str


def migrate(source: Endpoints, target: Endpoints, *, jobs: int = 4,
            progress: Callable[[Progress], None] | None = None) -> Report:  # fmt: skip
    """Copy ``source`` into ``target`` (module doc); ``progress`` is called after each
    content and each table.  Raises ``MigrationError`` (or ``Damaged``) when it cannot."""
    if source.metadata == target.metadata:
        raise MigrationError("the source and the target are the same metadata store")
    notify = progress or (lambda _: None)
    src_blobs = open_blobs(source.blobs)
    dst_blobs = open_blobs(target.blobs, durable=True)  # every copy on disk before its use
    src_store = open_metadata(source.metadata, src_blobs)
    try:
        dst_store = open_metadata(target.metadata, dst_blobs)
        try:
            return _run(src_store, src_blobs, dst_store, dst_blobs, jobs, notify)
        finally:
            dst_store.close()
    finally:
        src_store.close()


def _run(src_store: MetadataStore, src_blobs: BlobStore, dst_store: MetadataStore,
         dst_blobs: BlobStore, jobs: int, notify: Callable[[Progress], None],
         ) -> Report:  # fmt: skip
    src, dst = side_for(src_store), side_for(dst_store)
    try:
        src.snapshot()
        tables = _copied_tables(src.tables(), dst.tables())
        with src_store.read() as txn:
            src_root = txn.root.rid
        with dst_store.read() as txn:
            dst_root = txn.root.rid
        report = Report()
        if dst_root == src_root:
            differ = _differing(src, dst, tables)
            if differ:
                raise MigrationError(
                    "the target holds a copy of this source that differs from it now (in "
                    f"{', '.join(differ)}): one of them was changed after the copy. "
                    "Refusing to overwrite it; migrate into a new, empty store instead"
                )
            report.already_done = True
            return report
        _check_fresh(dst, tables)
        contents = _contents(src)
        _copy_contents(contents, src_store, src_blobs, dst_blobs, jobs, notify, report)
        try:
            _copy_rows(src, dst, tables, notify, report)
        except Damaged as exc:
            raise _named(exc, src_store) from None
        differ = _differing(src, dst, tables)
        if differ:  # the copy itself went wrong: say so, never claim success
            raise MigrationError(f"the copied tables {', '.join(differ)} differ from the "
                                 "source after the copy")
        return report
    finally:
        src.close()
        dst.close()


def _copied_tables(source: Tables, target: Tables) -> Tables:
    """The tables to copy, with the target's columns; the schemas must match."""
    src = {t: c for t, c in source.items() if t not in LOCAL_TABLES}
    dst = {t: c for t, c in target.items() if t not in LOCAL_TABLES}
    problems = [f"table {t} only in the source" for t in sorted(set(src) - set(dst))]
    problems += [f"table {t} only in the target" for t in sorted(set(dst) - set(src))]
    for table in sorted(set(src) & set(dst)):
        a, b = set(src[table]), set(dst[table])
        if a != b:
            problems.append(f"table {table} has columns {sorted(a)} in the source and "
                            f"{sorted(b)} in the target")  # fmt: skip
    if problems:
        raise MigrationError("the two schemas differ: " + "; ".join(problems))
    # resources first: a later schema's foreign keys are most likely to point there
    return dict(sorted(dst.items(), key=lambda item: (_ORDER.get(item[0], 1), item[0])))


def _check_fresh(dst: SqlSide, tables: Tables) -> None:
    for table in tables:
        allowed = FRESH_ROWS.get(table, 0)
        found = dst.count(table)
        if allowed is not None and found > allowed:
            raise MigrationError(
                f"the target metadata store is not empty ({found} row(s) in {table}) and "
                "is not a copy of this source: migrate only into a new, empty store"
            )


def _contents(src: SqlSide) -> list[tuple[str, int]]:
    """(digest, size) of every content the source lists that is not kept inline."""
    inline = {str(r[0]) for batch in src.rows(INLINE_TABLE, ["digest"]) for r in batch}
    listed = src.rows(CONTENT_TABLE, ["digest", "size"])
    return [(str(d), int(s)) for batch in listed for d, s in batch if str(d) not in inline]


def copy_content(src: BlobStore, dst: BlobStore, digest: str, size: int) -> bool:
    """Copy one content, checking its bytes against ``digest`` and ``size`` on the way;
    False if the target holds it whole already.  ``Damaged`` if the source's is not."""
    if dst.verify(digest):
        return False
    if dst.sync(digest):  # present but not whole (an earlier copy cut short): redo it
        dst.delete(digest)
    upload = dst.begin()
    try:
        try:
            with src.open(digest) as fh:
                while chunk := fh.read(READ):
                    upload.write(chunk)
        except FileNotFoundError:
            raise Damaged(digest, "missing from the source blob store") from None
        found, length = upload.finish()  # the upload hashed every byte it was given
        if length != size:
            raise Damaged(digest, f"size mismatch: {length} bytes stored, {size} expected")
        if found != digest:
            raise Damaged(digest, f"digest mismatch: the bytes hash to {found}")
        dst.commit(upload)
    except BaseException:
        upload.abort()
        raise
    return True


def _copy_contents(contents: list[tuple[str, int]], src_store: MetadataStore,
                   src_blobs: BlobStore, dst_blobs: BlobStore, jobs: int,
                   notify: Callable[[Progress], None], report: Report) -> None:  # fmt: skip
    total = len(contents)
    with ThreadPoolExecutor(max(1, jobs), thread_name_prefix="migrate") as pool:
        futures = {pool.submit(copy_content, src_blobs, dst_blobs, d, s): (d, s)
                   for d, s in contents}  # fmt: skip
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_EXCEPTION)
            for future in done:
                digest, size = futures[future]
                try:
                    copied = future.result()
                except Damaged as exc:
                    for other in pending:
                        other.cancel()
                    raise _named(exc, src_store) from None
                except BaseException:
                    for other in pending:
                        other.cancel()
                    raise
                if copied:
                    report.copied += 1
                    report.bytes_copied += size
                else:
                    report.skipped += 1
                notify(Progress("content", report.copied + report.skipped, total, digest))


def _named(exc: Damaged, store: MetadataStore) -> MigrationError:
    """The damage, naming the resources that show it."""
    with store.read() as txn:
        keys = [k for k, d, _ in txn.content_refs() if d == exc.digest]
        paths = [p for k in keys for p in paths_of(txn, k)]
    where = ", ".join(paths) or "no resource (content kept for a pending change)"
    return MigrationError(
        f"content {exc.digest} of {where} is damaged in the source: {exc.reason}. "
        "Nothing was written to the target's metadata. `davbind fsck` on the source "
        "lists every damaged content; remove or restore it, then run migrate again"
    )


def _checked_inline(batch: list[tuple[Any, ...]], columns: tuple[str, ...]) -> None:
    at = {c: i for i, c in enumerate(columns)}
    for row in batch:
        digest, data = str(row[at["digest"]]), bytes(row[at["data"]])
        found = hashlib.sha256(data).hexdigest()
        if found != digest:
            raise Damaged(digest, f"inline content hashes to {found}")


def _copy_rows(src: SqlSide, dst: SqlSide, tables: Tables,
               notify: Callable[[Progress], None], report: Report) -> None:  # fmt: skip
    dst.begin_write()
    try:
        for n, (table, columns) in enumerate(tables.items(), 1):
            dst.clear(table)
            count = 0
            for batch in src.rows(table, columns):
                if table == INLINE_TABLE:
                    _checked_inline(batch, columns)
                dst.insert(table, columns, batch)
                count += len(batch)
            report.rows[table] = count
            notify(Progress("metadata", n, len(tables), table))
        dst.set_high_water(src.high_water())
        dst.commit()
    except BaseException:
        dst.rollback()
        raise


def _value(v: Any) -> Any:
    """A value as both dialects give it back (a flag is 0/1 in one, a boolean in the
    other; SQLite may give an integral float as an integer)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, memoryview):
        return bytes(v)
    return v


def fingerprint(side: SqlSide, table: str, columns: Iterable[str]) -> tuple[int, int]:
    """(rows, an order-independent hash of them): equal for equal tables whatever the
    dialect or the order rows come in."""
    cols = sorted(columns)
    total, count = 0, 0
    for batch in side.rows(table, cols):
        for row in batch:
            text = repr(tuple(_value(v) for v in row)).encode()
            total = (total + int.from_bytes(hashlib.sha256(text).digest(), "big")) % (1 << 256)
            count += 1
    return count, total


def _differing(src: SqlSide, dst: SqlSide, tables: Tables) -> list[str]:
    return [t for t in tables if fingerprint(src, t, tables[t]) != fingerprint(dst, t, tables[t])]

