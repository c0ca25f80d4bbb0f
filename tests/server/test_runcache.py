"""Rendered runs of listings (``server.runcache``): after a change, only the run that
holds the changed member is rendered again, and every answer has the very bytes of the
general path (``collect`` + ``xml_response``), whatever changed: content, dead
properties, names, membership, locks, the form of the request, the path it came by.

Runs are one ``member_batches`` batch; the tests make batches of 8 members so that a
collection of 30 files has 4 runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from davbind.server.runcache import RunCache
from davbind.storage import sqlite_txn

ALLPROP = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
NAMED = (
    b'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:getetag/>'
    b"<D:getcontentlength/><Z:colour/></D:prop></D:propfind>"
)
COLOUR = (
    b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
    b"<Z:colour>%s</Z:colour></D:prop></D:set></D:propertyupdate>"
)
FILES = 30
RUN = 8


@pytest.fixture(autouse=True)
def small_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_txn, "MEMBER_BATCH", RUN)


def listing(dav: Any, both_paths: Any, url: str = "/c/", body: bytes = ALLPROP,
            depth: str = "1") -> bytes:  # fmt: skip
    """The lean answer, checked against the general path's bytes."""
    lean, general = both_paths(dav, url, {"Depth": depth, "DAV": "bind"}, body)
    assert lean == general
    return lean


def name(i: int) -> str:
    return f"/c/f{i:02d}.txt"


@pytest.fixture
def tree(dav: Any) -> RunCache:
    dav.mkcol("/c/")
    for i in range(FILES):
        dav.put(name(i), b"%d" % i)
    runs = dav.app.services.runs
    assert isinstance(runs, RunCache)
    return runs


def counted(runs: RunCache) -> tuple[int, int]:
    return runs.hits, runs.misses


def test_a_change_renders_only_the_run_that_holds_it(
    dav: Any, tree: RunCache, both_paths: Any
) -> None:
    first = listing(dav, both_paths)
    assert first.count(b"<D:response>") == FILES + 1
    hits, misses = counted(tree)
    dav.put(name(13), b"new content")  # in the second run (members 8 to 15)
    after = listing(dav, both_paths)
    assert counted(tree) == (hits + 3, misses + 1)
    assert after != first and b"new content" not in after
    hits, misses = counted(tree)
    assert dav.request("PROPPATCH", name(29), content=COLOUR % b"r&amp;d").status_code == 207
    again = listing(dav, both_paths)
    assert counted(tree) == (hits + 3, misses + 1)
    assert b">r&amp;d<" in again
    hits, misses = counted(tree)
    dav.put(name(1), b"first run")  # runs 1 and 3 again, 2 and 4 from the cache
    dav.put(name(17), b"third run")
    listing(dav, both_paths)
    assert counted(tree) == (hits + 2, misses + 2)


@pytest.mark.parametrize("change", ["rename", "delete", "add", "replace-binding"])
def test_a_change_of_membership_gives_exact_bytes(
    dav: Any, tree: RunCache, both_paths: Any, change: str
) -> None:
    before = listing(dav, both_paths)
    if change == "rename":  # same resource, same cgen, another name: hrefs move
        r = dav.request("MOVE", name(3), headers={"Destination": "/c/zz-renamed.txt"})
        assert r.status_code == 201
    elif change == "delete":
        assert dav.request("DELETE", name(3)).status_code == 204
    elif change == "add":
        dav.put("/c/f03a.txt", b"between")
    else:  # another resource under the same name (REBIND over it)
        dav.put("/elsewhere.txt", b"other")
        rebind = (b'<D:rebind xmlns:D="DAV:"><D:segment>f03.txt</D:segment>'
                  b"<D:href>/elsewhere.txt</D:href></D:rebind>")  # fmt: skip
        r = dav.request("REBIND", "/c/", content=rebind, headers={"Overwrite": "T"})
        assert r.status_code in (200, 201, 204)
    after = listing(dav, both_paths)
    assert after != before


def test_forms_and_paths_do_not_share_runs(
    dav: Any, tree: RunCache, both_paths: Any
) -> None:
    allprop = listing(dav, both_paths)
    named = listing(dav, both_paths, body=NAMED)
    assert named != allprop and b"<D:supportedlock>" not in named
    bind = b'<D:bind xmlns:D="DAV:"><D:segment>alias</D:segment><D:href>/c/</D:href></D:bind>'
    assert dav.request("BIND", "/", content=bind).status_code == 201
    via_alias = listing(dav, both_paths, url="/alias/")
    assert b"<D:href>/alias/f00.txt</D:href>" in via_alias
    assert b"<D:href>/c/f00.txt</D:href>" not in via_alias
    minimal = dav.request("PROPFIND", "/c/", content=NAMED,
                          headers={"Depth": "1", "Prefer": "return=minimal"})  # fmt: skip
    assert minimal.status_code == 207 and b"404" not in minimal.content
    assert b"404" in listing(dav, both_paths, body=NAMED)  # Z:colour is missing


def test_locks_are_never_served_from_runs(
    dav: Any, tree: RunCache, both_paths: Any
) -> None:
    listing(dav, both_paths)
    lock = (b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
            b"<D:locktype><D:write/></D:locktype></D:lockinfo>")  # fmt: skip
    r = dav.request("LOCK", name(20), content=lock, headers={"Timeout": "Second-600"})
    assert r.status_code == 200
    token = r.headers["Lock-Token"]
    locked = dav.request("PROPFIND", "/c/", headers={"Depth": "1"}, content=ALLPROP)
    assert token.strip("<>").encode() in locked.content
    assert dav.request("UNLOCK", name(20), headers={"Lock-Token": token}).status_code == 204
    unlocked = listing(dav, both_paths)
    assert token.strip("<>").encode() not in unlocked


def test_depth_infinity_runs_follow_changes_below(
    dav: Any, tree: RunCache, both_paths: Any
) -> None:
    dav.mkcol("/c/sub/")
    for i in range(20):
        dav.put(f"/c/sub/g{i:02d}.txt", b"g")
    listing(dav, both_paths, url="/", depth="infinity")
    hits, misses = counted(tree)
    dav.put("/c/sub/g05.txt", b"changed below")
    listing(dav, both_paths, url="/", depth="infinity")
    assert tree.misses > misses and tree.hits > hits  # some runs again, not all
    # a rename below changes hrefs only: the runs there are keyed by segment too
    r = dav.request("MOVE", "/c/sub/g06.txt", headers={"Destination": "/c/sub/g06b.txt"})
    assert r.status_code == 201
    after = listing(dav, both_paths, url="/", depth="infinity")
    assert b"/c/sub/g06b.txt</D:href>" in after and b"/c/sub/g06.txt</D:href>" not in after


def test_the_cache_is_bounded_and_keeps_the_most_recent() -> None:
    runs = RunCache(max_bytes=1000)
    runs.put("a", "x" * 300, 1)
    runs.put("b", "y" * 300, 1)
    assert runs.get("a") == "x" * 300  # a is now the most recent
    runs.put("c", "z" * 300, 1)
    assert runs.size <= 1000
    assert runs.get("b") is None and runs.get("a") is not None and runs.get("c") is not None
    runs.put("huge", "w" * 2000, 1)  # larger than the whole budget: not kept
    assert runs.get("huge") is None and runs.get("c") is not None
    runs.clear()
    assert runs.size == 0 and runs.get("a") is None


def test_texts_on_disk_are_read_back_and_their_files_removed(tmp_path: Any) -> None:
    runs = RunCache(max_bytes=1000, directory=tmp_path / "cache")
    runs.put("a", "é" * 200, 1)  # 400 bytes of UTF-8, 200 characters counted
    runs.put("marker", "", 1)
    assert runs.get("a") == "é" * 200 and runs.has("marker")
    assert len(list((tmp_path / "cache").iterdir())) == 1  # markers need no file
    runs.put("b", "b" * 300, 1)
    runs.put("c", "c" * 300, 1)  # evicts a, the least recent, and its file
    assert runs.get("a") is None and runs.has("marker") and runs.get("b") == "b" * 300
    assert len(list((tmp_path / "cache").iterdir())) == 2
    for f in (tmp_path / "cache").iterdir():
        f.unlink()  # swept under it (a restart): a miss, not an error
    assert runs.get("b") is None
    runs.clear()
    assert runs.size == 0


def test_a_worker_keeps_its_runs_on_disk(dav: Any, tree: RunCache, both_paths: Any) -> None:
    listing(dav, both_paths)
    files = list((Path(dav.app.services.settings.data_dir) / "runs").glob("run-*"))
    assert len(files) == -(-FILES // RUN)  # one file per run of the listing


def test_a_run_that_cannot_be_written_is_not_kept(tmp_path: Any) -> None:
    runs = RunCache(max_bytes=10_000, directory=tmp_path / "runs")
    (tmp_path / "runs").rmdir()  # as if the disk refused: writing raises OSError
    runs.put("a", "text", 1)
    assert runs.get("a") is None and runs.size == 0
