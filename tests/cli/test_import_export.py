"""``davbind import`` / ``davbind export`` against the session's ``davbind serve``, and the
``serve --data`` refusal of a folder that is not a store.

The round trip is checked file by file (bytes, names, empty directories); resuming is
checked by counting what a second run sends; bindings by inode numbers.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from davbind.cli.bulk import MTIME_HEADER, MtimeTransport, Worker
from davbind.cli.export_cmd import plan
from davbind.cli.main import cli
from davbind.cli.serve import foreign_data_dir
from davbind.client import Client, fold_multistatus

NAMES = ["plain.txt", "ü-umlaut.txt", "名前.bin", "space name", "100%41", "hash#q?", "emoji-🙂"]


def run(*args: str) -> Result:
    env = {"DAVBIND_USER": "", "DAVBIND_PASSWORD": "", "NETRC": "/nonexistent"}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def make_tree(root: Path, files: int = 200, seed: int = 5842) -> None:
    """``files`` files in nested directories: empty, text, binary (some above the 64 KiB
    the server keeps inline), unicode and URL-special names, one empty directory."""
    rnd = random.Random(seed)
    dirs = [root]
    root.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        if i % 9 == 0:
            parent = rnd.choice(dirs)
            child = parent / f"{rnd.choice(NAMES)}-d{i}"
            child.mkdir()
            dirs.append(child)
        where = rnd.choice(dirs) / f"{i:03d}-{rnd.choice(NAMES)}"
        kind = i % 5
        if kind == 0:
            where.write_bytes(b"")
        elif kind == 1:
            where.write_bytes(rnd.randbytes(rnd.randrange(70_000, 200_000)))
        else:
            where.write_bytes(rnd.randbytes(rnd.randrange(1, 5000)))
        stamp = 1_500_000_000 + rnd.randrange(10**8)
        os.utime(where, (stamp, stamp))
    (root / "empty-dir").mkdir()


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for a directory)."""
    out: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        out[rel] = None if path.is_dir() else path.read_bytes()
    return out


@pytest.fixture
def space(davbind_url: str) -> str:
    return f"{davbind_url}t-{uuid.uuid4().hex[:8]}/"


def test_round_trip_of_200_files_is_identical(space: str, tmp_path: Path) -> None:
    make_tree(tmp_path / "src")
    result = run("import", str(tmp_path / "src"), space + "tree/")
    assert result.exit_code == 0, result.output
    assert "imported 200 files" in result.stdout
    assert "0 already there" in result.stdout
    result = run("export", space + "tree/", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert "exported 200 files" in result.stdout
    assert snapshot(tmp_path / "out") == snapshot(tmp_path / "src")
    if shutil.which("diff"):
        diff = subprocess.run(["diff", "-r", tmp_path / "src", tmp_path / "out"],
                              capture_output=True, text=True)  # fmt: skip
        assert diff.returncode == 0, diff.stdout


def test_import_resumes_sending_only_what_is_missing_or_changed(
    space: str, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    make_tree(src, files=30)
    assert run("import", str(src), space).exit_code == 0
    files = sorted(p for p in src.rglob("*") if p.is_file())
    with Client(space) as dav:  # an interrupted run: three files never arrived
        for gone in files[:3]:
            dav.delete(gone.relative_to(src).as_posix())
    files[5].write_bytes(files[5].read_bytes() + b"more")  # changed since: new size
    result = run("import", str(src), space)
    assert result.exit_code == 0, result.output
    assert "imported 4 files" in result.stdout
    assert "26 already there" in result.stdout
    result = run("import", "--all", "--progress", str(src), space)
    assert "imported 30 files" in result.stdout
    out = tmp_path / "out"
    assert run("export", space, str(out)).exit_code == 0
    assert snapshot(out) == snapshot(src)


def test_davbind_keeps_the_imported_times(space: str, tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.txt").write_text("a")
    os.utime(tmp_path / "src" / "a.txt", (1_000_000_000, 1_000_000_000))
    result = run("import", str(tmp_path / "src"), space)
    assert "; modification times kept" in result.stdout, result.stdout
    assert run("export", space, str(tmp_path / "out")).exit_code == 0
    assert (tmp_path / "out" / "a.txt").stat().st_mtime == 1_000_000_000


def test_mtime_header_is_sent_and_the_answer_read() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get(MTIME_HEADER))
        accept = request.url.path.endswith("/yes")
        return httpx.Response(201, headers={"X-OC-MTime": "accepted"} if accept else {})

    transport = MtimeTransport(httpx.MockTransport(answer))
    with Client("http://dav.test/", transport=transport) as dav:
        worker = Worker(dav, transport)
        assert worker.put("/yes", b"x", 1_234_567_890.7) is True
        assert worker.put("/no", b"x", 42.0) is False
        dav.put("/plain", b"x")
    assert seen == ["1234567890", "42", None]


def test_a_refused_file_is_reported_and_the_others_go_on(space: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "good.txt").write_text("good")
    (src / "bad\x01name").write_text("control character: the server refuses the name")
    result = run("import", str(src), space)
    assert result.exit_code == 1
    assert "bad\x01name" in result.stderr and "400" in result.stderr
    assert "imported 1 files" in result.stdout and "1 FAILED" in result.stdout
    with Client(space) as dav:
        assert dav.cat("good.txt") == b"good"


def test_import_into_a_file_or_an_unreachable_server_is_one_line(
    space: str, tmp_path: Path
) -> None:
    (tmp_path / "src").mkdir()
    assert run("mkdir", space).exit_code == 0
    with Client(space) as dav:
        dav.put("f.txt", b"f")
    result = run("import", str(tmp_path / "src"), space + "f.txt")
    assert result.exit_code == 2 and "is a file on the server" in result.output
    result = run("import", str(tmp_path / "src"), "http://127.0.0.1:9/")
    assert result.exit_code == 3
    assert result.stderr.startswith("davbind: cannot reach the server")
    assert result.stderr.count("\n") == 1


def test_export_links_bindings_keeps_times_and_skips_loops(space: str, tmp_path: Path) -> None:
    assert run("mkdir", space).exit_code == 0
    with Client(space) as dav:
        dav.makedirs("docs/shared")
        dav.put("docs/shared/report.txt", b"quarterly")
        dav.put("docs/big.bin", os.urandom(100_000))
        dav.bind("docs/shared/report.txt", "report-again.txt")
        dav.mkcol("team/")
        dav.bind("docs/shared/", "team/shared")
        dav.bind("docs/", "docs/shared/up")  # a loop
        modified = dav.info("docs/big.bin").modified
    out = tmp_path / "out"
    result = run("export", space, str(out))
    assert result.exit_code == 0, result.output
    assert "3 hard links" in result.stdout and "binding loops skipped" in result.stdout
    assert "binding loop back to" in result.stderr
    first = (out / "docs/shared/report.txt").stat()
    for other in ("report-again.txt", "team/shared/report.txt"):
        assert (out / other).stat().st_ino == first.st_ino
    assert (out / "team/shared/report.txt").read_bytes() == b"quarterly"
    assert not (out / "docs/shared/up").exists()
    assert modified is not None
    assert (out / "docs/big.bin").stat().st_mtime == modified.timestamp()
    again = run("export", space, str(out))
    assert "exported 0 files" in again.stdout and "2 already there" in again.stdout


def test_export_never_writes_outside_the_destination(tmp_path: Path) -> None:
    body = b"""<?xml version="1.0"?><D:multistatus xmlns:D="DAV:">
    <D:response><D:href>/t/</D:href><D:propstat><D:prop><D:resourcetype><D:collection/>
    </D:resourcetype></D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
    <D:response><D:href>/t/..%2F..%2Fevil</D:href><D:propstat><D:prop><D:resourcetype/>
    </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
    <D:response><D:href>/t/fine</D:href><D:propstat><D:prop><D:resourcetype/>
    </D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>
    </D:multistatus>"""
    layout = plan(fold_multistatus(body, base_url="http://h/t/"), tmp_path / "out")
    assert [paths for _, paths in layout.files.values()] == [[tmp_path / "out" / "fine"]]
    assert any("is not a file name" in note for note in layout.notes)


# ----------------------------------------------------------------------- serve --data


def test_serve_refuses_a_folder_of_somebodys_files(tmp_path: Path) -> None:
    data = tmp_path / "photos"
    data.mkdir()
    (data / "cat.jpg").write_bytes(b"meow")
    result = run("serve", "--data", str(data), "--port", "1")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and "davbind import" in lines[0] and str(data) in lines[0]
    assert sorted(p.name for p in data.iterdir()) == ["cat.jpg"]  # nothing was added


def test_missing_empty_and_store_folders_may_be_served(tmp_path: Path) -> None:
    assert foreign_data_dir(tmp_path / "missing") is None
    assert foreign_data_dir(tmp_path) is None
    (tmp_path / "meta.sqlite3").write_bytes(b"")
    (tmp_path / "anything").write_bytes(b"")
    assert foreign_data_dir(tmp_path) is None
    (tmp_path / "meta.sqlite3").unlink()
    assert foreign_data_dir(tmp_path) is not None
    (tmp_path / "anything").unlink()
    (tmp_path / "blobs").mkdir()  # database kept elsewhere (metadata_url)
    assert foreign_data_dir(tmp_path) is None
    (tmp_path / "a-file").write_bytes(b"")
    assert "not a directory" in (foreign_data_dir(tmp_path / "a-file") or "")
