"""Every command shows where else a resource lives (``DAV:parent-set``), also when the
other binding is outside the listing, marks loops, and costs no extra request; ``tree
--max-depth`` holds when the server answers Depth infinity; ``| head`` ends quietly."""

from __future__ import annotations

import errno
import io
import sys
import uuid
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result

from davbind.cli.main import cli
from davbind.client import Client

SIZE = "{DAV:}getcontentlength"

def run(*args: str) -> Result:
    env = {"DAVBIND_USER": "", "DAVBIND_PASSWORD": "", "NETRC": "/nonexistent", "DAVBIND_URL": ""}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def shared(davbind_url: str) -> str:
    """docs/shared/ (report.txt) also bound as team/shared; loop docs/shared/up -> docs/."""
    top = f"/v-{uuid.uuid4().hex[:8]}/"
    with Client(davbind_url) as c:
        c.makedirs(top + "docs/shared/")
        c.mkcol(top + "team/")
        c.put(top + "docs/shared/report.txt", b"quarterly")
        c.bind(top + "docs/shared/", top + "team/shared")
        c.bind(top + "docs/", top + "docs/shared/up")
    return davbind_url.rstrip("/") + top


def _p(url: str) -> str:
    return "/" + url.split("/", 3)[3]


@pytest.mark.parametrize(("where", "line"), [
    ("team/", "shared/  -> {top}docs/shared/ (alias)"),
    ("docs/", "shared/  -> {top}team/shared/ (alias)"),
    ("docs/shared/", "up/  -> {top}docs/ (loop)"),
])  # fmt: skip
def test_ls_shows_bindings_outside_the_listing(shared: str, where: str, line: str) -> None:
    top = _p(shared)
    expected = line.format(top=top)
    assert expected in run("ls", shared + where).stdout.splitlines()
    long_lines = run("ls", "-l", shared + where).stdout.splitlines()
    assert any(text.endswith("  " + expected) for text in long_lines), long_lines


def test_json_of_ls_and_info_lists_every_path(shared: str, schema_checked: Any) -> None:
    top = _p(shared)
    team = schema_checked(run("ls", "--json", shared + "team/").stdout)
    assert [(i["href"], i["aliases"], i["loops"]) for i in team] == [
        (top + "team/shared/", [top + "docs/shared/"], []),
    ]
    up = schema_checked(run("ls", "--json", shared + "docs/shared/").stdout)
    loop = next(i for i in up if i["href"] == top + "docs/shared/up/")
    assert loop["aliases"] == loop["loops"] == [top + "docs/"]
    info = schema_checked(run("info", "--json", shared + "team/shared/").stdout)
    assert info["aliases"] == [top + "docs/shared/"]
    assert sorted(info["paths"]) == [top + "docs/shared/", top + "team/shared/"]
    text = run("info", shared + "docs/").stdout
    assert f"binding:     {top}docs/shared/up/ (loop)" in text


def test_listing_costs_one_request(shared: str, monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[str] = []
    real = httpx.Client.send

    def count(self: httpx.Client, request: httpx.Request, **kwargs: object) -> httpx.Response:
        sent.append(request.method)
        return real(self, request, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx.Client, "send", count)
    assert run("ls", "-l", shared + "docs/").exit_code == 0
    assert sent == ["PROPFIND"]


@pytest.mark.parametrize(("depth", "names", "resources"), [
    ("0", [], 1),
    ("1", ["docs/", "team/"], 3),
    ("2", ["docs/", "shared/", "team/", "shared/"], 4),  # team/shared: docs/shared again
    ("3", ["docs/", "shared/", "report.txt", "up/", "team/", "shared/"], 5),  # up/: docs/
])  # fmt: skip
def test_tree_max_depth_with_depth_infinity(
    shared: str, depth: str, names: list[str], resources: int, schema_checked: Any
) -> None:
    result = run("tree", "--max-depth", depth, shared)
    assert result.exit_code == 0 and "walked with Depth: 1" not in result.stderr
    lines = result.stdout.splitlines()[1:-2]
    assert [line.lstrip("│├└─ ").split("  ->")[0] for line in lines] == names
    data = schema_checked(run("tree", "--json", "--max-depth", depth, shared).stdout)
    assert len(data) == resources


def test_broken_pipe_ends_quietly(
    shared: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Closed(io.StringIO):
        def write(self, text: str) -> int:
            raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setenv("DAVBIND_USER", "")
    monkeypatch.setattr(sys, "stdout", Closed())
    with pytest.raises(SystemExit) as stopped:
        cli.main(["tree", shared], prog_name="davbind")
    assert stopped.value.code == 1
    assert capsys.readouterr().err == ""
