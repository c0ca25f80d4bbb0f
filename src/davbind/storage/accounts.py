"""Accounts in the metadata store: users, their app passwords, and the per-store secret
the app passwords are hashed with.

A user is a name and an argon2id hash of the account password.  An app password
(``AppToken``) belongs to one user, has a label (which client it was made for) and a
scope: ``read`` (methods that change nothing) or ``write`` (everything the user may do).
Only a keyed hash of an app password is stored (``credentials.token_digest``), so it is
found by one indexed lookup and a copy of the database does not reveal it.

Who may do what where is a later layer; it hangs off the user's name, which is the
principal the server puts on each request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

TokenScope = Literal["read", "write"]
SCOPES: tuple[TokenScope, ...] = ("read", "write")

USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""A user name is also a path segment (the home collection) and the part of an HTTP
Basic credential before the colon (RFC 7617 §2: it cannot contain one)."""


class BadUserName(ValueError):
    """A user name that cannot be used (``USER_NAME``)."""


def check_user_name(name: str) -> str:
    if not USER_NAME.fullmatch(name) or name in (".", ".."):
        raise BadUserName(
            f"invalid user name {name!r}: use 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


@dataclass(frozen=True, slots=True)
class User:
    name: str
    password_hash: str  # argon2id, PHC string format
    created: float
    changed: float  # last password change


@dataclass(frozen=True, slots=True)
class AppToken:
    id: str  # public, short: names the token in lists and for revocation
    user: str
    label: str
    scope: TokenScope
    digest: str  # keyed hash of the whole token (``credentials.token_digest``)
    created: float


class AccountsTxn(Protocol):
    """The account reads and writes of a metadata store transaction."""

    def users(self) -> Iterator[User]: ...

    def user(self, name: str) -> User | None: ...

    def has_users(self) -> bool: ...

    def add_user(self, user: User) -> None:
        """``AlreadyExists`` if the name is taken."""
        ...

    def set_password(self, name: str, password_hash: str, when: float) -> None:
        """``NotFound`` if there is no such user."""
        ...

    def remove_user(self, name: str) -> None:
        """Remove the user and every app password of theirs; ``NotFound`` if unknown."""
        ...

    def tokens(self, user: str) -> list[AppToken]: ...

    def token_by_digest(self, digest: str) -> AppToken | None: ...

    def add_token(self, token: AppToken) -> None:
        """``AlreadyExists`` if the id is taken."""
        ...

    def revoke_token(self, user: str, token_id: str) -> None:
        """``NotFound`` if the user has no such token."""
        ...

    def token_secret(self) -> bytes:
        """The store's key for ``credentials.token_digest`` (made with the schema)."""
        ...
