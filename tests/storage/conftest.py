"""Fixtures of the storage contract suite: one ``store`` per metadata backend.

Every test in tests/storage that asks for ``store`` runs once per entry of ``BACKENDS``.
A backend is a function from a fresh temporary directory (and the test's fixture request)
to the pair (metadata URL, blob URL) that ``open_metadata`` / ``open_blobs`` understand.
PostgreSQL gets a fresh, empty database per test on the server named by
``DAVBIND_TEST_POSTGRES_URL`` (scripts/postgres.sh starts a throwaway one; the
``postgres_server`` fixture of tests/conftest.py); without it its tests are skipped, or
fail when ``CI`` is set.
Helpers are fixtures returning callables, so the test modules need not import from this
file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from davbind.storage.interface import BlobStore, MetadataStore, Txn
from davbind.storage.model import Resource
from davbind.storage.open import open_blobs, open_metadata

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
import postgres_databases

Backend = Callable[[Path, pytest.FixtureRequest], tuple[str, str]]


def _postgres(tmp: Path, request: pytest.FixtureRequest) -> tuple[str, str]:
    server = request.getfixturevalue("postgres_server")  # tests/conftest.py
    return postgres_databases.create(server, "davbind_test_"), f"file://{tmp}/blobs"


BACKENDS: dict[str, Backend] = {
    "sqlite": lambda tmp, _: (f"sqlite://{tmp}/meta.sqlite3", f"file://{tmp}/blobs"),
    "postgresql": _postgres,
}

OpenStore = Callable[[], MetadataStore]
PutBlob = Callable[[Txn, bytes], tuple[str, int]]
MakeFile = Callable[..., Resource]


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """The URL of a fresh, empty PostgreSQL database (for tests of that backend only)."""
    server = postgres_server
    url = postgres_databases.create(server, "davbind_test_")
    yield url
    postgres_databases.drop(server, [url])


@pytest.fixture(params=sorted(BACKENDS))
def urls(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(metadata URL, blob URL) of a fresh, empty store of one backend (a PostgreSQL
    database is dropped afterwards, once every store of the test is closed)."""
    made = BACKENDS[request.param](tmp_path.resolve(), request)
    yield made
    if request.param == "postgresql":
        postgres_databases.drop(request.getfixturevalue("postgres_server"), [made[0]])


class _Settled:
    """Mixed into the blob store's class: its listing waits for the background flush of
    the metadata stores using it.  In ``standard`` durability, content a resource no
    longer shows is kept until its replacement is flushed, so what is stored is only
    settled after that."""

    users: list[MetadataStore]

    def digests(self) -> Iterator[str]:
        for store in self.users:
            flush = getattr(store, "flush_blobs", None)
            if flush is not None:
                assert flush(30), "blobs were not flushed within 30 s"
        return super().digests()  # type: ignore[misc, no-any-return]

    def unsettled_digests(self) -> Iterator[str]:
        """The listing as it is, for use inside a write transaction (where waiting for
        the flusher, which needs the write lock, would wait for nothing)."""
        return super().digests()  # type: ignore[misc, no-any-return]


def _settled(blobs: BlobStore) -> BlobStore:
    blobs.__class__ = type(f"Settled{type(blobs).__name__}", (_Settled, type(blobs)), {})
    blobs.users = []  # type: ignore[attr-defined]
    return blobs


@pytest.fixture(params=["standard", "strict", "s3"])
def blobs(request: pytest.FixtureRequest, urls: tuple[str, str]) -> BlobStore:
    """The blob store: the backend's own, in each ``durability`` mode (content flushed
    after its commit, recorded as unsynced meanwhile, or before it), and an S3 object
    store (``s3_blob_url`` in tests/conftest.py; always durable)."""
    if request.param == "s3":
        return _settled(open_blobs(request.getfixturevalue("s3_blob_url")))
    return _settled(open_blobs(urls[1], durable=request.param == "strict"))


@pytest.fixture
def open_store(urls: tuple[str, str], blobs: BlobStore) -> Iterator[OpenStore]:
    """Open (or reopen) the metadata store of this test; every one is closed at the end."""
    opened: list[MetadataStore] = []

    def open_() -> MetadataStore:
        store = open_metadata(urls[0], blobs)
        opened.append(store)
        if isinstance(blobs, _Settled):
            blobs.users.append(store)
        return store

    yield open_
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: OpenStore) -> MetadataStore:
    return open_store()


@pytest.fixture
def put_blob(blobs: BlobStore) -> PutBlob:
    """Stream ``data`` into the blob store and make it durable inside ``txn``."""

    def put(txn: Txn, data: bytes) -> tuple[str, int]:
        upload = blobs.begin()
        upload.write(data)
        return txn.store_blob(upload)

    return put


@pytest.fixture
def make_file(put_blob: PutBlob) -> MakeFile:
    """Create a non-collection with content ``data`` bound as ``segment`` in ``parent``."""

    def make(
        txn: Txn, parent: int, segment: str, data: bytes = b"", content_type: str = "text/plain"
    ) -> Resource:
        digest, size = put_blob(txn, data)
        return txn.create(
            parent, segment, collection=False, digest=digest, size=size, content_type=content_type
        )

    return make


@pytest.fixture
def blob_stored(blobs: BlobStore) -> Callable[[str], bool]:
    """Whether the blob store holds ``digest``: by its listing and, when the backend has
    local files, by the file itself (the two must agree)."""

    def stored(digest: str) -> bool:
        listed = digest in set(blobs.digests())
        path = blobs.path(digest)
        if path is not None:
            assert path.is_file() == listed, (digest, path)
        return listed

    return stored
