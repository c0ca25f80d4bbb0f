"""PostgreSQL faults: a lost connection or a stopped server is ``Unavailable`` (503 with
``Retry-After`` at the server), nothing of the interrupted transaction is kept, and the
same store object works again once the server is back (the pool reconnects)."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from davbind.storage.blobs_s3 import S3BlobStore
from davbind.storage.interface import INLINE_MAX, MetadataStore
from davbind.storage.model import Unavailable
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.postgres import DOWN_WAIT, POOL_WAIT

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
            took = []
            for attempt in ("read", "write", "read"):
                t0 = time.monotonic()
                with pytest.raises(Unavailable):
                    if attempt == "read":
                        _exists(store, "before")
                    else:
                        with store.write() as txn:
                            txn.create(store.root_key, "during", collection=True)
                took.append(time.monotonic() - t0)
            # the first waits for the pool, the next fail fast while it is down
            assert took[0] < POOL_WAIT + 3, took
            assert max(took[1:]) < DOWN_WAIT + 2, took
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


def _with_query(url: str, **params: str) -> str:
    parsed = urlsplit(url)
    query = "&".join([parsed.query, *(f"{k}={v}" for k, v in params.items())]).strip("&")
    return urlunsplit(parsed._replace(query=query))


@pytest.fixture
def s3_pg(postgres_url: str, s3_blob_url: str) -> Iterator[Callable[[], MetadataStore]]:
    """Open stores (nodes) on one PostgreSQL database and one bucket prefix whose
    unfinished uploads are collected after 2 s."""
    opened: list[MetadataStore] = []

    def open_node() -> MetadataStore:
        store = open_metadata(postgres_url, open_blobs(_with_query(s3_blob_url, orphan_age="2")))
        opened.append(store)
        return store

    yield open_node
    for store in opened:
        store.close()


def _put(store: MetadataStore, segment: str, data: bytes) -> None:
    upload = store.blobs.begin()
    upload.write(data)
    with store.write() as txn:
        digest, size = txn.store_blob(upload)
        txn.create(store.root_key, segment, collection=False, digest=digest, size=size)


def test_sweep_collects_uncommitted_uploads_once_old_enough(
    s3_pg: Callable[[], MetadataStore],
) -> None:
    """A node killed after its upload finished but before its commit leaves an unnamed
    data object (and maybe a manifest): the manifest goes at the next sweep, the data
    object once older than ``orphan_age``; committed content stays."""
    node = s3_pg()
    kept = os.urandom(INLINE_MAX + 1)
    _put(node, "kept.bin", kept)
    blobs = node.blobs
    assert isinstance(blobs, S3BlobStore)
    unnamed = blobs.begin()
    unnamed.write(os.urandom(INLINE_MAX + 1))
    unnamed.finish()  # killed here: data object stored, no manifest, no row
    manifested = blobs.begin()
    manifested.write(os.urandom(INLINE_MAX + 1))
    assert blobs.commit(manifested)  # killed here: manifest stored, no row
    assert node.sweep() == 1  # the manifest (and its data) at once
    assert blobs.orphans(min_age=-60) == [unnamed.key]  # young: may be mid-commit
    time.sleep(2.5)
    assert blobs.orphans() == [unnamed.key]
    assert node.sweep() == 0
    assert blobs.orphans(min_age=-60) == []
    with node.read() as txn:
        found = txn.lookup(node.root_key, "kept.bin")
        assert found is not None and found.digest is not None
        with blobs.open(found.digest) as fh:
            assert fh.read() == kept


def test_sweep_waits_for_another_nodes_open_write(s3_pg: Callable[[], MetadataStore]) -> None:
    """Content another node has stored inside its open write transaction is not taken
    for an orphan by a sweep that starts meanwhile."""
    writer, sweeper = s3_pg(), s3_pg()
    data = os.urandom(INLINE_MAX + 1)
    upload = writer.blobs.begin()
    upload.write(data)
    swept: list[int] = []
    with writer.write() as txn:
        digest, size = txn.store_blob(upload)  # manifest in the bucket, no commit yet
        thread = threading.Thread(target=lambda: swept.append(sweeper.sweep()))
        thread.start()
        time.sleep(1.0)
        assert not swept, "the sweep did not wait for the writer lock"
        txn.create(writer.root_key, "racing.bin", collection=False, digest=digest, size=size)
    thread.join(30)
    assert swept == [0]
    with sweeper.read() as rtxn:
        found = rtxn.lookup(sweeper.root_key, "racing.bin")
        assert found is not None and found.digest == digest
        with sweeper.blobs.open(digest) as fh:
            assert fh.read() == data


def test_sweep_with_the_bucket_unreachable_skips(postgres_url: str) -> None:
    """A node still starts when the bucket is unreachable: the clean-up waits."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nobody listens there
    blobs = open_blobs(f"s3://nowhere/p?endpoint=http://127.0.0.1:{port}")
    store = open_metadata(postgres_url, blobs)
    try:
        assert store.sweep() == 0
    finally:
        store.close()


@pytest.mark.parametrize("age", ["0", "-5", "soon"])
def test_orphan_age_must_be_positive(age: str) -> None:
    with pytest.raises(ValueError, match="orphan_age"):
        open_blobs(f"s3://bucket/p?endpoint=http://127.0.0.1:9&orphan_age={age}")
