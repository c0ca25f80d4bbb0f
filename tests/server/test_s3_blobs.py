"""GET, HEAD and PUT over a blob store without local files (``blobs_url = s3://``).

Content comes through ``BlobStore.open`` (ranged reads), never ``sendfile``; the size
check of a GET works without a file descriptor; an object store that cannot be reached
refuses a PUT and keeps nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import obstore
import pytest
from click.testing import CliRunner

from davbind.cli.fsck_cmd import fsck_cmd
from davbind.storage.blobs_s3 import store_from_url
from davbind.storage.model import Damaged

Dav = Any


def _body(size: int) -> bytes:
    return hashlib.sha256(b"seed").digest() * (size // 32) + b"t" * (size % 32)


def test_get_and_ranges_from_s3(make_dav: Callable[..., Dav], s3_blob_url: str) -> None:
    dav = make_dav(blobs_url=s3_blob_url)
    large = _body(3 * 1024 * 1024 + 5)  # sent in chunks (filebody)
    medium = _body(100_000)  # read whole, digest-checked
    assert dav.request("PUT", "/large.bin", content=large).status_code == 201
    assert dav.request("PUT", "/medium.bin", content=medium).status_code == 201

    got = dav.request("GET", "/large.bin")
    assert got.status_code == 200 and got.content == large
    assert dav.request("GET", "/medium.bin").content == medium
    head = dav.request("HEAD", "/large.bin")
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(large))

    start, end = 2 * 1024 * 1024 - 7, 2 * 1024 * 1024 + 100  # a small range of a large file
    part = dav.request("GET", "/large.bin", {"Range": f"bytes={start}-{end}"})
    assert part.status_code == 206
    assert part.content == large[start : end + 1]
    tail = dav.request("GET", "/large.bin", {"Range": "bytes=1000-"})  # a large range
    assert tail.status_code == 206 and tail.content == large[1000:]
    assert dav.request("GET", "/medium.bin", {"Range": "bytes=-10"}).content == medium[-10:]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_put_to_unreachable_store_is_503_and_keeps_nothing(
    make_dav: Callable[..., Dav], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    dav = make_dav(blobs_url=f"s3://bucket/p?endpoint=http://127.0.0.1:{_closed_port()}")
    put = dav.request("PUT", "/f.bin", content=_body(1024 * 1024))
    assert dav.request("GET", "/f.bin").status_code == 404  # nothing committed
    assert put.status_code == 503


def _replace(s3_blob_url: str, content: bytes, new: bytes) -> None:
    """Overwrite ``content``'s data object with ``new``, behind davbind's back."""
    digest = hashlib.sha256(content).hexdigest()
    store = store_from_url(s3_blob_url)
    manifest = json.loads(bytes(obstore.get(store, f"{digest[:2]}/{digest[2:4]}/{digest}").bytes()))
    obstore.put(store, manifest["data"], new)


def _damage(s3_blob_url: str, content: bytes) -> bytes:
    """Flip one byte of ``content``'s data object (same size); returns the new bytes."""
    damaged = bytearray(content)
    damaged[3 * 1024 * 1024] ^= 1
    _replace(s3_blob_url, content, bytes(damaged))
    return bytes(damaged)


def test_damaged_object_is_not_sent_whole(make_dav: Callable[..., Dav], s3_blob_url: str,
                                         caplog: pytest.LogCaptureFixture) -> None:
    """With ``verify_reads=true``, content changed in the object store behind davbind's
    back (same size, one byte flipped) fails the GET before its last chunk: the hash of
    the chunks, computed beside the reads, is checked before the last one goes out."""
    dav = make_dav(blobs_url=f"{s3_blob_url}&verify_reads=true")
    large = _body(5 * 1024 * 1024 + 5)
    assert dav.request("PUT", "/large.bin", content=large).status_code == 201
    _damage(s3_blob_url, large)

    with caplog.at_level(logging.ERROR, logger="davbind"), pytest.raises(Damaged):
        dav.request("GET", "/large.bin")
    assert "integrity error" in caplog.text


def test_damage_unchecked_by_get_is_found_by_fsck(
    make_dav: Callable[..., Dav], s3_blob_url: str, tmp_path: Path
) -> None:
    """By default a GET of whole large content from the object store is not hashed (as a
    local file sent with sendfile is not): the damaged bytes go out, and ``davbind fsck``
    (which reads and hashes every content; ``--quick`` only checks sizes) finds them;
    ``--mark`` then makes the GET fail."""
    dav = make_dav(blobs_url=s3_blob_url)
    large = _body(5 * 1024 * 1024 + 5)
    assert dav.request("PUT", "/large.bin", content=large).status_code == 201
    damaged = _damage(s3_blob_url, large)
    got = dav.request("GET", "/large.bin")
    assert got.status_code == 200 and got.content == damaged
    assert dav.request("GET", "/large.bin", {"Range": "bytes=0-9"}).content == large[:10]

    runner = CliRunner()
    env = {"DAVBIND_BLOBS_URL": s3_blob_url}
    if dav.metadata_url:  # the postgresql+s3 pass: fsck must open the same metadata store
        env["DAVBIND_METADATA_URL"] = dav.metadata_url
    data_dir = str(tmp_path / "data")
    quick = runner.invoke(fsck_cmd, ["--quick", data_dir], env=env)
    assert quick.exit_code == 0, quick.output
    full = runner.invoke(fsck_cmd, [data_dir], env=env)
    assert full.exit_code == 1, full.output
    digest = hashlib.sha256(large).hexdigest()
    assert "/large.bin: digest mismatch" in full.output and digest in full.output
    marked = runner.invoke(fsck_cmd, ["--mark", data_dir], env=env)
    assert marked.exit_code == 0, marked.output
    assert dav.request("GET", "/large.bin").status_code == 500


def test_object_of_another_size_fails_before_the_status_line(
    make_dav: Callable[..., Dav], s3_blob_url: str
) -> None:
    """A data object replaced by one of another size is an integrity error when a large
    GET opens its stream (the answer says the object's size), hash or no hash: a 500,
    not a cut transfer."""
    dav = make_dav(blobs_url=s3_blob_url)
    large = _body(5 * 1024 * 1024 + 5)
    assert dav.request("PUT", "/large.bin", content=large).status_code == 201
    _replace(s3_blob_url, large, large[:-1000])
    got = dav.request("GET", "/large.bin")
    assert got.status_code == 500
    assert dav.request("GET", "/large.bin", {"Range": "bytes=1000-"}).status_code == 500
