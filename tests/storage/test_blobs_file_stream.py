"""The file blob store's large-file paths (storage/blobs_file.py): batched ``writev``
writes, early writeback of completed windows, and deletion whose freeing happens in a
background thread.  Whatever the path, the bytes stored are the bytes written and the
digest is their SHA-256 (docs/architecture.md, "the model"); a deleted or aborted
file's name is gone when the call returns.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from davbind.storage import blobs_file
from davbind.storage.blobs_file import FileBlobStore, FileUpload


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path: Path) -> FileBlobStore:
    return FileBlobStore(tmp_path / "blobs")


def _stored(store: FileBlobStore, upload: FileUpload) -> bytes:
    store.commit(upload)
    assert upload.digest is not None
    with store.open(upload.digest) as f:
        return f.read()


def test_write_many_keeps_order_and_hash(store: FileBlobStore) -> None:
    rng = random.Random(3)
    chunks = [rng.randbytes(rng.choice((0, 1, 17, 4096, 70000))) for _ in range(3000)]
    upload = store.begin()
    for i in range(0, len(chunks), 700):  # batches of more than IOV_MAX pieces, too
        upload.write_many(chunks[i : i + 700] * 2)
    data = b"".join(b"".join(chunks[i : i + 700] * 2) for i in range(0, len(chunks), 700))
    assert upload.finish() == (_sha(data), len(data))
    assert _stored(store, upload) == data


def test_short_writes_are_completed(store: FileBlobStore, monkeypatch: Any) -> None:
    real_writev, real_write = os.writev, os.write

    def short_writev(fd: int, buffers: Any) -> int:
        first = bytes(buffers[0]) if buffers else b""
        return real_writev(fd, [first[: max(0, len(first) // 2 - 1)]])

    def short_write(fd: int, data: Any) -> int:
        return real_write(fd, bytes(data)[:1000])

    monkeypatch.setattr(blobs_file.os, "writev", short_writev)
    monkeypatch.setattr(blobs_file.os, "write", short_write)
    chunks = [b"a" * 5000, b"", b"b" * 3, b"c" * 12000]
    upload = store.begin()
    upload.write_many(chunks)
    upload.write(b"tail")
    monkeypatch.undo()
    data = b"".join(chunks) + b"tail"
    assert upload.finish() == (_sha(data), len(data))
    assert _stored(store, upload) == data


def test_windows_are_written_back_and_content_is_exact(
    store: FileBlobStore, monkeypatch: Any
) -> None:
    calls: list[tuple[int, int, int]] = []
    real = blobs_file._SYNC_FILE_RANGE

    def recording(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append((offset, nbytes, flags))
        return real(fd, offset, nbytes, flags) if real is not None else 0

    monkeypatch.setattr(blobs_file, "WINDOW", 4096)
    monkeypatch.setattr(blobs_file, "_SYNC_FILE_RANGE", recording)
    data = random.Random(5).randbytes(10 * 4096 + 123)
    upload = store.begin()
    for i in range(0, len(data), 3000):
        upload.write_many([data[i : i + 1000], data[i + 1000 : i + 3000]])
    assert upload.finish() == (_sha(data), len(data))
    assert _stored(store, upload) == data
    started = [(o, n) for o, n, f in calls if f == 2]
    waited = [(o, n) for o, n, f in calls if f == 7]
    # every byte written back is started once, in order, and waits lag two windows behind
    assert [o for o, _ in started] == sorted(o for o, _ in started)
    assert all(a[0] + a[1] == b[0] for a, b in itertools.pairwise(started))
    assert waited and waited[0][0] == 0
    assert all(o + n <= started[-2][0] for o, n in waited)


def test_abort_of_a_large_upload_removes_it_at_once(
    store: FileBlobStore, monkeypatch: Any
) -> None:
    monkeypatch.setattr(blobs_file, "LATE_CLOSE", 1024)
    upload = store.begin()
    upload.write_many([b"x" * 5000])
    upload.abort()
    assert list(store.tmp.iterdir()) == []
    upload.abort()


def test_abort_after_finish_of_a_large_upload(store: FileBlobStore, monkeypatch: Any) -> None:
    monkeypatch.setattr(blobs_file, "LATE_CLOSE", 1024)
    upload = store.begin()
    upload.write_many([b"y" * 5000])
    upload.finish()
    upload.abort()
    assert list(store.tmp.iterdir()) == []


@pytest.mark.parametrize("late_close", [1024, 1 << 40], ids=["late", "at-once"])
def test_delete_removes_the_name_before_returning(
    store: FileBlobStore, monkeypatch: Any, late_close: int
) -> None:
    monkeypatch.setattr(blobs_file, "LATE_CLOSE", late_close)
    upload = store.begin()
    upload.write_many([b"z" * 5000])
    store.commit(upload)
    digest = _sha(b"z" * 5000)
    path = store.path(digest)
    assert path is not None and path.exists()
    store.delete(digest)
    assert not path.exists()
    assert list(store.digests()) == []
    store.delete(digest)  # idempotent


def test_late_close_frees_the_descriptor(store: FileBlobStore, monkeypatch: Any) -> None:
    monkeypatch.setattr(blobs_file, "LATE_CLOSE", 1024)
    upload = store.begin()
    upload.write_many([b"w" * 5000])
    store.commit(upload)
    proc_fd = Path("/proc/self/fd")
    if not proc_fd.exists():
        pytest.skip("needs /proc")
    before = len(list(proc_fd.iterdir()))
    store.delete(_sha(b"w" * 5000))
    deadline = time.monotonic() + 5
    while len(list(proc_fd.iterdir())) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(list(proc_fd.iterdir())) <= before


def test_reupload_after_delete_of_the_same_digest(store: FileBlobStore) -> None:
    data = b"again and again" * 1000
    for _ in range(3):
        upload = store.begin()
        upload.write_many([data])
        store.commit(upload)
        assert list(store.digests()) == [_sha(data)]
        store.delete(_sha(data))
    assert list(store.digests()) == []


# --- freeing a deleted large file in steps (_free_gently) --------------------------------


def _deleted_file(tmp_path: Path, data: bytes) -> int:
    """A file holding ``data``, open read-write, its name already unlinked."""
    path = tmp_path / "gone"
    path.write_bytes(data)
    fd = os.open(path, os.O_RDWR)
    path.unlink()
    return fd


def test_free_gently_cuts_a_deleted_file_no_one_else_reads(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(blobs_file, "FREE_STEP", 4096)
    monkeypatch.setattr(blobs_file, "FREE_PAUSE", 0)
    cuts: list[int] = []
    real = os.ftruncate
    monkeypatch.setattr(os, "ftruncate", lambda fd, n: (cuts.append(n), real(fd, n))[1])
    fd = _deleted_file(tmp_path, os.urandom(3 * 4096 + 100))
    probe = os.dup(fd)  # the same open file description: does not count as another reader
    try:
        blobs_file._free_gently(fd)
        assert os.fstat(probe).st_size == 0
        assert cuts == [2 * 4096 + 100, 4096 + 100, 100, 0]  # from the end, one step each
    finally:
        os.close(fd)
        os.close(probe)


def test_free_gently_leaves_a_file_another_reader_still_reads(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(blobs_file, "FREE_STEP", 4096)
    data = os.urandom(5 * 4096)
    path = tmp_path / "gone"
    path.write_bytes(data)
    reader = os.open(path, os.O_RDONLY)  # a download of the old content, still running
    fd = os.open(path, os.O_RDWR)
    path.unlink()
    try:
        blobs_file._free_gently(fd)
        assert os.fstat(fd).st_size == len(data)
        assert os.pread(reader, len(data) + 1, 0) == data
    finally:
        os.close(fd)
        os.close(reader)


def test_free_gently_leaves_a_file_that_still_has_a_name(
    tmp_path: Path, monkeypatch: Any
) -> None:
    monkeypatch.setattr(blobs_file, "FREE_STEP", 4096)
    path = tmp_path / "kept"
    path.write_bytes(b"k" * 20000)
    fd = os.open(path, os.O_RDWR)
    try:
        blobs_file._free_gently(fd)
        assert path.read_bytes() == b"k" * 20000
    finally:
        os.close(fd)


def _large_blob_freed_in_steps(store: FileBlobStore, monkeypatch: Any) -> bytes:
    """Store 40 KiB that count as a large file, freed 4 KiB at a time; returns them."""
    monkeypatch.setattr(blobs_file, "LATE_CLOSE", 1024)
    monkeypatch.setattr(blobs_file, "FREE_STEP", 4096)
    monkeypatch.setattr(blobs_file, "FREE_PAUSE", 0)
    data = os.urandom(10 * 4096)
    upload = store.begin()
    upload.write_many([data])
    store.commit(upload)
    return data


def test_a_download_running_while_its_blob_is_deleted_gets_every_byte(
    store: FileBlobStore, monkeypatch: Any
) -> None:
    """The store deletes a blob (its resource was overwritten) while a GET of the old
    content is half way: the GET still reads all of it."""
    data = _large_blob_freed_in_steps(store, monkeypatch)
    digest = _sha(data)
    with store.open(digest) as download:
        first = download.read(4096)
        store.delete(digest)
        assert blobs_file._CLOSER.wait(timeout=10)
        assert first + download.read() == data
    assert list(store.digests()) == []


def test_a_deleted_blob_no_one_reads_is_cut_by_the_closer(
    store: FileBlobStore, monkeypatch: Any
) -> None:
    data = _large_blob_freed_in_steps(store, monkeypatch)
    freed: list[int] = []
    real = blobs_file._free_gently

    def spy(fd: int) -> None:
        real(fd)
        freed.append(os.fstat(fd).st_size)

    monkeypatch.setattr(blobs_file, "_free_gently", spy)
    store.delete(_sha(data))
    assert blobs_file._CLOSER.wait(timeout=10)
    assert freed == [0]
