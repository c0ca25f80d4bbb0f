"""Per-worker cache of verified credentials, so HTTP Basic does not cost an argon2id
verification (tens of milliseconds of CPU) on every request.

* The key is HMAC-SHA256 of the whole ``Authorization`` value under a random key of
  this process: neither the password nor an unkeyed hash of it is held in memory
  longer than the request that presented it.
* An entry lives ``ttl`` seconds from its verification, however often it is used: a
  password change, a removed user or a revoked app password is refused by every
  worker at most ``ttl`` seconds later.  ``ttl = 0`` turns the cache off.
* At most ``max_entries`` entries; the least recently used goes first.

Failures are never cached (the login limiter counts them instead).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

V = TypeVar("V")

Clock = Callable[[], float]


class CredentialCache(Generic[V]):
    """Verified credentials to the principal they proved (module doc)."""

    def __init__(self, ttl: float, max_entries: int = 10_000,
                 clock: Clock = time.monotonic) -> None:  # fmt: skip
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._key = os.urandom(32)
        self._entries: OrderedDict[bytes, tuple[float, V]] = OrderedDict()

    def _digest(self, credential: str) -> bytes:
        return hmac.new(self._key, credential.encode("latin-1", "replace"),
                        hashlib.sha256).digest()  # fmt: skip

    def get(self, credential: str) -> V | None:
        if self.ttl <= 0:
            return None
        digest = self._digest(credential)
        entry = self._entries.get(digest)
        if entry is None:
            return None
        expires, value = entry
        if self._clock() >= expires:
            del self._entries[digest]
            return None
        self._entries.move_to_end(digest)
        return value

    def put(self, credential: str, value: V) -> None:
        if self.ttl <= 0:
            return
        digest = self._digest(credential)
        self._entries[digest] = (self._clock() + self.ttl, value)
        self._entries.move_to_end(digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
