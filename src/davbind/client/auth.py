"""HTTP authentication for the clients: Basic or Digest, whichever the server asks for.

RFC 4918 §20.1 requires WebDAV servers to support Digest (RFC 7616) and says Basic
(RFC 7617) only over TLS; servers in the wild offer either.  :class:`DAVAuth` learns the
scheme from the first ``401`` challenge and then sends credentials with every request —
pre-emptively for Basic, with the cached challenge for Digest — so a streamed upload is
sent once and never has to be replayed.  ``Client.put`` asks an authenticated question
first when the scheme is still unknown (see ``primed``).

Credentials come from the caller; ``credentials_from_netrc`` reads ``~/.netrc`` (or
``$NETRC``) for the CLI.
"""

from __future__ import annotations

import base64
import contextlib
import netrc
import os
from collections.abc import Generator
from typing import Literal
from urllib.parse import urlsplit

import httpx

Scheme = Literal["auto", "basic", "digest"]


def basic_header(username: str, password: str) -> str:
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


class DAVAuth(httpx.Auth):
    """Basic or Digest credentials; ``scheme="auto"`` follows the server's challenge."""

    def __init__(self, username: str, password: str, scheme: Scheme = "auto") -> None:
        self.username = username
        self._password = password
        self.scheme: Scheme = scheme
        self._digest = httpx.DigestAuth(username, password)
        self._basic = basic_header(username, password)

    @property
    def primed(self) -> bool:
        """True once a request can carry credentials without a challenge round trip."""
        return self.scheme == "basic" or (
            self.scheme == "digest" and self._digest._last_challenge is not None
        )

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if self.scheme == "basic":
            request.headers["Authorization"] = self._basic
            yield request
            return
        if self.scheme == "digest":
            yield from self._digest.auth_flow(request)
            return
        response = yield request
        if response.status_code != 401:
            return
        offered = {
            value.split(None, 1)[0].lower()
            for value in response.headers.get_list("www-authenticate")
            if value.strip()
        }
        if "digest" in offered:
            self.scheme = "digest"
            yield from self._answer_digest(request, response)
        elif "basic" in offered:
            self.scheme = "basic"
            request.headers["Authorization"] = self._basic
            yield request

    def _answer_digest(
        self, request: httpx.Request, challenge: httpx.Response
    ) -> Generator[httpx.Request, httpx.Response, None]:
        """Hand the 401 we already have to httpx's Digest flow instead of asking again."""
        flow = self._digest.auth_flow(request)
        next(flow)  # the unauthenticated request: already sent
        try:
            authed = flow.send(challenge)
        except StopIteration:
            return
        response = yield authed
        with contextlib.suppress(StopIteration):
            flow.send(response)


def credentials_from_netrc(url: str, path: str | None = None) -> tuple[str, str] | None:
    """(login, password) for the host of ``url`` from a netrc file, if any."""
    file = path or os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    if not os.path.exists(file):
        return None
    try:
        found = netrc.netrc(file).authenticators(urlsplit(url).hostname or "")
    except (netrc.NetrcParseError, OSError):
        return None
    if found is None:
        return None
    login, _account, password = found
    return (login, password or "") if login else None
