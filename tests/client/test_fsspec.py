"""The fsspec filesystem: ``davbind://`` URLs through ``fsspec.open`` and friends."""

from __future__ import annotations

import itertools
from pathlib import Path
from urllib.parse import urlsplit

import pytest

fsspec = pytest.importorskip("fsspec")

from davbind.client import Client  # noqa: E402
from davbind.client.filesystem import DavbindFileSystem  # noqa: E402


@pytest.fixture
def fs_url(davbind_url: str, space: str) -> str:
    """``davbind://127.0.0.1:PORT/t-xxxx`` for the test's own collection."""
    return f"davbind://{urlsplit(davbind_url).netloc}{space.rstrip('/')}"


def test_protocol_is_registered() -> None:
    assert fsspec.get_filesystem_class("davbind") is DavbindFileSystem
    assert fsspec.get_filesystem_class("davbinds") is DavbindFileSystem


def test_open_write_read_and_ranges(fs_url: str) -> None:
    with fsspec.open(f"{fs_url}/data/table.csv", "wb") as f:
        f.write(b"a,b\n")
        f.write(b"1,2\n")
    with fsspec.open(f"{fs_url}/data/table.csv", "rb") as f:
        assert f.read() == b"a,b\n1,2\n"
        f.seek(4)
        assert f.read(3) == b"1,2"
    fs, path = fsspec.core.url_to_fs(f"{fs_url}/data/table.csv")
    assert isinstance(fs, DavbindFileSystem)
    assert fs.cat_file(path, 2, 5) == b"b\n1"
    with fsspec.open(f"{fs_url}/data/table.csv", "rt") as text:
        assert text.readline() == "a,b\n"


def test_listing_info_find_and_bindings(fs_url: str, client: Client, space: str) -> None:
    fs, root = fsspec.core.url_to_fs(fs_url)
    fs.makedirs(root + "/a", exist_ok=True)
    fs.pipe_file(root + "/a/x.txt", b"xx")
    fs.makedirs(root + "/b", exist_ok=True)
    client.bind(space + "a/", space + "b/link")
    client.bind(space + "a/", space + "a/loop")
    info = fs.info(root + "/a/x.txt")
    assert (info["type"], info["size"], info["name"]) == ("file", 2, root + "/a/x.txt")
    assert fs.ukey(root + "/b/link/x.txt") == fs.ukey(root + "/a/x.txt") == info["resource_id"]
    assert sorted(fs.ls(root, detail=False)) == [root + "/a", root + "/b"]
    found = fs.find(root)  # one Depth-infinity PROPFIND; the loop ends it
    assert found == [root + "/a/x.txt"]
    dirs = fs.find(root, withdirs=True)
    assert root + "/b/link" in dirs and root + "/a/loop" in dirs
    link = fs.info(root + "/b/link")
    assert link["type"] == "directory"  # parent-set names the other bindings (RFC 5842 §3.2)
    assert sorted(link["aliases"]) == [root + "/a", root + "/a/loop"]


def test_put_get_mv_rm(fs_url: str, tmp_path: Path) -> None:
    fs, root = fsspec.core.url_to_fs(fs_url)
    local = tmp_path / "tree"
    (local / "sub").mkdir(parents=True)
    (local / "sub" / "f.bin").write_bytes(b"\x00" * 1000)
    (local / "g.txt").write_text("g")
    fs.put(str(local), root + "/up", recursive=True)
    assert fs.cat_file(root + "/up/sub/f.bin") == b"\x00" * 1000
    fs.mv(root + "/up/g.txt", root + "/up/h.txt")
    assert fs.exists(root + "/up/h.txt") and not fs.exists(root + "/up/g.txt")
    out = tmp_path / "down"
    fs.get(root + "/up", str(out), recursive=True)
    assert (out / "sub" / "f.bin").read_bytes() == b"\x00" * 1000
    with pytest.raises(IsADirectoryError):
        fs.rm(root + "/up")
    fs.rm(root + "/up", recursive=True)
    assert not fs.exists(root + "/up")
    with pytest.raises(FileNotFoundError):
        fs.info(root + "/up")


def test_walk_ends_on_a_binding_loop(fs_url: str, client: Client, space: str) -> None:
    """a/loop is a binding of a/ inside itself: walk lists it once and does not enter
    it (nor b/link, another binding of a/), as find does."""
    fs, root = fsspec.core.url_to_fs(fs_url)
    fs.makedirs(root + "/a", exist_ok=True)
    fs.pipe_file(root + "/a/x.txt", b"xx")
    fs.makedirs(root + "/b", exist_ok=True)
    client.bind(space + "a/", space + "a/loop")
    client.bind(space + "a/", space + "b/link")
    steps = list(itertools.islice(fs.walk(root), 50))  # unbounded before the fix
    assert steps == [
        (root, ["a", "b"], []),
        (root + "/a", ["loop"], ["x.txt"]),
        (root + "/b", ["link"], []),
    ]
    bottom_up = list(itertools.islice(fs.walk(root, topdown=False), 50))
    assert [s[0] for s in bottom_up] == [root + "/b", root + "/a", root]
    assert [s[0] for s in fs.walk(root, maxdepth=1)] == [root]
    detailed = next(iter(fs.walk(root + "/a", detail=True)))
    assert detailed[2]["x.txt"]["size"] == 2
    assert detailed[1]["loop"]["resource_id"] == fs.info(root + "/a")["resource_id"]
    pruned = fs.walk(root)
    top = next(pruned)
    top[1].remove("a")  # topdown: the caller prunes
    assert [s[0] for s in pruned] == [root + "/b"]
    assert sorted(fs.find(root)) == [root + "/a/x.txt"]
