"""Content kept inline by the metadata store (``Txn.store_inline``), contract tests.

What must hold: inline content is content-addressed like blob content (stored once,
whoever uploads it), durable with the transaction that stores it and gone with a
rollback, readable by digest, reclaimed when nothing references it (after commit, through
the same trash as blob files, so content re-used in the transaction that released it
survives), and never stored twice when a blob file holds the digest already.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from davbind.storage.interface import INLINE_MAX, MetadataStore, Txn
from davbind.storage.model import Resource

BlobStored = Callable[[str], bool]
MakeFile = Callable[..., Resource]


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def inline_file(txn: Txn, parent: int, segment: str, data: bytes) -> int:
    digest, size = txn.store_inline(data)
    return txn.create(parent, segment, collection=False, digest=digest, size=size).key


def test_stored_inline_reads_back_by_digest(store: MetadataStore, blob_stored: BlobStored) -> None:
    with store.write() as txn:
        digest, size = txn.store_inline(b"hello")
        txn.create(txn.root.key, "f", collection=False, digest=digest, size=size)
    assert (digest, size) == (sha(b"hello"), 5)
    with store.read() as txn:
        assert txn.read_inline(digest) == b"hello"
        assert txn.read_inline(sha(b"other")) is None
    assert not blob_stored(digest)  # no file for it


@pytest.mark.parametrize("data", [b"", b"x", b"\x00" * INLINE_MAX])
def test_sizes_up_to_the_limit(store: MetadataStore, data: bytes) -> None:
    with store.write() as txn:
        inline_file(txn, txn.root.key, "f", data)
    with store.read() as txn:
        assert txn.read_inline(sha(data)) == data


def test_over_the_limit_is_refused_and_nothing_is_stored(store: MetadataStore) -> None:
    data = b"y" * (INLINE_MAX + 1)
    with store.write() as txn, pytest.raises(ValueError):
        txn.store_inline(data)
    with store.read() as txn:
        assert txn.read_inline(sha(data)) is None


def test_rolled_back_inline_content_is_not_kept(store: MetadataStore) -> None:
    with pytest.raises(RuntimeError), store.write() as txn:
        inline_file(txn, txn.root.key, "f", b"never committed")
        raise RuntimeError("abort")
    with store.read() as txn:
        assert txn.read_inline(sha(b"never committed")) is None
        assert txn.lookup(txn.root.key, "f") is None


def test_same_content_twice_is_stored_once_and_reclaimed_with_its_last_reference(
    store: MetadataStore,
) -> None:
    with store.write() as txn:
        root = txn.root.key
        inline_file(txn, root, "a", b"shared")
        inline_file(txn, root, "b", b"shared")
    with store.write() as txn:
        txn.unbind(root, "a")
    with store.read() as txn:
        assert txn.read_inline(sha(b"shared")) == b"shared"  # still referenced by b
    with store.write() as txn:
        txn.unbind(root, "b")
    with store.read() as txn:
        assert txn.read_inline(sha(b"shared")) is None


def test_content_released_and_reused_in_one_transaction_survives(
    store: MetadataStore,
) -> None:
    with store.write() as txn:
        root = txn.root.key
        inline_file(txn, root, "a", b"moving")
    with store.write() as txn:
        txn.unbind(root, "a")  # releases the content in this transaction ...
        inline_file(txn, root, "b", b"moving")  # ... and stores it again
    with store.read() as txn:
        assert txn.read_inline(sha(b"moving")) == b"moving"


def test_overwriting_inline_content_reclaims_the_old(store: MetadataStore) -> None:
    with store.write() as txn:
        key = inline_file(txn, txn.root.key, "f", b"old")
    with store.write() as txn:
        digest, size = txn.store_inline(b"new")
        txn.set_content(key, digest, size, None)
    with store.read() as txn:
        assert txn.read_inline(sha(b"old")) is None
        assert txn.read_inline(sha(b"new")) == b"new"


def test_a_digest_held_by_a_blob_file_is_not_stored_inline_again(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "file", b"same bytes")
        digest, size = txn.store_inline(b"same bytes")
        txn.create(txn.root.key, "small", collection=False, digest=digest, size=size)
    assert digest == f.digest and blob_stored(digest)
    with store.read() as txn:
        assert txn.read_inline(digest) is None  # readers find it in the blob store
    with store.write() as txn:
        txn.unbind(txn.root.key, "file")
    assert blob_stored(digest)  # "small" still references it
    with store.write() as txn:
        txn.unbind(txn.root.key, "small")
    assert not blob_stored(digest)


def test_copies_share_inline_content(store: MetadataStore) -> None:
    with store.write() as txn:
        root = txn.root.key
        inline_file(txn, root, "a", b"copied")
        source = txn.lookup(root, "a")
        assert source is not None and source.digest is not None
        txn.create(root, "b", collection=False, digest=source.digest, size=source.size)
    with store.write() as txn:
        txn.unbind(root, "a")
    with store.read() as txn:
        assert txn.read_inline(sha(b"copied")) == b"copied"
