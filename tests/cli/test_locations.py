"""Where client commands go and how they log in: ``$DAVBIND_URL``, remotes
(``NAME:/path``), a password asked for on a terminal, ``-p`` meaning ``--parents``, and
a clear message from a server without bindings."""

from __future__ import annotations

import stat
import sys
import tomllib
import types
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from davbind.cli import connection
from davbind.cli.main import cli
from davbind.client import Client


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A config dir and netrc of the test's own, and no keyring module."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setitem(sys.modules, "keyring", None)  # import keyring -> ImportError
    yield tmp_path


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Result:
    base = {"DAVBIND_USER": "", "DAVBIND_PASSWORD": "", "DAVBIND_URL": ""}
    return CliRunner().invoke(cli, list(args), env={**base, **(env or {})}, input=stdin,
                              catch_exceptions=False)  # fmt: skip


def test_davbind_url_is_the_base_of_bare_paths(davbind_url: str, home: Path) -> None:
    top = f"/u-{uuid.uuid4().hex[:8]}/"
    env = {"DAVBIND_URL": davbind_url.rstrip("/") + top}
    assert run("mkdir", davbind_url.rstrip("/") + top).exit_code == 0
    for args in (("mkdir", "-p", "/a/b"), ("mkdir", "c"), ("mv", "/c", "/d"),
                 ("bind", "a/b", "e")):  # fmt: skip
        result = run(*args, env=env)
        assert result.exit_code == 0, (args, result.output)
    assert run("ls", "/", env=env).stdout.splitlines() == ["a/", "d/", f"e/  -> {top}a/b/ (alias)"]
    missing = run("ls", "/")
    assert missing.exit_code == 2 and "set DAVBIND_URL" in missing.output


def test_remotes_add_list_use_remove(davbind_url: str, home: Path) -> None:
    top = f"/r-{uuid.uuid4().hex[:8]}/"
    with Client(davbind_url) as c:
        c.mkcol(top)
        c.put(top + "f.txt", b"remote")
    added = run("remote", "add", "work", davbind_url.rstrip("/") + top.rstrip("/"))
    assert added.exit_code == 0, added.output
    assert run("remote", "list").stdout.split() == ["work", davbind_url.rstrip("/") + top]
    assert run("ls", "work:/").stdout == "f.txt\n"
    assert run("ls", "work:").stdout == "f.txt\n"
    assert run("get", "work:f.txt", "-").stdout == "remote"
    assert run("cp", "work:/f.txt", "/g.txt", env={"DAVBIND_URL": "http://elsewhere.invalid/"}
               ).exit_code == 0  # a bare DEST is below the remote, not $DAVBIND_URL
    assert run("ls", "work:/").stdout == "f.txt\ng.txt\n"
    unknown = run("ls", "play:/")
    assert unknown.exit_code == 2 and "no remote named 'play'" in unknown.output
    assert run("remote", "remove", "work").exit_code == 0
    assert run("remote", "list").stdout == ""
    assert run("remote", "remove", "work").exit_code == 1


@pytest.mark.parametrize("name", ["", "a:b", "-x", "_x", "a/b", "a.b", "é"])
def test_remote_names_are_checked(home: Path, name: str) -> None:
    result = run("remote", "add", "--", name, "http://h/")
    assert result.exit_code == 2 and "use letters, digits" in result.output
    assert not (home / "config").exists()


def test_remote_url_must_not_carry_credentials(home: Path) -> None:
    result = run("remote", "add", "x", "http://bob:pw@h/")
    assert result.exit_code == 2 and "not in the URL" in result.stderr


def test_remote_password_goes_to_netrc_never_the_remotes_file(
    wsgidav: Callable[..., Any], home: Path
) -> None:
    with wsgidav(users={"alice": "s3 cr\"et"}) as (url, root):
        (root / "f.txt").write_text("x")
        added = run("remote", "add", "box", url, "--user", "alice",
                    env={"DAVBIND_PASSWORD": "s3 cr\"et"})  # fmt: skip
        assert added.exit_code == 0, added.output
        assert "keyring is not installed" in added.stdout
        assert run("ls", "box:/").stdout == "f.txt\n"
    remotes = home / "config" / "davbind" / "remotes.toml"
    assert tomllib.loads(remotes.read_text()) == {
        "remotes": {"box": {"url": url, "user": "alice"}}
    }
    assert "s3" not in remotes.read_text()
    assert stat.S_IMODE((home / "netrc").stat().st_mode) == 0o600
    clash = run("remote", "add", "box2", url, "--user", "bob", env={"DAVBIND_PASSWORD": "b"})
    assert clash.exit_code == 2 and "already has an entry" in clash.stderr


def test_remote_password_goes_to_the_keyring_when_installed(
    davbind_url: str, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kept: dict[tuple[str, str], str] = {}
    ring = types.ModuleType("keyring")
    ring.set_password = lambda s, u, p: kept.__setitem__((s, u), p)  # type: ignore[attr-defined]
    ring.get_password = lambda s, u: kept.get((s, u))  # type: ignore[attr-defined]
    ring.delete_password = lambda s, u: kept.pop((s, u))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "keyring", ring)
    added = run("remote", "add", "k", davbind_url, "-u", "carol", env={"DAVBIND_PASSWORD": "pw"})
    assert added.exit_code == 0 and "system keyring" in added.stdout
    assert kept == {(f"davbind:{davbind_url}", "carol"): "pw"}
    assert not (home / "netrc").exists()
    target = connection.resolve("k:/x")
    assert connection.Options(None, None, False, 5.0).credentials(target) == ("carol", "pw")
    assert run("remote", "remove", "k").exit_code == 0 and kept == {}


def test_user_without_password_is_asked_on_a_terminal_only(
    wsgidav: Callable[..., Any], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[str] = []

    def fake_getpass(prompt: str) -> str:
        asked.append(prompt)
        return "s3cret"

    with wsgidav(users={"alice": "s3cret"}) as (url, root):
        (root / "f.txt").write_text("x")
        refused = run("ls", "-u", "alice", url)
        assert refused.exit_code == 2 and "no password for 'alice'" in refused.output
        monkeypatch.setattr(connection, "stdin_is_tty", lambda: True)
        monkeypatch.setattr(connection.getpass, "getpass", fake_getpass)
        assert run("ls", "-u", "alice", url).stdout == "f.txt\n"
        assert run("mkdir", "-u", "alice", url + "a/", url + "b/").exit_code == 0
    assert len(asked) == 2 and asked[0].startswith("Password for alice at ")  # once a command


def test_p_means_parents_everywhere(home: Path) -> None:
    from davbind.cli.main import COMMANDS

    for name in COMMANDS:
        command = cli.get_command(None, name)  # type: ignore[arg-type]
        assert command is not None
        commands = getattr(command, "commands", {name: command})
        for sub in commands.values():
            for param in sub.params:
                if "-p" in getattr(param, "opts", ()):
                    assert param.name == "parents", (name, param.name)
    assert "--password" in run("check", "--help").stdout


def test_bind_on_a_server_without_bindings(wsgidav: Callable[..., Any], home: Path) -> None:
    with wsgidav() as (url, root):
        (root / "f.txt").write_text("x")
        for args in (("bind", url + "f.txt", url + "g.txt"), ("unbind", url + "f.txt"),
                     ("rebind", url + "f.txt", url + "h.txt")):  # fmt: skip
            result = run(*args)
            assert result.exit_code == 1
            assert "does not support RFC 5842 bindings" in result.stderr, result.stderr
            assert 'its DAV header lacks "bind"' in result.stderr
        assert (root / "f.txt").exists()



def test_bad_davbind_url_is_named(home: Path) -> None:
    result = run("ls", "/x", env={"DAVBIND_URL": "localhost:8080"})
    assert result.exit_code == 2 and "DAVBIND_URL='localhost:8080' is not an http(s) URL" in (
        result.output
    )
