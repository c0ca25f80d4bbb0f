"""Content addressing (docs/architecture.md, "the model"): SHA-256, stored once.

Identical content shares one blob whoever uploads it; a blob goes when the last resource
using it goes (after commit); uploads stream to a temporary object that is dropped when
the content exists already, on abort, and by the startup sweep.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest

from davbind.storage.blobs_file import FileBlobStore, FileUpload
from davbind.storage.blobs_s3 import S3BlobStore
from davbind.storage.interface import BlobStore, MetadataStore, Txn
from davbind.storage.model import Resource

MakeFile = Callable[..., Resource]
PutBlob = Callable[[Txn, bytes], tuple[str, int]]
BlobStored = Callable[[str], bool]


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _read(blobs: BlobStore, digest: str) -> bytes:
    with blobs.open(digest) as f:
        return f.read()


def _tmp_files(blobs: BlobStore) -> list[Path]:
    assert isinstance(blobs, FileBlobStore)
    return sorted(blobs.tmp.iterdir())


def _leftovers(blobs: BlobStore) -> list[str]:
    """Upload data that no stored digest uses: temporary files of the file store, data
    objects no manifest names in the S3 store."""
    if isinstance(blobs, FileBlobStore):
        return [str(path) for path in _tmp_files(blobs)]
    assert isinstance(blobs, S3BlobStore)
    return blobs.orphans(min_age=-60)


def _file_only(blobs: BlobStore) -> None:
    """Skip tests of the file store's temporary files (test_blobs_s3.py has the S3
    counterparts)."""
    if not isinstance(blobs, FileBlobStore):
        pytest.skip("about the file blob store's temporary files")


# -- uploads -------------------------------------------------------------------------------


def test_upload_hashes_while_streaming(blobs: BlobStore) -> None:
    chunks = [b"a" * 70000, b"", b"b" * 3, "é".encode()]
    upload = blobs.begin()
    for chunk in chunks:
        upload.write(chunk)
    data = b"".join(chunks)
    assert upload.finish() == (_sha(data), len(data))
    assert upload.finish() == (_sha(data), len(data))  # idempotent
    blobs.commit(upload)
    assert _read(blobs, _sha(data)) == data
    assert _sha(data) in set(blobs.digests())


def test_empty_upload(store: MetadataStore, make_file: MakeFile, blobs: BlobStore) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "empty", b"")
    assert (f.digest, f.size) == (_sha(b""), 0)
    assert _read(blobs, _sha(b"")) == b""


def test_uncommitted_upload_is_not_visible(blobs: BlobStore) -> None:
    upload = blobs.begin()
    upload.write(b"not yet")
    digest, _ = upload.finish()
    assert digest not in set(blobs.digests())
    path = blobs.path(digest)
    assert path is None or not path.exists()
    upload.abort()


def test_commit_is_idempotent(blobs: BlobStore) -> None:
    upload = blobs.begin()
    upload.write(b"twice")
    blobs.commit(upload)
    blobs.commit(upload)
    assert _read(blobs, _sha(b"twice")) == b"twice"


def test_abort_removes_the_temporary_file(blobs: BlobStore) -> None:
    _file_only(blobs)
    upload = blobs.begin()
    assert isinstance(upload, FileUpload)
    upload.write(b"partial")
    assert upload.tmp_path.exists()
    upload.abort()
    assert not upload.tmp_path.exists()
    upload.abort()  # twice is harmless
    assert _tmp_files(blobs) == []
    assert list(blobs.digests()) == []


def test_abort_after_finish_removes_the_temporary_file(blobs: BlobStore) -> None:
    _file_only(blobs)
    upload = blobs.begin()
    assert isinstance(upload, FileUpload)
    upload.write(b"finished, then abandoned")
    upload.finish()
    upload.abort()
    assert _tmp_files(blobs) == []
    assert list(blobs.digests()) == []


def test_sweep_tmp_clears_leftovers(blobs: BlobStore) -> None:
    _file_only(blobs)
    assert isinstance(blobs, FileBlobStore)
    for data in (b"one", b"two"):
        upload = blobs.begin()
        upload.write(data)  # never finished: as if the process died
    done = blobs.begin()
    done.write(b"kept")
    blobs.commit(done)
    (blobs.tmp / "stray").write_bytes(b"x")
    assert len(_tmp_files(blobs)) == 3
    assert blobs.sweep_tmp() == 3
    assert _tmp_files(blobs) == []
    assert blobs.sweep_tmp() == 0
    assert list(blobs.digests()) == [_sha(b"kept")]


def test_delete_is_idempotent(blobs: BlobStore) -> None:
    upload = blobs.begin()
    upload.write(b"gone")
    blobs.commit(upload)
    blobs.delete(_sha(b"gone"))
    blobs.delete(_sha(b"gone"))
    assert list(blobs.digests()) == []


# -- content addressing through the metadata store -----------------------------------------


def test_store_blob_of_existing_digest_drops_the_temp_file(
    store: MetadataStore, blobs: BlobStore, put_blob: PutBlob
) -> None:
    _file_only(blobs)
    with store.write() as txn:
        first = put_blob(txn, b"same bytes")
        txn.create(txn.root.key, "a", collection=False, digest=first[0], size=first[1])
    path = blobs.path(first[0])
    assert path is not None
    before = path.stat()
    with store.write() as txn:
        upload = blobs.begin()
        assert isinstance(upload, FileUpload)
        upload.write(b"same bytes")
        assert txn.store_blob(upload) == first
        assert not upload.tmp_path.exists()
    assert _tmp_files(blobs) == []
    assert path.stat().st_ino == before.st_ino
    assert list(blobs.digests()) == [first[0]]


def test_identical_content_is_stored_once(
    store: MetadataStore, make_file: MakeFile, blobs: BlobStore
) -> None:
    with store.write() as txn:
        a = txn.create(txn.root.key, "a", collection=True)
        f = make_file(txn, a.key, "f.txt", b"identical")
        g = make_file(txn, txn.root.key, "other-name.bin", b"identical", "application/x-y")
    with store.write() as txn:
        h = make_file(txn, a.key, "later", b"identical")
    assert f.digest == g.digest == h.digest == _sha(b"identical")
    assert len({f.key, g.key, h.key}) == 3
    assert list(blobs.digests()) == [f.digest]
    assert _leftovers(blobs) == []
    assert g.content_type == "application/x-y"


def test_shared_blob_lives_until_its_last_user_goes(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"shared")
        make_file(txn, txn.root.key, "g", b"shared")
    assert f.digest is not None
    with store.write() as txn:
        txn.unbind(txn.root.key, "f")
    assert blob_stored(f.digest)
    with store.write() as txn:
        txn.unbind(txn.root.key, "g")
    assert not blob_stored(f.digest)


def test_set_content_releases_old_blob_when_unused(
    store: MetadataStore, make_file: MakeFile, put_blob: PutBlob, blob_stored: BlobStored,
    blobs: BlobStore,
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"version one")
    old = f.digest
    assert old is not None
    with store.write() as txn:
        digest, size = put_blob(txn, b"version two")
        txn.set_content(f.key, digest, size, "text/plain")
        # deleted only after commit (no blob_stored here: it waits for the flusher,
        # which needs the write lock this transaction holds)
        assert old in set(blobs.unsettled_digests())  # type: ignore[attr-defined]
    assert not blob_stored(old)
    assert blob_stored(digest)


def test_set_content_keeps_old_blob_used_elsewhere(
    store: MetadataStore,
    make_file: MakeFile,
    put_blob: PutBlob,
    blobs: BlobStore,
    blob_stored: BlobStored,
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"common")
        g = make_file(txn, txn.root.key, "g", b"common")
    assert f.digest is not None
    with store.write() as txn:
        digest, size = put_blob(txn, b"f only")
        txn.set_content(f.key, digest, size, None)
    assert blob_stored(f.digest)
    assert _read(blobs, f.digest) == b"common"
    with store.write() as txn:
        txn.set_content(g.key, digest, size, None)
    assert not blob_stored(f.digest)
    assert list(blobs.digests()) == [digest]


def test_set_content_to_the_same_digest_keeps_the_blob(
    store: MetadataStore, make_file: MakeFile, put_blob: PutBlob, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"unchanged")
    with store.write() as txn:
        digest, size = put_blob(txn, b"unchanged")
        txn.set_content(f.key, digest, size, None)
    assert digest == f.digest
    assert blob_stored(digest)


def test_release_and_reuse_in_one_transaction(
    store: MetadataStore, make_file: MakeFile, blobs: BlobStore, blob_stored: BlobStored
) -> None:
    # DELETE then PUT of the same bytes in one transaction: the blob must survive.
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"phoenix")
    with store.write() as txn:
        txn.unbind(txn.root.key, "f")
        g = make_file(txn, txn.root.key, "g", b"phoenix")
    assert g.digest == f.digest and g.digest is not None
    assert blob_stored(g.digest)
    assert _read(blobs, g.digest) == b"phoenix"


def test_reupload_after_release_in_a_later_transaction(
    store: MetadataStore, make_file: MakeFile, blobs: BlobStore, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"again")
    with store.write() as txn:
        txn.unbind(txn.root.key, "f")
    assert f.digest is not None and not blob_stored(f.digest)
    with store.write() as txn:
        make_file(txn, txn.root.key, "f", b"again")
    assert blob_stored(f.digest)
    assert _read(blobs, f.digest) == b"again"


def test_rolled_back_release_keeps_the_blob(
    store: MetadataStore, make_file: MakeFile, put_blob: PutBlob, blob_stored: BlobStored
) -> None:
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"stay")
    assert f.digest is not None
    with pytest.raises(RuntimeError), store.write() as txn:
        digest, size = put_blob(txn, b"replacement")
        txn.set_content(f.key, digest, size, None)
        raise RuntimeError("abort")
    assert blob_stored(f.digest)
    with store.read() as txn:
        assert txn.get(f.key).digest == f.digest


def test_failed_write_after_release_does_not_delete_later(
    store: MetadataStore, make_file: MakeFile, blob_stored: BlobStored
) -> None:
    # A rolled-back release must leave no pending deletion behind for the next commit.
    with store.write() as txn:
        f = make_file(txn, txn.root.key, "f", b"pending?")
    assert f.digest is not None
    with pytest.raises(RuntimeError), store.write() as txn:
        txn.unbind(txn.root.key, "f")
        raise RuntimeError("abort")
    with store.write() as txn:
        g = make_file(txn, txn.root.key, "g", b"something else")
        txn.unbind(txn.root.key, "g")
    assert g.digest is not None and not blob_stored(g.digest)
    assert blob_stored(f.digest)
