"""PostgreSQL faults: a lost connection or a stopped server is ``Unavailable`` (503 with
``Retry-After`` at the server), nothing of the interrupted transaction is kept, and the
same store object works again once the server is back (the pool reconnects)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from davbind.storage.interface import MetadataStore
from davbind.storage.model import Unavailable
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.postgres import POOL_WAIT

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
import pg_cluster
import postgres_databases


@pytest.fixture
def pg_store(postgres_url: str, tmp_path: Path) -> Iterator[MetadataStore]:
    store = open_metadata(postgres_url, open_blobs(f"file://{tmp_path}/blobs", durable=True))
    yield store
    store.close()


def _terminate_others(url: str) -> int:
    """Disconnect every other session of the database of ``url`` (what a server restart
    does to them); returns how many."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


def _exists(store: MetadataStore, segment: str) -> bool:
    with store.read() as txn:
        return txn.lookup(store.root_key, segment) is not None


def test_pooled_connections_lost_while_idle_are_replaced(
    pg_store: MetadataStore, postgres_url: str
) -> None:
    """Connections the pool kept are dead after a restart: the next transactions get
    fresh ones instead of failing."""
    with pg_store.write() as txn:
        txn.create(pg_store.root_key, "a", collection=True)
    assert _terminate_others(postgres_url) >= 1
    assert _exists(pg_store, "a")
    assert _terminate_others(postgres_url) >= 1
    with pg_store.write() as txn:
        txn.create(pg_store.root_key, "b", collection=True)
    assert _exists(pg_store, "b")


def test_connection_lost_inside_a_write_is_unavailable_and_keeps_nothing(
    pg_store: MetadataStore, postgres_url: str
) -> None:
    with pytest.raises(Unavailable), pg_store.write() as txn:
        txn.create(pg_store.root_key, "half", collection=True)
        _terminate_others(postgres_url)
        txn.create(pg_store.root_key, "other-half", collection=True)
    assert not _exists(pg_store, "half")
    assert not _exists(pg_store, "other-half")


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_cluster.Cluster]:
    made = pg_cluster.Cluster()
    yield made
    made.destroy()


def test_server_stopped_then_started(cluster: pg_cluster.Cluster, tmp_path: Path) -> None:
    """While the server is down every call fails with ``Unavailable`` within the pool's
    wait (no hang); once it is back the same store serves again, no reopening."""
    url = postgres_databases.create(cluster.url, "davbind_fault_")
    store = open_metadata(url, open_blobs(f"file://{tmp_path}/blobs", durable=True))
    try:
        with store.write() as txn:
            txn.create(store.root_key, "before", collection=True)
        cluster.stop()
        try:
            for attempt in ("read", "write"):
                t0 = time.monotonic()
                with pytest.raises(Unavailable):
                    if attempt == "read":
                        _exists(store, "before")
                    else:
                        with store.write() as txn:
                            txn.create(store.root_key, "during", collection=True)
                assert time.monotonic() - t0 < POOL_WAIT + 3, attempt
        finally:
            cluster.start()
        deadline = time.monotonic() + 20
        while True:
            try:
                assert _exists(store, "before")
                break
            except Unavailable:
                assert time.monotonic() < deadline, "no reconnection within 20 s"
                time.sleep(0.2)
        assert not _exists(store, "during")
        with store.write() as txn:
            txn.create(store.root_key, "after", collection=True)
        assert _exists(store, "after")
    finally:
        store.close()
        postgres_databases.drop(cluster.url, [url])
