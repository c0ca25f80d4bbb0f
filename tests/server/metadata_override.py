"""The server's tests on another metadata backend than the default SQLite file.

``DAVBIND_TEST_METADATA_URL=postgresql://user@host:port/db`` names a PostgreSQL server:
each data directory of the handler tests (``Dav``, ``rfc5842_fixtures.Srv``) then gets
a fresh database of its own there, the same for every app opened on that directory (a
restart keeps the data), dropped after the test (``drop_made``, an autouse fixture).
Unset, the apps use the SQLite file in their data directory, as always.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
import postgres_databases

ENV = "DAVBIND_TEST_METADATA_URL"

_made: dict[Path, str] = {}  # data directory -> its database's URL


def metadata_url(data_dir: Path) -> str:
    """The URL of the database of ``data_dir`` on the server of ``ENV`` (made empty on
    first use); "" when ``ENV`` is unset."""
    server = os.environ.get(ENV, "")
    if not server:
        return ""
    key = data_dir.resolve()
    if key not in _made:
        _made[key] = postgres_databases.create(server, "davbind_server_test_")
    return _made[key]


def drop_made() -> None:
    """Drop every database made so far (after a test, once its apps are closed)."""
    if _made:
        postgres_databases.drop(os.environ[ENV], list(_made.values()))
        _made.clear()


def inline_digests(data_dir: Path, metadata_url: str) -> list[str]:
    """Digests of the contents the metadata store keeps inline (``Txn.store_inline``)."""
    if metadata_url:
        import psycopg

        with psycopg.connect(metadata_url) as conn:
            return [str(r[0]) for r in conn.execute("SELECT digest FROM inline_blobs")]
    with contextlib.closing(sqlite3.connect(data_dir / "meta.sqlite3")) as db:
        return [str(r[0]) for r in db.execute("SELECT digest FROM inline_blobs")]
