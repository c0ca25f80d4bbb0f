"""Basic and Digest authentication: the scheme follows the server's challenge.

A mock transport checks the round trips (a streamed upload must go out exactly once);
WsgiDAV checks the credentials for real, Digest included (RFC 4918 §20.1 requires it).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from davbind.client import Client, DAVAuth, Unauthorized
from davbind.client.auth import credentials_from_netrc

BASIC_OK = "Basic " + base64.b64encode(b"alice:s3cret").decode()
CHALLENGES = {
    "basic": 'Basic realm="dav"',
    "digest": 'Digest realm="dav", nonce="abc", qop="auth", algorithm=MD5',
}


def mock(scheme: str, log: list[tuple[str, str, int]]) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization", "")
        body = request.read()
        good = auth == BASIC_OK if scheme == "basic" else (
            auth.startswith("Digest ") and 'username="alice"' in auth and "response=" in auth
        )  # fmt: skip
        log.append((request.method, auth.split(" ", 1)[0], len(body)))
        if not good:
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGES[scheme]})
        if request.method == "PROPFIND":
            return httpx.Response(207, content=b'<D:multistatus xmlns:D="DAV:"/>')
        return httpx.Response(201)

    return httpx.MockTransport(handler)


@pytest.mark.parametrize("scheme", ["basic", "digest"])
def test_scheme_learned_and_streamed_put_sent_once(scheme: str) -> None:
    log: list[tuple[str, str, int]] = []
    auth = DAVAuth("alice", "s3cret")
    with Client("http://h/", auth=auth, transport=mock(scheme, log)) as c:
        assert c.put("/f", io.BytesIO(b"a" * 10 + b"b" * 10)) == 201
        assert c.put("/g", b"second") == 201
    assert auth.scheme == scheme and auth.primed
    puts = [entry for entry in log if entry[0] == "PUT"]
    # The scheme was learned by a PROPFIND probe; each PUT went out once, authenticated.
    assert puts == [("PUT", scheme.capitalize(), 20), ("PUT", scheme.capitalize(), 6)]


def test_wrong_password_is_unauthorized() -> None:
    log: list[tuple[str, str, int]] = []
    client = Client("http://h/", auth=("alice", "nope"), transport=mock("basic", log))
    with client as c, pytest.raises(Unauthorized) as info:
        c.cat("/f")
    assert info.value.status == 401


@pytest.mark.parametrize("digest", [False, True], ids=["basic", "digest"])
def test_real_server_auth(wsgidav: Callable[..., Any], digest: bool) -> None:
    with wsgidav(users={"alice": "s3cret"}, digest=digest) as (url, root):
        (root / "f.txt").write_text("secret")
        with Client(url, auth=("alice", "s3cret")) as c:
            assert c.cat("/f.txt") == b"secret"
            assert c.put("/up.bin", io.BytesIO(b"x" * 100_000)) == 201
            assert isinstance(c.auth, DAVAuth) and c.auth.scheme == (
                "digest" if digest else "basic"
            )
        assert (root / "up.bin").stat().st_size == 100_000
        with Client(url) as anonymous, pytest.raises(Unauthorized):
            anonymous.ls("/")


NETRC = "machine example.org login bob password pw\ndefault login anon password none\n"


@pytest.mark.parametrize(
    ("url", "expected"),
    [("http://example.org:8080/x", ("bob", "pw")), ("http://other.test/", ("anon", "none"))],
)
def test_netrc(tmp_path: Path, url: str, expected: tuple[str, str]) -> None:
    path = tmp_path / "netrc"
    path.write_text(NETRC)
    path.chmod(0o600)
    assert credentials_from_netrc(url, str(path)) == expected
    assert credentials_from_netrc(url, str(tmp_path / "missing")) is None
