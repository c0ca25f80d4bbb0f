"""``davbind get`` / ``put``: collections need -r, uploads carry a guessed media type,
downloads get the umask's mode and ``--no-clobber`` / directories are respected."""

from __future__ import annotations

import os
import stat
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from davbind.cli.main import cli
from davbind.cli.transfer_cmds import guess_type
from davbind.client import Client


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"DAVBIND_USER": "", "DAVBIND_PASSWORD": "", "NETRC": "/nonexistent",
            "DAVBIND_URL": ""}  # fmt: skip
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, catch_exceptions=False)


@pytest.fixture
def space(davbind_url: str) -> str:
    url = f"{davbind_url}x-{uuid.uuid4().hex[:8]}/"
    with Client(davbind_url) as c:
        c.mkcol(_path(url))
        c.put(_path(url) + "a.txt", b"alpha")
        c.mkcol(_path(url) + "folder/")
        c.put(_path(url) + "folder/in.txt", b"inner")
    return url


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.parametrize("dest", [None, "-", "out.html"])
def test_get_of_a_collection_needs_r(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dest: str | None
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("get", space + "folder/", *([dest] if dest else []))
    assert result.exit_code == 2
    assert "is a collection (use -r)" in result.output
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("name", "expected"), [
    ("notes.txt", "text/plain"), ("logo.svg", "image/svg+xml"), ("page.html", "text/html"),
    ("photo.JPG", "image/jpeg"), ("data.json", "application/json"),
    ("backup.tar.gz", "application/gzip"), ("no-extension", "application/octet-stream"),
])  # fmt: skip
def test_guess_type(name: str, expected: str) -> None:
    assert guess_type(name) == expected


def test_put_labels_files_by_name_or_flag(space: str, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "logo.svg").write_text("<svg/>")
    (tmp_path / "blob").write_bytes(b"\0")
    assert run("put", str(tmp_path / "notes.txt"), str(tmp_path / "logo.svg"),
               str(tmp_path / "blob"), space).exit_code == 0  # fmt: skip
    assert run("put", "--content-type", "text/markdown", str(tmp_path / "notes.txt"),
               space + "readme").exit_code == 0  # fmt: skip
    with Client(space.split("/x-")[0]) as c:
        types = {e.name: e.content_type for e in c.ls(_path(space)).members()}
    assert types["notes.txt"] == "text/plain"
    assert types["logo.svg"] == "image/svg+xml"
    assert types["blob"] == "application/octet-stream"
    assert types["readme"] == "text/markdown"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_downloads_get_the_umask_mode(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, umask: int
) -> None:
    monkeypatch.chdir(tmp_path)
    old = os.umask(umask)
    try:
        assert run("get", space + "a.txt").exit_code == 0
        assert run("get", "-r", space + "folder/", "tree").exit_code == 0
    finally:
        os.umask(old)
    for path in (tmp_path / "a.txt", tmp_path / "tree" / "in.txt"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".part")] == []


def test_no_clobber_and_directories(
    space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("mine")
    kept = run("get", "-n", space + "a.txt")
    assert kept.exit_code == 1 and "a.txt exists (--no-clobber)" in kept.stderr
    assert (tmp_path / "a.txt").read_text() == "mine"
    assert run("get", space + "a.txt").exit_code == 0  # without -n it is replaced
    assert (tmp_path / "a.txt").read_text() == "alpha"
    (tmp_path / "d" / "a.txt").mkdir(parents=True)  # DEST dir holds a directory "a.txt"
    refused = run("get", space + "a.txt", "d")
    assert refused.exit_code == 1 and "is a directory; not replacing it" in refused.stderr
    assert (tmp_path / "d" / "a.txt").is_dir()
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "in.txt").write_text("local")
    partial = run("get", "-r", "-n", space + "folder/", "tree")
    assert partial.exit_code == 0 and "kept tree/in.txt" in partial.stderr
    assert (tmp_path / "tree" / "in.txt").read_text() == "local"


def test_get_from_a_plain_http_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No PROPFIND there (501): the collection probe steps aside and the GET decides."""
    import functools
    import http.server
    import threading

    (tmp_path / "srv").mkdir()
    (tmp_path / "srv" / "plain.txt").write_text("plain")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler,
                                directory=str(tmp_path / "srv"))  # fmt: skip
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/plain.txt"
        assert run("get", url, "-").stdout == "plain"
        missing = run("get", url + ".gone", "-")
        assert missing.exit_code == 1 and "404" in missing.stderr
    finally:
        server.shutdown()
        server.server_close()
