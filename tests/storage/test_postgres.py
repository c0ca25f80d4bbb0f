"""What only the PostgreSQL metadata store has: versioned migrations, the writer lock
shared by every process, and clear errors when the server cannot be reached.  (Its
behaviour as a ``MetadataStore`` is the contract suite's, which runs on it too.)"""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import pytest

psycopg = pytest.importorskip("psycopg")

from davbind.storage.model import StorageError  # noqa: E402
from davbind.storage.open import open_blobs, open_metadata  # noqa: E402
from davbind.storage.postgres_schema import SCHEMA_VERSION  # noqa: E402
from davbind.storage.sqlite import SchemaTooNew  # noqa: E402


def _open(url: str, tmp: Path):  # type: ignore[no-untyped-def]
    return open_metadata(url, open_blobs(f"file://{tmp}/blobs", durable=True))


def test_schema_version_is_recorded_once(postgres_url: str, tmp_path: Path) -> None:
    for _ in range(2):  # the second start applies nothing
        _open(postgres_url, tmp_path).close()
    with psycopg.connect(postgres_url) as conn:
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1))


def test_a_newer_schema_is_refused_and_left_alone(postgres_url: str, tmp_path: Path) -> None:
    store = _open(postgres_url, tmp_path)
    with store.write() as txn:
        txn.create(txn.root_key, "kept", collection=True)
    store.close()
    with psycopg.connect(postgres_url) as conn:
        conn.execute(
            "INSERT INTO schema_version(version, applied) VALUES (%s, 0)", (SCHEMA_VERSION + 1,)
        )
    with pytest.raises(SchemaTooNew, match=f"schema version {SCHEMA_VERSION + 1}"):
        _open(postgres_url, tmp_path)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM bindings WHERE segment='kept'").fetchone() == (1,)


def test_writers_of_two_stores_are_serial(postgres_url: str, tmp_path: Path) -> None:
    """Two stores are two processes' worth of connections: the second writer waits for
    the first one's commit (the advisory lock), then sees its change."""
    first, second = _open(postgres_url, tmp_path), _open(postgres_url, tmp_path)
    seen: list[bool] = []
    started = threading.Event()

    def other_writer() -> None:
        started.set()
        with second.write() as txn:
            seen.append(txn.lookup(txn.root_key, "a") is not None)
            txn.create(txn.root_key, "b", collection=True)

    try:
        with first.write() as txn:
            txn.create(txn.root_key, "a", collection=True)
            thread = threading.Thread(target=other_writer)
            thread.start()
            started.wait()
            time.sleep(0.3)
            assert not seen, "the second writer ran while the first was open"
        thread.join(10)
        assert seen == [True]
        with first.read() as txn:
            assert [s for s, _ in txn.children(txn.root_key)] == ["a", "b"]
    finally:
        first.close()
        second.close()


def test_readers_do_not_wait_for_a_writer(postgres_url: str, tmp_path: Path) -> None:
    store = _open(postgres_url, tmp_path)
    try:
        with store.write() as txn:
            txn.create(txn.root_key, "a", collection=True)
            with store.read() as reader:
                assert reader.lookup(reader.root_key, "a") is None
    finally:
        store.close()


def _closed_port() -> int:
    """A local port nothing listens on (just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_server_is_a_storage_error_without_the_password(
    tmp_path: Path,
) -> None:
    url = f"postgresql://someone:secret@127.0.0.1:{_closed_port()}/db"
    expected = r"cannot open postgresql://someone@127\.0\.0\.1"
    with pytest.raises(StorageError, match=expected) as info:
        _open(url, tmp_path)
    assert "secret" not in str(info.value)
