"""Accounts end to end: users made with ``davbind user``, a real ``davbind serve``, and
real clients logging in: rclone (``vendor = nextcloud``, through the Nextcloud path),
cadaver (credentials from ``~/.netrc``), litmus (``litmus URL USER PASS``), plain HTTP
for the challenge and for an app password revoked while the server runs."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e]

PASSWORD = "correct horse battery"
CHALLENGES = ['Basic realm="davbind", charset="UTF-8"', 'Bearer realm="davbind"']
SUMMARY = re.compile(r"<- summary for `([^']+)': of (\d+) tests run: (\d+) passed, (\d+) failed")


def davbind(*args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "davbind.cli.main", *args],
        input=stdin, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def add_user(data: Path, name: str, password: str = PASSWORD) -> None:
    davbind("user", "add", name, "--password-stdin", "--data", str(data), stdin=password + "\n")


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_anonymous_gets_the_challenge_and_a_revoked_token_stops(
    tmp_path: Path, server_factory
) -> None:
    data = tmp_path / "data"
    add_user(data, "alice")
    token = davbind("user", "token", "add", "alice", "--label", "ci", "--data", str(data)).strip()
    tid = token.split("_")[1]
    config = tmp_path / "davbind.toml"
    config.write_text("auth_cache_seconds = 2\n")
    with server_factory(["--config", str(config)], data_dir=data) as srv, srv.client() as c:
        for method in ("GET", "PROPFIND", "PUT"):
            r = c.request(method, "/home/alice/")
            assert r.status_code == 401
            assert r.headers.get_list("www-authenticate") == CHALLENGES
        bearer = {"Authorization": f"Bearer {token}"}
        assert c.put("/home/alice/t.txt", content=b"tok", headers=bearer).status_code == 201
        assert c.get("/home/alice/t.txt", headers=basic("alice", token)).content == b"tok"
        davbind("user", "token", "revoke", "alice", tid, "--data", str(data))
        revoked = time.monotonic()
        while c.get("/home/alice/t.txt", headers=bearer).status_code == 200:
            assert time.monotonic() - revoked < 2 + 1, "revocation not seen within the bound"
            time.sleep(0.1)
        assert c.get("/home/alice/t.txt", headers=bearer).status_code == 401
        good = c.get("/home/alice/t.txt", headers=basic("alice", PASSWORD))
        assert good.content == b"tok"


@pytest.mark.requires_tool("rclone")
def test_rclone_logs_in_through_the_nextcloud_path(
    tmp_path: Path, server_factory, client_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    add_user(data, "alice")
    with server_factory(data_dir=data) as srv:
        obscured = subprocess.run(["rclone", "obscure", PASSWORD], capture_output=True,
                                  text=True, env=client_env, check=True).stdout.strip()  # fmt: skip
        env = dict(
            client_env,
            RCLONE_CONFIG_NC_TYPE="webdav",
            RCLONE_CONFIG_NC_URL=f"{srv.url}remote.php/dav/files/alice/",
            RCLONE_CONFIG_NC_VENDOR="nextcloud",
            RCLONE_CONFIG_NC_USER="alice",
            RCLONE_CONFIG_NC_PASS=obscured,
        )
        local = tmp_path / "up"
        local.mkdir()
        (local / "a.txt").write_bytes(b"from rclone\n")
        (local / "sub").mkdir()
        (local / "sub" / "b.bin").write_bytes(bytes(range(256)) * 300)

        def rclone(*args: str) -> str:
            proc = subprocess.run(["rclone", *args], env=env, capture_output=True, text=True,
                                  timeout=120)  # fmt: skip
            assert proc.returncode == 0, proc.stderr
            return proc.stdout

        rclone("copy", str(local), "nc:docs")
        assert sorted(rclone("lsf", "-R", "nc:docs").split()) == ["a.txt", "sub/", "sub/b.bin"]
        assert rclone("cat", "nc:docs/a.txt") == "from rclone\n"
        back = tmp_path / "back"
        rclone("copy", "nc:docs", str(back))
        assert (back / "sub" / "b.bin").read_bytes() == bytes(range(256)) * 300
        with srv.client() as c:  # the same collection under /home/alice/
            r = c.get("/home/alice/docs/a.txt", headers=basic("alice", PASSWORD))
            assert r.content == b"from rclone\n"
        wrong = dict(env, RCLONE_CONFIG_NC_PASS=subprocess.run(
            ["rclone", "obscure", "wrong"], capture_output=True, text=True, env=client_env,
            check=True).stdout.strip())  # fmt: skip
        proc = subprocess.run(["rclone", "lsf", "nc:docs", "--retries", "1",
                               "--low-level-retries", "1"], env=wrong, capture_output=True,
                              text=True, timeout=60)  # fmt: skip
        assert proc.returncode != 0


@pytest.mark.requires_tool("cadaver")
def test_cadaver_logs_in_with_netrc(
    tmp_path: Path, server_factory, client_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    password = "horse-battery-staple"  # a netrc token cannot hold a space
    add_user(data, "bob", password)
    netrc = Path(client_env["HOME"]) / ".netrc"
    netrc.write_text(f"machine 127.0.0.1\nlogin bob\npassword {password}\n")
    netrc.chmod(0o600)
    work = tmp_path / "cad"
    work.mkdir()
    (work / "hello.txt").write_bytes(b"hello cadaver\n")
    with server_factory(data_dir=data) as srv:

        def cadaver(command: str) -> str:
            proc = subprocess.run(["cadaver", f"{srv.url}home/bob/"],
                                  input=f"{command}\nquit\n".encode(), cwd=work, env=client_env,
                                  capture_output=True, timeout=60)  # fmt: skip
            out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
            assert "Could not" not in out and "failed" not in out, out
            assert "Username:" not in out, out  # the netrc credentials were used
            return out

        assert "succeeded" in cadaver("put hello.txt")
        assert "hello.txt" in cadaver("ls")
        assert "succeeded" in cadaver(f"get hello.txt {work / 'back.txt'}")
        assert (work / "back.txt").read_bytes() == b"hello cadaver\n"
        with srv.client() as c:
            assert c.get("/home/bob/hello.txt").status_code == 401
            got = c.get("/home/bob/hello.txt", headers=basic("bob", password))
            assert got.content == b"hello cadaver\n"


@pytest.mark.requires_tool("litmus")
def test_litmus_with_credentials(
    tmp_path: Path, server_factory, client_env: dict[str, str]
) -> None:
    data = tmp_path / "data"
    add_user(data, "lit")
    with server_factory(data_dir=data) as srv:
        proc = subprocess.run(["litmus", f"{srv.url}home/lit/", "lit", PASSWORD], cwd=tmp_path,
                              env=client_env, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=600)  # fmt: skip
        out = proc.stdout.decode(errors="replace")
        summaries = SUMMARY.findall(out)
        assert [s[0] for s in summaries] == ["basic", "copymove", "props", "locks", "http"], out
        assert all(s[3] == "0" for s in summaries), out
        assert proc.returncode == 0, out
        with httpx.Client(base_url=srv.url) as c:  # litmus worked in the home, logged in
            assert c.request("PROPFIND", "/home/lit/", headers={"Depth": "0"}).status_code == 401
