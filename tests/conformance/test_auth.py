"""The ``auth`` checks against real ``davbind serve`` processes, and against faults.

Green on a davbind with two accounts (run as alice, bob second); skipped with a reason
on a davbind without accounts and when anonymous reads are allowed; and each check
fails when a proxy in front of the real server (an httpx transport, :class:`Fault`)
breaks the rule it tests: 403 instead of 401, or a name of alice's leaked to bob in an
error body, a 208 or a ``DAV:parent-set``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from click.testing import CliRunner

from davbind.cli.check_cmd import check as check_command
from davbind.client import Client
from davbind.client.auth import DAVAuth, basic_header
from davbind.client.errors import NotFound
from davbind.conformance import all_checks, run
from davbind.conformance.context import space_of

USERS = {"alice": "alice-secret", "bob": "bob-secret"}
AUTH_IDS = {c.id for c in all_checks() if c.topic == "auth"}
ALICE = ("alice", USERS["alice"])
BOB = ("bob", USERS["bob"])
BOB_HEADER = basic_header(*BOB)


@pytest.fixture(scope="module")
def two_users(davbind_users: Any) -> Iterator[str]:
    with davbind_users(USERS) as url:
        yield url


def members(url: str, path: str, auth: tuple[str, str]) -> list[str]:
    """The hrefs a Depth-1 listing of ``path`` shows below it ([] when it is missing:
    bob's ``Shared/`` is made by the first share)."""
    with Client(url, auth=auth) as client:
        try:
            return sorted(e.href for e in client.ls(path).members())
        except NotFound:
            return []


def test_auth_group_passes_on_davbind_with_two_users(two_users: str) -> None:
    report = run(two_users + "home/alice/", only=("auth",), auth=ALICE, second=BOB)
    verdicts = {r.id: (r.result, r.detail) for r in report.results}
    assert verdicts == {
        "auth.challenge": ("pass", "challenges: basic, bearer"),
        "auth.wrong-password": ("pass", ""),
        "auth.no-leak": ("pass", ""),  # no note: bindings made, bob's space listed
        "auth.shared-no-leak": ("pass", ""),
    }
    assert report.ok and not report.cleanup_error
    assert members(two_users, "/home/alice/", ALICE) == []
    assert members(two_users, "/home/bob/Shared/", BOB) == []  # the share was revoked


def test_no_leak_without_the_second_users_space(two_users: str) -> None:
    """No user name to rename (credentials as an httpx.Auth) and no second_url: the
    first user's folder is still probed, and the note says what was left out."""
    report = run(two_users + "home/alice/", only=("auth.no-leak",),
                 auth=httpx.BasicAuth(*ALICE), second=BOB)  # fmt: skip
    [result] = report.results
    assert (result.result, result.detail) == ("pass", "user 2's own space not listed: "
                                                      "give --url2")  # fmt: skip


def test_cli_runs_the_auth_group_with_a_second_user(two_users: str, check_cmd: list[str]) -> None:
    env = {**os.environ, "DAVBIND_USER": "alice", "DAVBIND_PASSWORD": USERS["alice"],
           "DAVBIND_USER2": "bob", "DAVBIND_PASSWORD2": USERS["bob"]}  # fmt: skip
    result = subprocess.run([*check_cmd, two_users + "home/alice/", "--only", "auth",
                             "--url2", two_users + "home/bob/"],
                            capture_output=True, timeout=120, env=env)  # fmt: skip
    text = result.stdout.decode()
    assert result.returncode == 0, text + result.stderr.decode()
    assert f"OK: {len(AUTH_IDS)} passed, 0 failed (0 MUST), 0 skipped" in text


def test_second_user_options_need_a_first_user() -> None:
    args = ["http://127.0.0.1:9/", "--user2", "bob", "--password2", "x"]
    result = CliRunner().invoke(check_command, args, env={"HOME": "/nonexistent"})
    assert result.exit_code == 2
    assert "--user2 needs --user" in result.output
    result = CliRunner().invoke(check_command, ["http://127.0.0.1:9/", "--url2", "http://x/"])
    assert result.exit_code == 2 and "need --user2" in result.output


def test_auth_group_skips_without_credentials(davbind_url: str) -> None:
    report = run(davbind_url, only=("auth",))
    skipped = {r.id: r.detail for r in report.results if r.result == "skip"}
    assert set(skipped) == AUTH_IDS
    assert "no credentials given (--user)" in skipped["auth.challenge"]
    assert "no credentials given (--user)" in skipped["auth.wrong-password"]
    assert "give --user2 and --password2" in skipped["auth.no-leak"]
    assert "give --user2 and --password2" in skipped["auth.shared-no-leak"]


@pytest.fixture(scope="module")
def anonymous_reads(davbind_users: Any) -> Iterator[str]:
    with davbind_users({"alice": USERS["alice"]}, ("--allow-anonymous-read",)) as url:
        yield url


def test_challenge_skips_when_the_server_is_open(davbind_url: str) -> None:
    """Credentials given, but this server has no accounts: anonymous requests may do
    anything on loopback, while a login that names no account is still refused."""
    report = run(davbind_url, only=("auth.challenge", "auth.wrong-password"), auth=ALICE)
    verdicts = {r.id: (r.result, r.detail) for r in report.results}
    assert verdicts["auth.challenge"][0] == "skip"
    assert "the server allows anonymous access" in verdicts["auth.challenge"][1]
    assert verdicts["auth.wrong-password"] == ("pass", "")


def test_home_challenges_when_anonymous_reads_are_allowed(anonymous_reads: str) -> None:
    """Anonymous reads allowed: a home still challenges, so a client that sends
    credentials only when challenged (davbind's own, with its 'auto' scheme) logs in."""
    report = run(anonymous_reads + "home/alice/", only=("auth.challenge",), auth=ALICE)
    [result] = report.results
    assert result.result == "pass", result.detail


def test_space_of_renames_the_user_segment() -> None:
    assert space_of("http://h/home/alice/", "alice", "bob") == "http://h/home/bob/"
    assert (space_of("http://h/remote.php/dav/files/alice/x/", "alice", "b b")
            == "http://h/remote.php/dav/files/b%20b/x/")  # fmt: skip
    assert space_of("http://h/dav/", "alice", "bob") is None
    assert space_of("http://h/home/alice/", None, "bob") is None


# ---------------------------------------------------------------------------- faults


class Fault(httpx.BaseTransport):
    """A proxy to the real server that breaks one rule of the auth group (``kind``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.inner = httpx.HTTPTransport()
        self.made: list[str] = []  # paths alice created, in order
        self.shared: str | None = None  # the path alice shared

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        sent = request.headers.get("authorization")
        request.read()
        if request.method in ("MKCOL", "PUT") and sent == basic_header(*ALICE):
            self.made.append(urlsplit(str(request.url)).path)
        if request.method == "POST" and sent == basic_header(*ALICE):
            self.shared = json.loads(request.content)["path"]
        response = self.inner.handle_request(request)
        body = response.read()
        headers = [(k, v) for k, v in response.headers.items()
                   if k.lower() not in ("content-length", "transfer-encoding")]  # fmt: skip
        status = response.status_code
        refused = "anonymous-403" if sent is None else "wrong-403"
        if status == 401 and self.kind == refused:
            status, body = 403, b"403 Forbidden\n"
            headers = [(k, v) for k, v in headers if k.lower() != "www-authenticate"]
        elif sent == BOB_HEADER:
            body = self.leak(request, status, body)
        return httpx.Response(status, headers=headers, content=body)

    def leak(self, request: httpx.Request, status: int, body: bytes) -> bytes:
        """What a careless server tells bob about alice's content."""
        if self.kind == "leak-names" and status >= 400:
            names = " ".join(p.rstrip("/").rsplit("/", 1)[-1] for p in self.made)
            return body + f"(near: {names})\n".encode()
        if self.kind == "leak-208" and status == 207 and self.made:
            gone = (f"<D:response><D:href>{self.made[0]}</D:href>"
                    f"<D:status>HTTP/1.1 208 Already Reported</D:status></D:response>")  # fmt: skip
            return body.replace(b"</D:multistatus>", gone.encode() + b"</D:multistatus>")
        if self.kind == "leak-parent" and self.shared is not None:
            above = self.shared.rstrip("/").rsplit("/", 1)[0] + "/"
            parent = f"<D:parent><D:href>{above}</D:href><D:segment>s</D:segment></D:parent>"
            return re.sub(rb"</D:parent-set>", parent.encode() + b"</D:parent-set>", body)
        return body

    def close(self) -> None:
        self.inner.close()


#: (fault, the check it breaks, what the failure says)
BROKEN = [
    ("anonymous-403", "auth.challenge", "PROPFIND without credentials: expected 401, got 403"),
    ("wrong-403", "auth.wrong-password", "with a wrong password answered 403"),
    ("leak-names", "auth.no-leak", "body names 'inner-"),
    ("leak-208", "auth.no-leak", "user 2's own space: a 208 response names"),
    ("leak-parent", "auth.shared-no-leak", "DAV:parent-set of /home/bob/Shared/shared-"),
]


def test_every_auth_check_has_a_failing_fault() -> None:
    """test_faults.py leaves the auth checks to this table."""
    assert {check_id for _, check_id, _ in BROKEN} == AUTH_IDS


@pytest.mark.parametrize(("kind", "check_id", "detail"), BROKEN)
def test_each_check_fails_when_its_rule_is_broken(
    two_users: str, kind: str, check_id: str, detail: str
) -> None:
    report = run(two_users + "home/alice/", only=(check_id,), transport=Fault(kind),
                 auth=DAVAuth(*ALICE, scheme="basic"), second=BOB)  # fmt: skip
    [result] = report.results
    assert result.result == "fail", (result.result, result.detail)
    assert detail in result.detail
    assert result.evidence
    assert not report.cleanup_error
    assert members(two_users, "/home/bob/Shared/", BOB) == []
