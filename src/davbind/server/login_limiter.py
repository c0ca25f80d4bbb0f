"""Failed-login limits: a token bucket per user name and one per client address.

Each bucket holds ``burst`` failures and refills at ``burst`` per ``window`` seconds
(the default: 5 failures a minute).  A failure takes one; while either bucket of a
login is empty the login is refused before it is checked (429 with ``Retry-After``,
RFC 6585 §4), so guessing costs the guesser time, not the server argon2 work.  A
credential verified earlier and still in the credential cache is not checked again, so
a client already logged in keeps working while someone guesses its user's password.

Bounded memory: at most ``max_keys`` buckets; full (idle) buckets are dropped first,
then the oldest.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class LoginLimiter:
    """Token buckets keyed by any string (``user:NAME``, ``addr:IP``)."""

    def __init__(self, burst: int = 5, window: float = 60.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.burst = burst
        self.rate = burst / window  # tokens per second
        self.max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def _level(self, key: str, now: float) -> float:
        bucket = self._buckets.get(key)
        if bucket is None:
            return float(self.burst)
        return min(float(self.burst), bucket.tokens + (now - bucket.at) * self.rate)

    def retry_after(self, keys: Iterable[str]) -> int:
        """Seconds until every bucket of ``keys`` allows a try (0: allowed now)."""
        now = self._clock()
        wait = 0.0
        for key in keys:
            level = self._level(key, now)
            if level < 1.0:
                wait = max(wait, (1.0 - level) / self.rate)
        return math.ceil(wait - 1e-9)  # float noise must not add a second

    def failed(self, keys: Iterable[str]) -> None:
        now = self._clock()
        for key in keys:
            level = self._level(key, now)
            self._buckets[key] = _Bucket(max(0.0, level - 1.0), now)
            self._buckets.move_to_end(key)
        self._trim(now)

    def _trim(self, now: float) -> None:
        if len(self._buckets) <= self.max_keys:
            return
        for key in [k for k in self._buckets if self._level(k, now) >= self.burst]:
            del self._buckets[key]
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)

    def __len__(self) -> int:
        return len(self._buckets)
