"""The client commands end to end: real servers, ``davbind`` run through click's runner.

``davbind tree`` on a davbind tree with a shared folder and a loop shows each resource
once with its aliases; on WsgiDAV (no bindings, no resource-id) it lists everything,
falling back to a Depth-1 walk when Depth infinity is refused.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from davbind.cli.main import cli
from davbind.client import Client

SIZE = "{DAV:}getcontentlength"

def run(*args: str, env: dict[str, str] | None = None) -> Result:
    base = {"DAVBIND_USER": "", "DAVBIND_PASSWORD": "", "NETRC": "/nonexistent"}
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, catch_exceptions=False)


@pytest.fixture
def space(davbind_url: str) -> str:
    """A fresh collection URL on the session's server."""
    url = f"{davbind_url}t-{uuid.uuid4().hex[:8]}/"
    assert run("mkdir", url).exit_code == 0
    return url


def shared_tree(base: str) -> None:
    """docs/shared/ (report.txt, img/) also bound as team/shared, a loop shared/up -> docs/."""
    for args in (
        ("mkdir", "-p", base + "docs/shared/img"),
        ("mkdir", base + "team/"),
        ("bind", base + "docs/shared/", base + "team/shared"),
        ("bind", base + "docs/", base + "docs/shared/up"),
    ):
        result = run(*args)
        assert result.exit_code == 0, result.output
    with Client(base) as c:
        c.put("docs/shared/report.txt", b"quarterly")


def test_tree_shows_each_resource_once_with_aliases_and_loops(
    space: str, schema_checked: Any
) -> None:
    shared_tree(space)
    result = run("tree", space)
    assert result.exit_code == 0, result.output
    name = space.rstrip("/").rsplit("/", 1)[-1]
    assert result.stdout.splitlines() == [
        f"{name}/",
        "├── docs/",
        "│   └── shared/",
        "│       ├── img/",
        "│       ├── report.txt",
        f"│       └── up/  -> /{name}/docs/ (loop)",
        "└── team/",
        f"    └── shared/  -> /{name}/docs/shared/ (alias)",
        "",
        "5 directories, 1 file, 2 aliases (1 loop)",
    ]
    data = schema_checked(run("tree", "--json", space).stdout)
    hrefs = [item["href"] for item in data]
    assert len(hrefs) == len(set(hrefs)) == 6
    for item in data:
        assert {"href", "resource_id", "collection", "props", "aliases"} <= set(item)
        assert item["resource_id"].startswith("urn:uuid:")
    shared = next(i for i in data if i["href"].endswith("/docs/shared/"))
    assert shared["aliases"] == [f"/{name}/team/shared/"]
    docs = next(i for i in data if i["href"].endswith("/docs/"))
    assert docs["loops"] == [f"/{name}/docs/shared/up/"]


@pytest.mark.parametrize("refuse_infinity", [False, True], ids=["infinity", "refused"])
def test_tree_on_wsgidav_lists_everything(
    wsgidav: Callable[..., Any], refuse_infinity: bool
, schema_checked: Any) -> None:
    with wsgidav(refuse_infinity=refuse_infinity) as (url, root):
        (root / "a" / "b").mkdir(parents=True)
        (root / "a" / "b" / "deep.txt").write_text("deep")
        (root / "a" / "one two.txt").write_text("12")
        (root / "top.txt").write_text("t")
        result = run("tree", url)
        data = schema_checked(run("tree", "--json", url).stdout)
    assert result.exit_code == 0
    assert ("walked with Depth: 1" in result.stderr) is refuse_infinity
    lines = result.stdout.splitlines()
    for name in ("a/", "b/", "deep.txt", "one two.txt", "top.txt"):
        assert any(line.endswith(name) for line in lines), (name, lines)
    assert lines[-1] == "3 directories, 3 files"
    found = sorted((i["href"], i["props"].get(SIZE), i["aliases"], i.get("resource_id"))
                   for i in data)  # fmt: skip
    assert found == [
        ("/", None, [], None), ("/a/", None, [], None), ("/a/b/", None, [], None),
        ("/a/b/deep.txt", 4, [], None), ("/a/one%20two.txt", 2, [], None),
        ("/top.txt", 1, [], None),
    ]  # fmt: skip


def test_ls_forms(space: str, schema_checked: Any) -> None:
    with Client(space) as c:
        c.put("x.txt", b"12345")
        c.mkcol("sub/")
        c.bind("x.txt", "y.txt")
    assert run("ls", space).stdout.splitlines() == [
        "sub/",
        "x.txt",
        "y.txt  -> " + _path(space) + "x.txt (alias)",
    ]
    long_lines = run("ls", "-l", space).stdout.splitlines()
    assert long_lines[0].startswith("d ") and long_lines[1].split()[:2] == ["-", "5"]
    data = schema_checked(run("ls", "--json", space).stdout)
    assert [(i["href"], i["props"].get(SIZE), i["collection"], i["aliases"]) for i in data] == [
        (_path(space) + "sub/", None, True, []),
        (_path(space) + "x.txt", 5, False, [_path(space) + "y.txt"]),
    ]


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def test_info(space: str, schema_checked: Any) -> None:
    with Client(space) as c:
        c.put("f.txt", b"abc")
        c.mkcol("d/")
        c.bind("f.txt", "d/g.txt")
    text = run("info", space + "f.txt").stdout
    assert "resource-id: urn:uuid:" in text and "size:        3" in text
    assert f"binding:     {_path(space)}d/g.txt" in text
    data = schema_checked(run("info", "--json", space + "d/g.txt").stdout)
    assert data["resource_id"].startswith("urn:uuid:") and data["props"][SIZE] == 3
    assert data["props"]["{DAV:}displayname"] == "g.txt"  # the segment asked for (D-1)
    assert sorted(data["paths"]) == [_path(space) + "d/g.txt", _path(space) + "f.txt"]
    assert "{DAV:}parent-set" in data["props"] and "{DAV:}getetag" in data["props"]


def test_put_get_round_trip(space: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "up"
    (local / "inner").mkdir(parents=True)
    (local / "inner" / "a.bin").write_bytes(b"a" * 70_000)
    (local / "b.txt").write_text("b")
    single = tmp_path / "single.txt"
    single.write_text("single")
    assert run("put", str(single), space).exit_code == 0
    assert run("put", str(local), space + "tree").exit_code == 2  # a directory needs -r
    assert run("put", "-r", "--progress", str(local), space + "tree").exit_code == 0
    monkeypatch.chdir(tmp_path)
    assert run("get", space + "single.txt").exit_code == 0
    assert (tmp_path / "single.txt").read_text() == "single"
    assert run("get", space + "tree/b.txt", "-").stdout == "b"
    assert run("get", "-r", space + "tree/", str(tmp_path / "down")).exit_code == 0
    assert (tmp_path / "down" / "inner" / "a.bin").read_bytes() == b"a" * 70_000


def test_namespace_commands_and_exit_codes(space: str) -> None:
    assert run("mkdir", "-p", space + "p/q/r").exit_code == 0
    assert run("mkdir", space + "p/").exit_code == 1  # 405: already mapped
    with Client(space) as c:
        c.put("p/q/f.txt", b"f")
    assert run("cp", space + "p/", space + "p2").exit_code == 0
    refused = run("cp", "-n", space + "p/q/f.txt", space + "p2/q/f.txt")
    assert refused.exit_code == 1 and "412" in refused.stderr
    assert (
        run("mv", space + "p2/q/f.txt", "/" + space.split("/", 3)[3] + "moved.txt").exit_code == 0
    )
    assert run("rebind", space + "moved.txt", space + "rebound.txt").exit_code == 0
    assert run("bind", space + "rebound.txt", space + "again.txt").exit_code == 0
    assert run("unbind", space + "rebound.txt").exit_code == 0
    assert run("get", space + "again.txt", "-").stdout == "f"
    dir_refused = run("rm", space + "p2/")
    assert dir_refused.exit_code == 2 and "use -r" in dir_refused.output
    assert run("rm", "-r", space + "p2/").exit_code == 0
    missing = run("rm", space + "p2/")
    assert missing.exit_code == 1 and "404 Not Found" in missing.stderr
    assert run("rm", "-f", space + "p2/").exit_code == 0
    assert run("ls", "ftp://x/").exit_code == 2
    unreachable = run("ls", "http://127.0.0.1:9/")
    assert unreachable.exit_code == 3 and "cannot reach" in unreachable.stderr


def test_credentials_from_flags_env_url_and_netrc(
    wsgidav: Callable[..., Any], tmp_path: Path
) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login alice password s3cret\n")
    netrc.chmod(0o600)
    with wsgidav(users={"alice": "s3cret"}, digest=True) as (url, root):
        (root / "f.txt").write_text("x")
        host = url.split("//", 1)[1]
        assert run("ls", url).exit_code == 1
        assert "401" in run("ls", url).stderr
        assert run("ls", "-u", "alice", "--password", "s3cret", url).stdout == "f.txt\n"
        assert (
            run("ls", url, env={"DAVBIND_USER": "alice", "DAVBIND_PASSWORD": "s3cret"}).exit_code
            == 0
        )
        assert run("ls", f"http://alice:s3cret@{host}").exit_code == 0
        assert run("ls", url, env={"NETRC": str(netrc)}).exit_code == 0
