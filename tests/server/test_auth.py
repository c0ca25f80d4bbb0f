"""Authentication in-process: the 401 challenge, Basic, Bearer, app-password scope,
the credential cache's bound, the login limiter, anonymous access by address, and the
principal handed to the app."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from davbind.server import auth
from davbind.server.app import App, build_services
from davbind.server.auth import PRINCIPAL_KEY, Authenticator, Principal
from davbind.server.services import Services
from davbind.server.settings import Settings
from davbind.storage.accounts import AppToken, User
from davbind.storage.credentials import hash_password, mint_token, token_digest
from davbind.storage.homes import make_home
from tests.server import metadata_override

CHALLENGES = ['Basic realm="davbind", charset="UTF-8"', 'Bearer realm="davbind"']


class Clock:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now


class Server:
    """An authenticating app over a fresh data directory; records each scope it passes."""

    def __init__(self, data: Path, **settings: Any) -> None:
        # the store the handler tests use (PostgreSQL + S3 in that run of scripts/test.sh)
        base = Settings(data_dir=str(data), metadata_url=metadata_override.metadata_url(data),
                        blobs_url=metadata_override.blobs_url(data)).resolved()  # fmt: skip
        self.services: Services = build_services(dataclasses.replace(base, **settings))
        self.clock = Clock()
        self.scopes: list[dict[str, Any]] = []
        inner = App(self.services)

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            self.scopes.append(dict(scope))
            await inner(scope, receive, send)

        self.app = Authenticator(recording, self.services, clock=self.clock)

    def add_user(self, name: str, password: str) -> None:
        pwhash = hash_password(password)
        with self.services.store.write() as txn:
            txn.add_user(User(name, pwhash, time.time(), time.time()))
            make_home(txn, name)

    def add_token(self, name: str, scope: str = "write") -> tuple[str, str]:
        new = mint_token()
        with self.services.store.write() as txn:
            digest = token_digest(txn.token_secret(), new.token)
            txn.add_token(AppToken(new.id, name, "t", scope, digest, time.time()))  # type: ignore[arg-type]
        return new.id, new.token

    def request(self, method: str, url: str, headers: dict[str, str] | None = None,
                content: bytes | None = None) -> httpx.Response:  # fmt: skip
        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app, client=("192.0.2.7", 4242))
            async with httpx.AsyncClient(transport=transport, base_url="http://h") as c:
                return await c.request(method, url, headers=headers, content=content)

        return asyncio.run(go())


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "d")
    s.add_user("alice", "wonder land")
    yield s
    s.services.threads.close()
    s.services.store.close()


def test_loopback_without_users_stays_open(tmp_path: Path) -> None:
    s = Server(tmp_path / "d")
    assert s.request("PUT", "/f.txt", content=b"hi").status_code == 201
    assert s.request("GET", "/f.txt").content == b"hi"
    assert "user" not in s.scopes[-1]


def test_once_a_user_exists_anonymous_requests_get_the_challenge(server: Server) -> None:
    for method in ("GET", "PROPFIND", "PUT", "OPTIONS"):
        r = server.request(method, "/")
        assert r.status_code == 401
        assert r.headers.get_list("www-authenticate") == CHALLENGES
    assert server.scopes == []  # the app never saw them


def test_basic_login_sets_the_principal(server: Server) -> None:
    r = server.request("PROPFIND", "/home/alice/", {"Depth": "0", **basic("alice", "wonder land")})
    assert r.status_code == 207
    scope = server.scopes[-1]
    assert scope["user"] == "alice"
    assert scope[PRINCIPAL_KEY] == Principal("alice", may_write=True, token_id=None)
    put = server.request("PUT", "/home/alice/a.txt", basic("alice", "wonder land"), b"x")
    assert put.status_code == 201


def test_a_lock_records_the_principal(server: Server) -> None:
    body = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
            b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")  # fmt: skip
    r = server.request("LOCK", "/home/alice/l.txt", basic("alice", "wonder land"), body)
    assert r.status_code in (200, 201)
    with server.services.store.read() as txn:
        locks = txn.all_locks(10)
    assert locks is not None and [lock.principal for lock in locks] == ["alice"]


@pytest.mark.parametrize(
    "headers",
    [basic("alice", "wrong"), basic("nobody", "wonder land"), bearer("dbt_nope"),
     {"Authorization": "Digest username=alice"}, {"Authorization": "Basic !!"}],
)  # fmt: skip
def test_bad_credentials_get_the_challenge(server: Server, headers: dict[str, str]) -> None:
    r = server.request("GET", "/home/alice/", headers)
    assert r.status_code == 401
    assert r.headers.get_list("www-authenticate") == CHALLENGES


def test_app_passwords_by_bearer_and_as_basic_password(server: Server) -> None:
    _, token = server.add_token("alice")
    assert server.request("PUT", "/home/alice/b.txt", bearer(token), b"1").status_code == 201
    as_basic = server.request("PUT", "/home/alice/c.txt", basic("alice", token), b"2")
    assert as_basic.status_code == 201
    assert server.scopes[-1][PRINCIPAL_KEY].token_id is not None
    server.add_user("bob", "builder")
    assert server.request("GET", "/home/alice/b.txt", basic("bob", token)).status_code == 401


def test_a_read_only_app_password_reads_and_gets_403_for_writes(server: Server) -> None:
    _, token = server.add_token("alice", "read")
    server.request("PUT", "/home/alice/r.txt", basic("alice", "wonder land"), b"data")
    assert server.request("GET", "/home/alice/r.txt", bearer(token)).content == b"data"
    writes = [("PUT", "/home/alice/r.txt"), ("DELETE", "/home/alice/r.txt"),
              ("MKCOL", "/home/alice/new/"), ("PROPPATCH", "/home/alice/r.txt")]  # fmt: skip
    for method, url in writes:
        r = server.request(method, url, basic("alice", token), b"x")
        assert r.status_code == 403, method
    assert server.request("GET", "/home/alice/r.txt", bearer(token)).content == b"data"


def test_a_revoked_app_password_stops_working_within_the_bound(server: Server) -> None:
    tid, token = server.add_token("alice")
    assert server.request("GET", "/home/alice/", bearer(token)).status_code == 200
    with server.services.store.write() as txn:
        txn.revoke_token("alice", tid)
    server.clock.now += 59
    assert server.request("GET", "/home/alice/", bearer(token)).status_code == 200  # cached
    server.clock.now += 1
    assert server.request("GET", "/home/alice/", bearer(token)).status_code == 401


def test_a_password_change_takes_effect_within_the_bound(server: Server) -> None:
    old = basic("alice", "wonder land")
    assert server.request("GET", "/home/alice/", old).status_code == 200
    with server.services.store.write() as txn:
        txn.set_password("alice", hash_password("new one"), time.time())
    assert server.request("GET", "/home/alice/", old).status_code == 200
    server.clock.now += 60
    assert server.request("GET", "/home/alice/", old).status_code == 401
    assert server.request("GET", "/home/alice/", basic("alice", "new one")).status_code == 200


def test_a_verified_password_is_not_hashed_again_and_never_on_the_loop(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    real = auth.verify_password

    def spy(stored: str | None, password: str) -> bool:
        threads.append(threading.current_thread().name)
        return real(stored, password)

    monkeypatch.setattr(auth, "verify_password", spy)
    for _ in range(3):
        assert server.request("GET", "/home/alice/", basic("alice", "wonder land")).is_success
    assert len(threads) == 1 and threads[0].startswith("davbind-argon2")


def test_failed_logins_are_limited_and_logged_without_the_password(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    good = basic("alice", "wonder land")
    assert server.request("GET", "/home/alice/", good).status_code == 200  # now cached
    caplog.set_level(logging.WARNING, logger="davbind.auth")
    for i in range(5):
        assert server.request("GET", "/", basic("alice", f"guess{i}")).status_code == 401
    r = server.request("GET", "/", basic("alice", "guess5"))
    assert r.status_code == 429 and r.headers["retry-after"] == "12"
    assert server.request("GET", "/", basic("carol", "other")).status_code == 429  # same address
    assert server.request("GET", "/home/alice/", good).status_code == 200  # cached: unaffected
    text = caplog.text
    assert "failed login for 'alice' from 192.0.2.7" in text
    assert "guess" not in text
    server.clock.now += 12
    assert server.request("GET", "/", basic("alice", "guess6")).status_code == 401


def test_the_home_answers_under_the_nextcloud_path(server: Server) -> None:
    auth_ = basic("alice", "wonder land")
    server.request("PUT", "/remote.php/dav/files/alice/n.txt", auth_, b"nc")
    assert server.request("GET", "/home/alice/n.txt", auth_).content == b"nc"
    r = server.request("PROPFIND", "/remote.php/dav/files/alice/", {"Depth": "1", **auth_})
    assert r.status_code == 207
    assert b"<D:href>/remote.php/dav/files/alice/n.txt</D:href>" in r.content


@pytest.mark.parametrize(
    ("settings", "users", "get", "put"),
    [
        ({"host": "0.0.0.0"}, False, 401, 401),
        ({"host": "0.0.0.0", "allow_anonymous_read": True}, False, 200, 403),
        ({"host": "0.0.0.0", "allow_anonymous_read": True}, True, 200, 401),
        ({"host": "0.0.0.0", "allow_anonymous_write": True}, True, 200, 201),
        ({"allow_anonymous_write": False}, False, 200, 403),
        ({"allow_anonymous_read": True}, True, 200, 401),
        ({"allow_anonymous_read": False}, False, 401, 401),
    ],
)
def test_anonymous_access_by_address_and_settings(
    tmp_path: Path, settings: dict[str, Any], users: bool, get: int, put: int
) -> None:
    s = Server(tmp_path / "d", **settings)
    if users:
        s.add_user("alice", "pw")
    try:
        assert s.request("GET", "/").status_code == get
        assert s.request("PUT", "/x.txt", content=b"x").status_code == put
    finally:
        s.services.threads.close()
        s.services.store.close()


def test_a_first_user_closes_loopback_within_seconds(tmp_path: Path) -> None:
    s = Server(tmp_path / "d")
    try:
        assert s.request("GET", "/").status_code == 200
        s.add_user("alice", "pw")
        s.clock.now += auth.USERS_RECHECK
        assert s.request("GET", "/").status_code == 401
    finally:
        s.services.threads.close()
        s.services.store.close()


def test_the_access_log_names_the_user_through_the_whole_stack(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``create_app`` wraps authentication in the access-log middleware: a logged-in
    request's line names its user (``scope["user"]``), a refused one has ``-``, and the
    password is nowhere in the log."""
    from davbind.server.app import create_app

    helper = Server(tmp_path / "data")
    helper.add_user("carol", "pw-of-carol")
    app = create_app(helper.services.settings)  # the same store

    async def go() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("192.0.2.9", 4242))
        async with httpx.AsyncClient(transport=transport, base_url="http://h") as c:
            ok = await c.get("/home/carol/", auth=("carol", "pw-of-carol"))
            refused = await c.get("/home/carol/x")
            return [ok.status_code, refused.status_code]

    assert asyncio.run(go()) == [200, 401]
    lines = [line for line in capfd.readouterr().out.splitlines() if "/home/carol/" in line]
    assert len(lines) == 2, lines
    assert lines[0].startswith('192.0.2.9 - carol [') and '"GET /home/carol/ ' in lines[0]
    assert lines[1].startswith("192.0.2.9 - - [") and '" 401 ' in lines[1]
    assert "pw-of-carol" not in "\n".join(lines)
