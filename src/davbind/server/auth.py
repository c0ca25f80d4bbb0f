"""Authentication: an ASGI wrapper around the app that decides who a request is.

Credentials (``Authorization``):

* ``Basic`` (RFC 7617, UTF-8 as its ``charset`` parameter announces, §2.1): a user name
  and either the account password (argon2id, checked in a thread of its own, never on
  the event loop) or one of the user's app passwords (sync clients speak only Basic);
* ``Bearer`` (RFC 6750 §2.1): an app password alone.

A request without credentials is anonymous: allowed or not by
``Settings.anonymous_access``.  Refused, it gets 401 with both challenges (RFC 9110
§11.6.1).  A verified credential is kept in a per-worker ``CredentialCache`` for
``auth_cache_seconds``, which is also how long a password change or a revocation may
take to reach a worker.  Failed logins are counted per user and per client address
(``LoginLimiter``): over the limit, 429 with ``Retry-After``, logged with the address
(never the password).

What a passed request carries in its ASGI scope (for the app and any middleware):

* ``scope["user"]``: the user name (a ``str``); absent for anonymous requests;
* ``scope["davbind.principal"]``: the ``Principal`` (name, whether it may write, the
  app password used);
* ``scope["davbind.may_write"]``: whether a method that changes something may run;
  the app answers 403 otherwise (a read-only app password, read-only anonymous access);
* ``scope["davbind.access"]``: the ``access.Access`` privileges are decided by.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from davbind.server.access import CHALLENGES, UNRESTRICTED, Access, Privilege
from davbind.server.credential_cache import Clock, CredentialCache
from davbind.server.http import Receive, Response, Scope, Send, send_response
from davbind.server.login_limiter import LoginLimiter
from davbind.server.services import Services
from davbind.storage.credentials import looks_like_token, token_digest, verify_password
from davbind.storage.model import StorageError

log = logging.getLogger("davbind.auth")

USER_KEY = "user"
PRINCIPAL_KEY = "davbind.principal"
MAY_WRITE_KEY = "davbind.may_write"
ACCESS_KEY = "davbind.access"

READ_METHODS = frozenset({"OPTIONS", "GET", "HEAD", "PROPFIND"})
USERS_RECHECK = 5.0
"""Seconds a worker trusts its knowledge of whether any user exists (it opens loopback
to anonymous requests only while none does)."""

ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request is.  Permissions, when they come, hang off ``name``."""

    name: str
    may_write: bool
    token_id: str | None = None  # the app password used; None for the account password


@dataclass(frozen=True, slots=True)
class Presented:
    """A parsed ``Authorization`` value: ``user`` is None for a bearer token."""

    user: str | None
    secret: str


class Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def parse_authorization(value: str) -> Presented | None:
    """``Basic`` or ``Bearer`` credentials, or None for anything else or malformed."""
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if scheme.lower() == "bearer" and rest:
        return Presented(None, rest)
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(rest, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, colon, secret = decoded.partition(":")
    if not colon or not user:
        return None
    return Presented(user, secret)


def unauthorized(message: str) -> Response:
    return Response(401, [*CHALLENGES, ("Content-Type", "text/plain; charset=utf-8")],
                    f"401 Unauthorized: {message}\n".encode())  # fmt: skip


def too_many(wait: int) -> Response:
    headers = [("Retry-After", str(wait)), ("Content-Type", "text/plain; charset=utf-8")]
    return Response(429, headers, b"429 Too Many Requests: too many failed logins\n")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class Authenticator:
    """The ASGI callable ``serve`` runs: authenticates, then calls ``app`` (module doc)."""

    def __init__(self, app: ASGIApp, services: Services, clock: Clock = time.monotonic) -> None:
        self.app = app
        self.services = services
        settings = services.settings
        self.settings = settings
        self.cache: CredentialCache[Principal] = CredentialCache(
            settings.auth_cache_seconds, clock=clock
        )
        self.limiter = LoginLimiter(settings.login_failures_per_minute, clock=clock)
        self._clock = clock
        self._hashing = ThreadPoolExecutor(2, thread_name_prefix="davbind-argon2")
        self._token_key: bytes | None = None
        self._users: tuple[float, bool] | None = None  # (checked at, any user exists)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            await self._authenticate(scope)
        except Refused as refused:
            head = scope["method"].upper() == "HEAD"
            await send_response(send, refused.response, head=head)
            return
        except StorageError as exc:  # accounts unreadable (database down): 503, not 500
            from davbind.server.app import error_response  # app imports this module

            head = scope["method"].upper() == "HEAD"
            await send_response(send, error_response(exc), head=head)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        writes = scope["method"].upper() not in READ_METHODS
        value = _header(scope, b"authorization")
        if value is None:
            await self._anonymous(scope, writes)
            return
        principal = self.cache.get(value)
        if principal is None:
            principal = await self._login(scope, value)
            self.cache.put(value, principal)
        scope[USER_KEY] = principal.name
        scope[PRINCIPAL_KEY] = principal
        scope[MAY_WRITE_KEY] = principal.may_write
        scope[ACCESS_KEY] = Access(principal.name)

    async def _anonymous(self, scope: Scope, writes: bool) -> None:
        users = await self._users_exist() if self.settings.anonymous_needs_users else None
        access = self.settings.anonymous_access(users)
        if access == "none":
            raise Refused(unauthorized("log in to use this server"))
        if access == "read" and writes and (users or await self._users_exist()):
            raise Refused(unauthorized("log in to change anything here"))
        scope[MAY_WRITE_KEY] = access == "write"
        if users is None:
            users = await self._users_exist()
        if access == "write" and not users:
            scope[ACCESS_KEY] = UNRESTRICTED  # nobody to tell apart (``server.access``)
        else:
            public = Privilege.ALL if access == "write" else Privilege.READ
            scope[ACCESS_KEY] = Access(None, public)

    async def _login(self, scope: Scope, value: str) -> Principal:
        presented = parse_authorization(value)
        if presented is None:
            raise Refused(unauthorized("use Basic or Bearer credentials"))
        client = scope.get("client")
        address = str(client[0]) if client else "unknown"
        keys = [f"addr:{address}"]
        if presented.user is not None:
            keys.append(f"user:{presented.user}")
        wait = self.limiter.retry_after(keys)
        if wait:
            log.warning("login refused for %r from %s: too many failures, retry in %d s",
                        presented.user or "(app password)", address, wait)  # fmt: skip
            raise Refused(too_many(wait))
        principal = await self._verify(presented)
        if principal is None:
            self.limiter.failed(keys)
            log.warning("failed login for %r from %s", presented.user or "(app password)",
                        address)  # fmt: skip
            raise Refused(unauthorized("wrong user name or password"))
        return principal

    async def _verify(self, presented: Presented) -> Principal | None:
        threads = self.services.threads
        if presented.user is None or looks_like_token(presented.secret):
            found = await self._token(presented.secret)
            if found is not None and presented.user in (None, found.name):
                return found
            if presented.user is None:
                return None
        name = presented.user
        user = await threads.read(lambda txn: txn.user(name))
        stored = None if user is None else user.password_hash
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._hashing, verify_password, stored, presented.secret)
        return Principal(name, may_write=True) if ok else None

    async def _token(self, token: str) -> Principal | None:
        threads = self.services.threads
        if self._token_key is None:  # never changes: read once per worker
            self._token_key = await threads.read(lambda txn: txn.token_secret())
        digest = token_digest(self._token_key, token)
        found = await threads.read(lambda txn: txn.token_by_digest(digest))
        if found is None:
            return None
        return Principal(found.user, may_write=found.scope == "write", token_id=found.id)

    async def _users_exist(self) -> bool:
        now = self._clock()
        if self._users is None or now - self._users[0] >= USERS_RECHECK:
            exist = await self.services.threads.read(lambda txn: txn.has_users())
            self._users = (now, exist)
        return self._users[1]
