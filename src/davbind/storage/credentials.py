"""Password and app-password hashing, shared by ``davbind user`` (which makes them) and
the server (which checks them).

* Account passwords: argon2id (RFC 9106) with argon2-cffi's defaults (64 MiB, 3 passes,
  4 lanes: about 50-150 ms a verification), stored in the PHC string format, which
  carries its parameters, so a later change of defaults still verifies old hashes.
* App passwords: ``dbt_<id>_<secret>`` with 256 random bits of secret.  Being random,
  they need no slow hash: the store keeps HMAC-SHA256 of the whole token under a key
  of its own (``AccountsTxn.token_secret``), which is one fast lookup per login and
  useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

TOKEN_PREFIX = "dbt_"

_HASHER = PasswordHasher()  # argon2id is argon2-cffi's default type
_DUMMY: list[str] = []  # a hash to verify against for unknown users, made on first use


def _dummy() -> str:
    if not _DUMMY:
        _DUMMY.append(_HASHER.hash("davbind: a password nobody has"))
    return _DUMMY[0]


def hash_password(password: str) -> str:
    if not password:
        raise ValueError("the password is empty")
    return _HASHER.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; ``None`` (no such user) costs the same time as a
    wrong password, so timing does not tell which user names exist.  Slow by design:
    call it in a thread, never on an event loop."""
    try:
        return _HASHER.verify(password_hash or _dummy(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True, slots=True)
class NewToken:
    id: str
    token: str  # shown once, never stored


def mint_token() -> NewToken:
    tid = secrets.token_hex(4)
    return NewToken(tid, f"{TOKEN_PREFIX}{tid}_{secrets.token_urlsafe(32)}")


def looks_like_token(text: str) -> bool:
    return text.startswith(TOKEN_PREFIX) and len(text) > 40


def token_digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode("utf-8"), hashlib.sha256).hexdigest()
