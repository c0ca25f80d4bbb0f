"""The S3 blob store's own rules (storage/blobs_s3.py): data objects and manifests,
multipart streaming, ranged reads, orphan sweeps, URLs, and an unreachable store.

The contract every blob store keeps runs over it in the rest of tests/storage (the
``s3`` parameter of the ``blobs`` fixture); these tests need the S3 service of the tests
(``s3_blob_url``) except where the store is unreachable on purpose.
"""

from __future__ import annotations

import hashlib
import io
import json
import socket
from pathlib import Path

import obstore
import pytest

from davbind.storage.blobs_s3 import PART, S3BlobStore, S3Upload, store_from_url
from davbind.storage.model import Unavailable
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.s3_reader import STREAM_CHUNK


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def s3(s3_blob_url: str) -> S3BlobStore:
    blobs = open_blobs(s3_blob_url)
    assert isinstance(blobs, S3BlobStore)
    return blobs


def _keys(blobs: S3BlobStore) -> list[str]:
    return sorted(meta["path"] for batch in obstore.list(blobs._store) for meta in batch)


def _put(blobs: S3BlobStore, data: bytes) -> S3Upload:
    upload = blobs.begin()
    upload.write(data)
    blobs.commit(upload)
    return upload


def test_layout_is_a_manifest_per_digest_and_a_data_object(s3: S3BlobStore) -> None:
    upload = _put(s3, b"hello")
    digest = _sha(b"hello")
    manifest_key = f"{digest[:2]}/{digest[2:4]}/{digest}"
    assert _keys(s3) == sorted([manifest_key, upload.key])
    manifest = json.loads(bytes(obstore.get(s3._store, manifest_key).bytes()))
    assert manifest == {"data": upload.key, "size": 5}
    assert bytes(obstore.get(s3._store, upload.key).bytes()) == b"hello"
    assert s3.path(digest) is None
    assert s3.durable is True


def test_large_upload_is_streamed_in_parts(s3: S3BlobStore) -> None:
    data = bytes(range(256)) * (4096 * 10)  # 10 MiB, written in 1 MiB pieces
    upload = s3.begin()
    for i in range(0, len(data), 1024 * 1024):
        upload.write(data[i : i + 1024 * 1024])
    assert upload.finish() == (_sha(data), len(data))
    assert s3.commit(upload) is True
    meta = obstore.head(s3._store, upload.key)
    parts = -(-len(data) // PART)
    assert parts > 1
    assert str(meta["e_tag"]).strip('"').endswith(f"-{parts}")  # a multipart upload
    assert s3.verify(_sha(data))


def test_second_upload_of_a_digest_drops_its_data(s3: S3BlobStore) -> None:
    first = _put(s3, b"same")
    second = s3.begin()
    second.write(b"same")
    assert s3.commit(second) is False
    assert s3.commit(first) is False  # committing twice changes nothing
    assert _keys(s3) == sorted([first.key, f"{_sha(b'same')[:2]}/{_sha(b'same')[2:4]}/"
                                           f"{_sha(b'same')}"])
    second.abort()  # harmless after the drop
    with s3.open(_sha(b"same")) as fh:
        assert fh.read() == b"same"


def test_abort_leaves_nothing(s3: S3BlobStore) -> None:
    unfinished = s3.begin()
    unfinished.write(b"x" * (PART + 1))  # one part sent already
    unfinished.abort()
    unfinished.abort()
    finished = s3.begin()
    finished.write(b"finished, then abandoned")
    finished.finish()
    assert _keys(s3) == [finished.key]
    finished.abort()
    assert _keys(s3) == []
    assert list(s3.digests()) == []
    committed = _put(s3, b"kept")
    committed.abort()  # its manifest names it: kept
    assert list(s3.digests()) == [_sha(b"kept")]
    with pytest.raises(ValueError, match="aborted"):
        unfinished.write(b"more")


def test_reader_reads_the_ranges_asked_for(s3: S3BlobStore) -> None:
    data = bytes(range(256)) * 1000
    _put(s3, data)
    with s3.open(_sha(data)) as fh:
        assert fh.seek(0, io.SEEK_END) == len(data)
        assert fh.seek(1000) == 1000
        assert fh.read(10) == data[1000:1010]
        assert fh.tell() == 1010
        assert fh.seek(-5, io.SEEK_CUR) == 1005
        buffer = bytearray(7)
        assert fh.readinto(buffer) == 7  # type: ignore[attr-defined]
        assert bytes(buffer) == data[1005:1012]
        fh.seek(len(data) - 3)
        assert fh.read(100) == data[-3:]
        assert fh.read(100) == b""
        fh.seek(len(data) + 10)
        assert fh.read() == b""
        fh.seek(0)
        assert fh.read() == data
        with pytest.raises(ValueError):
            fh.seek(-1)


def test_reader_streams_an_advised_span(s3: S3BlobStore) -> None:
    data = bytes(range(256)) * 20_000  # 5 MB: several pieces of the stream
    _put(s3, data)
    with s3.open(_sha(data)) as fh:
        fh.seek(100)
        fh.advise(3_000_000)  # type: ignore[attr-defined]
        got = [fh.read(1_000_000) for _ in range(2)]
        assert b"".join(got) == data[100:2_000_100]
        assert fh.read(1_500_000) == data[2_000_100:3_000_100]  # the span ends here ...
        assert fh.read(10) == data[3_000_100:3_000_110]  # ... a ranged GET goes on
        fh.seek(0)
        fh.advise(len(data) + 10)  # past the end: up to the end
        assert fh.read(200) == data[:200]
        fh.seek(4_000_000)  # leaves the span
        assert fh.read(5) == data[4_000_000:4_000_005]
        fh.seek(0)
        fh.advise(len(data))
        assert fh.read() == data
        assert fh.read(1) == b""


def test_read_view_hands_on_the_stream_pieces_exactly(s3: S3BlobStore) -> None:
    """``read_view`` returns the advised span's pieces as they came (each at most the
    size asked, a view into the client library's buffer: read-only, not a copy), and
    together exactly the span: a range that starts and ends inside pieces included."""
    data = bytes(range(256)) * 40_000  # 10 MB: several pieces of STREAM_CHUNK
    _put(s3, data)
    with s3.open(_sha(data)) as fh:
        start, length = 1_234_567, 6_000_001
        fh.seek(start)
        fh.advise(length)  # type: ignore[attr-defined]
        views: list[memoryview] = []
        while fh.tell() < start + length:
            view = fh.read_view(start + length - fh.tell())  # type: ignore[attr-defined]
            assert view, "a view ended before the span did"
            views.append(view)
        assert b"".join(views) == data[start : start + length]
        assert len(views) > 1 and all(view.readonly for view in views)
        assert fh.read_view(1000) == data[start + length : start + length + 1000]  # type: ignore[attr-defined]
        small = fh.read_view(7)  # type: ignore[attr-defined]
        assert len(small) == 7 and fh.tell() == start + length + 1007
        fh.seek(len(data) - 3)
        fh.advise(100)  # type: ignore[attr-defined]
        assert fh.read_view(100) == data[-3:]  # type: ignore[attr-defined]
        assert fh.read_view(100) == b""  # type: ignore[attr-defined]
        # without an advised span, asking for all that is left reads one bounded range
        fh.seek(100)
        first = fh.read_view(len(data))  # type: ignore[attr-defined]
        assert first == data[100 : 100 + STREAM_CHUNK] and fh.tell() == 100 + STREAM_CHUNK


def test_missing_content(s3: S3BlobStore) -> None:
    digest = _sha(b"never stored")
    with pytest.raises(FileNotFoundError):
        s3.open(digest)
    assert s3.verify(digest) is False
    assert s3.sync(digest) is False
    s3.delete(digest)  # nothing to do


def test_verify_finds_damaged_data(s3: S3BlobStore) -> None:
    upload = _put(s3, b"original bytes")
    digest = _sha(b"original bytes")
    assert s3.verify(digest) and s3.sync(digest)
    obstore.put(s3._store, upload.key, b"Original bytes")  # same size, other bytes
    assert s3.verify(digest) is False
    obstore.put(s3._store, upload.key, b"original bytes!")
    assert s3.verify(digest) is False


def test_delete_removes_manifest_and_data(s3: S3BlobStore) -> None:
    _put(s3, b"gone")
    _put(s3, b"stays")
    s3.delete(_sha(b"gone"))
    s3.delete(_sha(b"gone"))
    assert list(s3.digests()) == [_sha(b"stays")]
    assert len(_keys(s3)) == 2


def test_sweep_removes_only_old_unnamed_data(s3: S3BlobStore) -> None:
    kept = _put(s3, b"named")
    stray = s3.begin()
    stray.write(b"uploaded, never committed")
    stray.finish()
    assert s3.sweep_data() == 0  # young: may be about to be committed
    assert s3.orphans(min_age=-60) == [stray.key]
    assert s3.sweep_data(min_age=-60) == 1
    assert sorted(_keys(s3)) == sorted([kept.key, *(
        f"{d[:2]}/{d[2:4]}/{d}" for d in [_sha(b"named")])])


def test_urls() -> None:
    assert isinstance(open_blobs("s3://bucket/some/prefix?region=eu-west-1"), S3BlobStore)
    with pytest.raises(ValueError, match="unknown parameter"):
        store_from_url("s3://bucket/p?endpont=http://x")
    with pytest.raises(ValueError, match="no bucket"):
        store_from_url("s3:///p")


def _unsigned(url: str) -> bool:
    config = store_from_url(url).config  # type: ignore[attr-defined]
    return str(config.get("unsigned_payload", "false")).lower() == "true"


def test_payload_is_unsigned_over_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over HTTPS the payload is not hashed for the signature (TLS protects it); over
    plain HTTP it is; ``AWS_UNSIGNED_PAYLOAD``, when set, decides (the client library
    reads it itself, so the store's explicit configuration leaves it alone)."""
    monkeypatch.delenv("AWS_UNSIGNED_PAYLOAD", raising=False)
    assert _unsigned("s3://b/p?region=eu-west-1")  # AWS itself: HTTPS
    assert _unsigned("s3://b/p?endpoint=https://s3.example")
    assert not _unsigned("s3://b/p?endpoint=http://127.0.0.1:9")
    monkeypatch.setenv("AWS_UNSIGNED_PAYLOAD", "false")
    assert not _unsigned("s3://b/p")


def test_unsigned_payload_uploads(s3_blob_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The S3 service of the tests takes an unsigned payload (``AWS_UNSIGNED_PAYLOAD``)
    for a single PUT and for a multipart upload alike."""
    monkeypatch.setenv("AWS_UNSIGNED_PAYLOAD", "true")
    blobs = open_blobs(s3_blob_url)
    assert isinstance(blobs, S3BlobStore)
    for data in (b"small", bytes(range(256)) * (PART // 256 * 2 + 7)):
        _put(blobs, data)
        with blobs.open(_sha(data)) as fh:
            assert fh.read() == data
        assert blobs.verify(_sha(data))


def test_verify_reads_parameter(s3_blob_url: str) -> None:
    """``verify_reads``: off by default, on when the URL says so, and its readers say it
    (a GET hashes whole content only from such a reader); a value that is not a boolean
    is a clear error."""
    data = b"v" * 1000
    off = open_blobs(s3_blob_url)
    assert isinstance(off, S3BlobStore) and off.verify_reads is False
    _put(off, data)
    with off.open(_sha(data)) as fh:
        assert fh.verify_reads is False  # type: ignore[attr-defined]
    on = open_blobs(f"{s3_blob_url}&verify_reads=true")
    assert isinstance(on, S3BlobStore) and on.verify_reads is True
    with on.open(_sha(data)) as fh:
        assert fh.verify_reads is True  # type: ignore[attr-defined]
    assert S3BlobStore.from_url(f"{s3_blob_url}&verify_reads=False").verify_reads is False
    with pytest.raises(ValueError, match="verify_reads must be true or false"):
        S3BlobStore.from_url(f"{s3_blob_url}&verify_reads=sometimes")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_unreachable_store_is_unavailable_and_keeps_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    blobs = open_blobs(f"s3://bucket/p?endpoint=http://127.0.0.1:{_closed_port()}")
    with pytest.raises(Unavailable, match="object store is unavailable"):
        blobs.open(_sha(b"x"))
    big = blobs.begin()
    with pytest.raises(Unavailable):
        big.write(b"x" * (PART + 1))  # the multipart upload cannot start
    big.abort()
    store = open_metadata(f"sqlite://{tmp_path}/meta.sqlite3", blobs)
    try:
        with pytest.raises(Unavailable), store.write() as txn:
            upload = blobs.begin()
            upload.write(b"y" * 100_000)  # one PUT, sent by finish
            digest, size = txn.store_blob(upload)
            txn.create(txn.root.key, "f", collection=False, digest=digest, size=size)
        with store.read() as txn:
            assert txn.lookup(txn.root.key, "f") is None
    finally:
        store.close()
