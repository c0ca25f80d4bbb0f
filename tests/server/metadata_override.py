"""The server's tests on other backends than the default SQLite file and local blobs.

``DAVBIND_TEST_METADATA_URL=postgresql://user@host:port/db`` names a PostgreSQL server:
each data directory of the handler tests (``Dav``, ``rfc5842_fixtures.Srv``) then gets
a fresh database of its own there, the same for every app opened on that directory (a
restart keeps the data), dropped after the test (``drop_made``, an autouse fixture).
``DAVBIND_TEST_BLOBS_URL=s3://bucket/prefix?endpoint=...`` likewise gives each data
directory a fresh prefix of that bucket for its content.  Unset, the apps use the
SQLite file and the blob files in their data directory, as always.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
import postgres_databases

ENV = "DAVBIND_TEST_METADATA_URL"
BLOBS_ENV = "DAVBIND_TEST_BLOBS_URL"

_made: dict[Path, str] = {}  # data directory -> its database's URL
_prefixes: dict[Path, str] = {}  # data directory -> its blob store URL


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


def blobs_url(data_dir: Path) -> str:
    """The blob store URL of ``data_dir`` under the bucket of ``BLOBS_ENV`` (a fresh
    prefix on first use); "" when ``BLOBS_ENV`` is unset."""
    base = os.environ.get(BLOBS_ENV, "")
    if not base:
        return ""
    key = data_dir.resolve()
    if key not in _prefixes:
        parsed = urlsplit(base)
        path = f"{parsed.path.rstrip('/')}/{uuid.uuid4().hex}"
        _prefixes[key] = urlunsplit(parsed._replace(path=path))
    return _prefixes[key]


def blob_digests(data_dir: Path) -> list[str]:
    """Digests of the content the blob store of ``data_dir`` holds: its files, or the
    objects of its prefix under ``BLOBS_ENV``."""
    url = _prefixes.get(data_dir.resolve(), "")
    if url:
        from davbind.storage.open import open_blobs

        return list(open_blobs(url).digests())
    return [p.name for p in (data_dir / "blobs").glob("??/??/*") if p.is_file()]


def local_blobs_only(data_dir: Path) -> None:
    """Skip the calling test when the content of ``data_dir`` is in a bucket: it looks
    at local blob files (their layout, their temporary files), which that run has not."""
    if _prefixes.get(data_dir.resolve()):
        import pytest

        pytest.skip("looks at local blob files; this run keeps content in S3")


def drop_made() -> None:
    """Drop every database made so far (after a test, once its apps are closed)."""
    if _made:
        postgres_databases.drop(os.environ[ENV], list(_made.values()))
        _made.clear()
    _prefixes.clear()  # the bucket's objects stay: the test service is thrown away


def inline_digests(data_dir: Path, metadata_url: str) -> list[str]:
    """Digests of the contents the metadata store keeps inline (``Txn.store_inline``)."""
    if metadata_url:
        import psycopg

        with psycopg.connect(metadata_url) as conn:
            return [str(r[0]) for r in conn.execute("SELECT digest FROM inline_blobs")]
    with contextlib.closing(sqlite3.connect(data_dir / "meta.sqlite3")) as db:
        return [str(r[0]) for r in db.execute("SELECT digest FROM inline_blobs")]
