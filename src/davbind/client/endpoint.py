"""What ``Client`` and ``AsyncClient`` share besides the operations: the server they
talk to, the credentials, and how a client path becomes a request URL."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Generic, TypedDict, TypeVar

import httpx

from davbind.client.auth import DAVAuth
from davbind.client.hrefs import path_url

AuthArg = httpx.Auth | tuple[str, str] | None
TransportT = TypeVar("TransportT")


def make_auth(auth: AuthArg) -> httpx.Auth | None:
    """``(user, password)`` becomes a :class:`DAVAuth` that answers Basic or Digest."""
    if isinstance(auth, tuple):
        return DAVAuth(*auth)
    return auth


class Settings(TypedDict):
    """The ``httpx`` client options both shells pass (redirects are never followed:
    a WebDAV method must not be replayed elsewhere unasked)."""

    auth: httpx.Auth | None
    timeout: float
    headers: Mapping[str, str] | None
    verify: bool
    follow_redirects: bool


class Endpoint(Generic[TransportT]):
    """The server at ``base_url`` (always ending in "/"); paths are relative to it.
    A shell opens its own kind of ``httpx`` client in ``_connect``."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: AuthArg = None,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        verify: bool = True,
        transport: TransportT | None = None,
    ) -> None:
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.auth = make_auth(auth)
        self._connect(
            transport,
            Settings(auth=self.auth, timeout=timeout, headers=headers, verify=verify,
                     follow_redirects=False),
        )  # fmt: skip

    def _connect(self, transport: TransportT | None, settings: Settings) -> None:
        raise NotImplementedError

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` (decoded or encoded; see ``hrefs.path_url``)."""
        return path_url(self.base_url, path)

    def prime_url(self) -> str | None:
        """Where to probe before a streamed upload: the base URL while a
        :class:`DAVAuth` has not learnt the server's scheme (a challenge to a body that
        cannot be replayed would fail the upload), else None."""
        if isinstance(self.auth, DAVAuth) and not self.auth.primed:
            return self.base_url
        return None
