"""Throwaway databases on a PostgreSQL test server (scripts/postgres.sh starts one), for
the tests that run the metadata store on PostgreSQL (tests/storage, and tests/server
with ``DAVBIND_TEST_METADATA_URL``).  PostgreSQL 13 or newer (``DROP ... WITH (FORCE)``).
"""

from __future__ import annotations

import uuid
from urllib.parse import urlsplit, urlunsplit


def create(server: str, prefix: str) -> str:
    """Create an empty database named ``prefix`` + a random suffix on the server of URL
    ``server``; returns its URL."""
    import psycopg

    name = f"{prefix}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server, autocommit=True) as conn:
        # FILE_COPY (PostgreSQL 15+) makes a small database about twice as fast
        strategy = " STRATEGY FILE_COPY" if conn.info.server_version >= 150000 else ""
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE template0{strategy}'.encode())
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def drop(server: str, urls: list[str]) -> None:
    """Drop the databases of ``urls`` (made by ``create``), connections and all."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        for url in urls:
            name = urlsplit(url).path[1:]
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
