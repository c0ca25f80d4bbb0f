"""A full disk, a read-only data directory and damaged content, against real
``davbind serve`` processes.

The full-disk tests serve a data directory on a 50 MiB tmpfs (``mount -t tmpfs``, which
needs root): where mounting is refused they skip and say so.  CI is not assumed to be
able to mount, so there too a refused mount skips rather than fails.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

MiB = 1024 * 1024


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=50m", "tmpfs", str(mnt)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def _fill(c: httpx.Client, size: int, limit: int, first: int = 0) -> tuple[int, httpx.Response]:
    """PUT distinct files of ``size`` bytes until one is refused; (stored, refusal)."""
    for n in range(first, first + limit):
        r = c.put(f"/fill/f{n}", content=os.urandom(size))
        if r.status_code != 201:
            return n - first, r
    raise AssertionError(f"{limit} files of {size} bytes all stored on a 50 MiB disk")


def _fill_up(c: httpx.Client, first: int = 0) -> int:
    """Fill the disk with ever smaller files until even a small one is refused; returns
    the number stored.  (A write is accepted while it leaves 1 MiB free.)"""
    stored = 0
    for size in (MiB, 256 * 1024, 96 * 1024):
        n, refused = _fill(c, size, 80, first + stored)
        _assert_507(refused)
        stored += n
    return stored


def _assert_507(r: httpx.Response) -> None:
    assert r.status_code == 507, (r.status_code, r.text)
    assert "sufficient-disk-space" in r.text


def _blob_dir_files(data: Path) -> set[str]:
    return {p.name for p in (data / "blobs").glob("??/??/*")}


def test_full_disk_507_delete_frees_and_restart_serves(
    tmpfs: Path, server_factory: Callable[..., contextlib.AbstractContextManager[object]]
) -> None:
    data = tmpfs / "data"
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert c.request("MKCOL", "/fill").status_code == 201
        assert c.put("/keep.txt", content=b"kept").status_code == 201
        stored = _fill_up(c)
        assert stored >= 30  # 50 MiB minus the 8 MiB reserve and the database
        # nothing of the refused PUTs stays: no resource, no blob file, no temporary file
        assert c.get(f"/fill/f{stored}").status_code == 404
        assert not list((data / "blobs" / "tmp").iterdir())
        assert len(_blob_dir_files(data)) == stored  # keep.txt is inline: no file
        # every other kind of write is refused too, with the same answer
        _assert_507(c.put("/small.txt", content=b"x" * 100))
        _assert_507(c.request("MKCOL", "/newdir"))
        prop = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">'
                b"<D:set><D:prop><Z:p>v</Z:p></D:prop></D:set></D:propertyupdate>")
        _assert_507(c.request("PROPPATCH", "/keep.txt", content=prop))
        assert "cannot rollback" not in srv.log_tail()  # type: ignore[attr-defined]
        # DELETE works and frees space: a PUT then succeeds
        for n in range(3):
            assert c.delete(f"/fill/f{n}").status_code == 204
        assert c.put("/after-delete", content=os.urandom(MiB)).status_code == 201
        assert c.get("/keep.txt").content == b"kept"
    # something else fills the disk while the server is stopped: it must still start
    _fill_file(tmpfs / "filler")
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert c.get("/keep.txt").content == b"kept"
        assert c.get("/fill/f5").status_code == 200
        assert c.request("PROPFIND", "/fill/", headers={"Depth": "1"}).status_code == 207
        _assert_507(c.put("/x", content=os.urandom(MiB)))
        _assert_507(c.put("/y", content=b"y"))
        _assert_507(c.request("MKCOL", "/z"))
        for n in range(3, 7):
            assert c.delete(f"/fill/f{n}").status_code == 204
        assert c.put("/after-restart", content=os.urandom(MiB)).status_code == 201
        log = srv.log_tail()  # type: ignore[attr-defined]
        assert "is full" in log
        assert "Traceback" not in log and "cannot rollback" not in log, log


def test_stopped_while_full_then_filled_from_outside_still_starts(
    tmpfs: Path, server_factory: Callable[..., contextlib.AbstractContextManager[object]]
) -> None:
    """The server stops while the disk is full (its reserve already given back), then
    something else takes the last free bytes: it must still start and serve reads."""
    data = tmpfs / "data"
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert c.request("MKCOL", "/fill").status_code == 201
        assert c.put("/keep.txt", content=b"kept").status_code == 201
        stored = _fill_up(c)
        assert not (data / "reserve").exists()
        assert (data / "reserve-open").exists()
    _fill_file(tmpfs / "filler")
    assert os.statvfs(tmpfs).f_bavail == 0
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert not (data / "reserve-open").exists()  # given to the database's open
        log = srv.log_tail()  # type: ignore[attr-defined]
        assert "released the 262144-byte opening reserve" in log, log
        assert c.get("/keep.txt").content == b"kept"
        assert c.get("/fill/f5").status_code == 200
        assert c.request("PROPFIND", "/fill/", headers={"Depth": "1"}).status_code == 207
        _assert_507(c.put("/x", content=os.urandom(MiB)))
        _assert_507(c.put("/y", content=b"y"))
        # the first 1 MiB files: enough for the reserve, its margin and one more upload
        for n in range(14):
            assert c.delete(f"/fill/f{n}").status_code == 204, n
        assert c.put("/after-restart", content=os.urandom(MiB)).status_code == 201
        assert (data / "reserve").exists() and (data / "reserve-open").exists()
        assert c.get(f"/fill/f{stored - 1}").status_code == 200
        log = srv.log_tail()  # type: ignore[attr-defined]
        assert "Traceback" not in log and "cannot rollback" not in log, log


def _fill_file(path: Path) -> None:
    with path.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass


def _serve_once(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "davbind.cli.main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_read_only_data_dir_serves_reads_and_refuses_writes(
    tmpfs: Path, server_factory: Callable[..., contextlib.AbstractContextManager[object]]
) -> None:
    data = tmpfs / "data"
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert c.put("/a.txt", content=b"alpha").status_code == 201
        assert c.put("/big.bin", content=b"b" * (300 * 1024)).status_code == 201
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        assert c.get("/a.txt").content == b"alpha"
        assert c.get("/big.bin").content == b"b" * (300 * 1024)
        assert c.request("PROPFIND", "/", headers={"Depth": "1"}).status_code == 207
        for r in (c.put("/new", content=b"n"), c.delete("/a.txt"),
                  c.put("/large", content=b"l" * (3 * MiB)), c.request("MKCOL", "/d")):
            assert r.status_code == 503, (r.status_code, r.text)
            assert "read-only" in r.text
        log = srv.log_tail()  # type: ignore[attr-defined]
        assert "is read-only: serving reads only" in log
        assert "Traceback" not in log, log


def _digest_of(data: Path) -> Callable[[bytes], Path]:
    def path(content: bytes) -> Path:
        d = hashlib.sha256(content).hexdigest()
        return data / "blobs" / d[:2] / d[2:4] / d
    return path


def test_missing_and_corrupt_blobs_then_fsck(
    tmp_path: Path, server_factory: Callable[..., contextlib.AbstractContextManager[object]]
) -> None:
    data = tmp_path / "data"
    gone = os.urandom(200 * 1024)
    flipped = os.urandom(150 * 1024)
    big = os.urandom(3 * MiB)
    path = _digest_of(data)
    with server_factory(data_dir=data) as srv, srv.client() as c:  # type: ignore[attr-defined]
        for name, body in (("gone.bin", gone), ("flipped.bin", flipped), ("big.bin", big),
                           ("fine.txt", b"fine")):
            assert c.put(f"/{name}", content=body).status_code == 201
        assert c.request("BIND", "/", headers={"Content-Type": "application/xml"}, content=(
            b'<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>gone-too.bin'
            b"</D:segment><D:href>/gone.bin</D:href></D:bind>")).status_code == 201
        path(gone).unlink()
        for target, damaged in ((path(flipped), flipped), (path(big), big)):
            target.chmod(0o644)
            target.write_bytes(bytes([damaged[0] ^ 1]) + damaged[1:])  # same size
        for method in ("GET", "HEAD"):
            r = c.request(method, "/gone.bin")
            assert r.status_code == 500, (method, r.status_code)
        assert "/gone.bin" in c.get("/gone.bin").text
        assert c.get("/flipped.bin").status_code == 500  # read whole: hashed
        # sent with sendfile: the bytes never pass through Python, so not hashed
        assert c.get("/big.bin").status_code == 200
        assert c.get("/fine.txt").content == b"fine"
        log = srv.log_tail(400)  # type: ignore[attr-defined]
        assert "integrity error: GET /gone.bin" in log
        assert "integrity error: HEAD /gone.bin" in log
        assert "integrity error: GET /flipped.bin" in log

        report = _serve_once(["fsck", str(data)], tmp_path)
        assert report.returncode == 1, report.stderr
        lines = sorted(report.stdout.splitlines())
        assert len(lines) == 3, report.stdout
        assert lines[0].startswith("/big.bin: digest mismatch")
        assert lines[1].startswith("/flipped.bin: digest mismatch")
        assert lines[2].startswith("/gone-too.bin, /gone.bin: missing")
        quick = _serve_once(["fsck", "--quick", str(data)], tmp_path)
        assert quick.returncode == 1 and quick.stdout.count("\n") == 1, quick.stdout

        marked = _serve_once(["fsck", "--mark", str(data)], tmp_path)
        assert marked.returncode == 0, marked.stderr
        r = c.get("/big.bin")
        assert r.status_code == 500 and "marked by fsck" in r.text
        assert c.head("/big.bin").status_code == 500

        refused = _serve_once(["fsck", "--remove", str(data)], tmp_path)
        assert refused.returncode == 1 and "add --yes" in refused.stderr
        assert c.get("/gone-too.bin").status_code == 500  # nothing removed yet
        removed = _serve_once(["fsck", "--remove", "--yes", str(data)], tmp_path)
        assert removed.returncode == 0, removed.stderr
        assert "removed 4 binding(s)" in removed.stderr
        for name in ("gone.bin", "gone-too.bin", "flipped.bin", "big.bin"):
            assert c.get(f"/{name}").status_code == 404
        assert c.get("/fine.txt").content == b"fine"
        clean = _serve_once(["fsck", str(data)], tmp_path)
        assert clean.returncode == 0 and clean.stdout == "", clean.stdout
