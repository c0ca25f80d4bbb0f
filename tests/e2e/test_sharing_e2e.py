"""Sharing end to end (docs/permissions.md): three users made with ``davbind user``, a
folder shared with ``davbind share`` while a real ``davbind serve`` runs, read-write with
bob and read-only with carol; rclone (``vendor = nextcloud``) and cadaver log in as each,
list, download and upload; the read-only user's writes get 403 and change nothing."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.test_auth_e2e import PASSWORD, add_user, basic, davbind

pytestmark = [pytest.mark.e2e]


def _share(data: Path, *args: str) -> str:
    return davbind("share", "/home/alice/Project", *args, "--data", str(data))


@pytest.fixture
def team(tmp_path: Path, server_factory):  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    for name in ("alice", "bob", "carol"):
        add_user(data, name)
    with server_factory(data_dir=data) as srv:
        with srv.client() as c:
            alice = basic("alice", PASSWORD)
            assert c.request("MKCOL", "/home/alice/Project/", headers=alice).status_code == 201
            put = c.put("/home/alice/Project/plan.txt", content=b"the plan\n", headers=alice)
            assert put.status_code == 201
        assert "at /home/bob/Shared/Project/" in _share(data, "--with", "bob")
        assert "at /home/carol/Shared/Project/" in _share(data, "--with", "carol", "--read-only")
        yield srv, data


def _rclone(env: dict[str, str], *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["rclone", *args, "--retries", "1", "--low-level-retries", "1"],
                          env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    if ok:
        assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.requires_tool("rclone")
def test_rclone_as_the_read_write_and_the_read_only_user(
    team, tmp_path: Path, client_env: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    srv, _ = team

    def remote(user: str) -> dict[str, str]:
        obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True,
                                  text=True, env=client_env, check=True).stdout.strip()  # fmt: skip
        return dict(client_env, RCLONE_CONFIG_NC_TYPE="webdav", RCLONE_CONFIG_NC_VENDOR="nextcloud",
                    RCLONE_CONFIG_NC_URL=f"{srv.url}remote.php/dav/files/{user}/",
                    RCLONE_CONFIG_NC_USER=user, RCLONE_CONFIG_NC_PASS=obscured)  # fmt: skip

    bob, carol = remote("bob"), remote("carol")
    assert _rclone(bob, "lsf", "-R", "nc:").stdout.split() == [
        "Shared/", "Shared/Project/", "Shared/Project/plan.txt"]
    assert _rclone(carol, "cat", "nc:Shared/Project/plan.txt").stdout == "the plan\n"
    up = tmp_path / "up"
    up.mkdir()
    (up / "notes.txt").write_bytes(b"from bob\n")
    _rclone(bob, "copy", str(up), "nc:Shared/Project")
    with srv.client() as c:  # alice sees bob's upload in her own space: one folder
        got = c.get("/home/alice/Project/notes.txt", headers=basic("alice", PASSWORD))
        assert got.status_code == 200 and got.content == b"from bob\n"
    (up / "carol.txt").write_bytes(b"from carol\n")
    refused = _rclone(carol, "copy", str(up / "carol.txt"), "nc:Shared/Project", ok=False)
    assert refused.returncode != 0 and "403" in refused.stderr
    assert sorted(_rclone(carol, "lsf", "nc:Shared/Project").stdout.split()) == [
        "notes.txt", "plan.txt"]
    assert "carol" not in _rclone(bob, "lsf", "-R", "nc:").stdout


@pytest.mark.requires_tool("cadaver")
def test_cadaver_as_the_read_only_user(
    team, tmp_path: Path, client_env: dict[str, str]  # type: ignore[no-untyped-def]
) -> None:
    srv, data = team
    davbind("user", "passwd", "carol", "--password-stdin", "--data", str(data),
            stdin="carol-netrc-pw\n")  # a netrc password cannot hold a space
    netrc = Path(client_env["HOME"]) / ".netrc"
    netrc.write_text("machine 127.0.0.1\nlogin carol\npassword carol-netrc-pw\n")
    netrc.chmod(0o600)
    work = tmp_path / "cad"
    work.mkdir()
    (work / "mine.txt").write_bytes(b"carol was here\n")

    def cadaver(command: str, at: str = "home/carol/Shared/Project/") -> str:
        proc = subprocess.run(["cadaver", f"{srv.url}{at}"],
                              input=f"{command}\nquit\n".encode(), cwd=work, env=client_env,
                              capture_output=True, timeout=60)  # fmt: skip
        return proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")

    listing = cadaver("ls")
    assert "plan.txt" in listing and "Username:" not in listing, listing
    assert "Project" in cadaver("ls", at="home/carol/Shared/")
    cadaver("get plan.txt")
    assert (work / "plan.txt").read_bytes() == b"the plan\n"
    out = cadaver("put mine.txt")
    assert "403" in out or "Forbidden" in out, out
    with srv.client() as c:
        gone = c.get("/home/alice/Project/mine.txt", headers=basic("alice", PASSWORD))
        assert gone.status_code == 404
    # revoking ends carol's access on the path she used
    davbind("share", "/home/alice/Project", "--with", "carol", "--revoke", "--data", str(data))
    after = cadaver("ls", at="home/carol/Shared/")
    assert "Listing collection" in after and "Project" not in after, after
