"""The parts of authentication that keep state: the credential cache and the login
limiter, with a fake clock; and the ``Authorization`` parser."""

from __future__ import annotations

import base64

from davbind.server.auth import Presented, parse_authorization
from davbind.server.credential_cache import CredentialCache
from davbind.server.login_limiter import LoginLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_credential_expires_after_the_bound() -> None:
    clock = Clock()
    cache: CredentialCache[str] = CredentialCache(60, clock=clock)
    cache.put("Basic abc", "alice")
    clock.now += 59.9
    assert cache.get("Basic abc") == "alice"  # use does not extend it
    clock.now += 0.1
    assert cache.get("Basic abc") is None  # revocation is seen from here on
    assert len(cache) == 0


def test_the_cache_holds_no_credential_text_and_is_bounded() -> None:
    cache: CredentialCache[str] = CredentialCache(60, max_entries=3)
    for i in range(5):
        cache.put(f"Basic secret-{i}", f"u{i}")
    assert len(cache) == 3
    assert cache.get("Basic secret-0") is None and cache.get("Basic secret-4") == "u4"
    held = repr(vars(cache)) + repr(list(cache._entries))
    assert "secret" not in held


def test_the_least_recently_used_credential_goes_first() -> None:
    cache: CredentialCache[str] = CredentialCache(60, max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"
    cache.put("c", "C")
    assert cache.get("b") is None and cache.get("a") == "A"


def test_a_zero_bound_turns_the_cache_off() -> None:
    cache: CredentialCache[str] = CredentialCache(0)
    cache.put("a", "A")
    assert cache.get("a") is None


def test_five_failures_a_minute_then_a_wait() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 60, clock=clock)
    keys = ["addr:10.0.0.1", "user:alice"]
    for _ in range(5):
        assert limiter.retry_after(keys) == 0
        limiter.failed(keys)
    assert limiter.retry_after(keys) == 12  # one try back every 60/5 s
    assert limiter.retry_after(["user:alice"]) == 12
    assert limiter.retry_after(["addr:10.0.0.2", "user:bob"]) == 0  # others unaffected
    clock.now += 11
    assert limiter.retry_after(keys) == 1
    clock.now += 1
    assert limiter.retry_after(keys) == 0
    limiter.failed(keys)
    assert limiter.retry_after(keys) == 12


def test_one_address_guessing_many_users_is_limited_by_address() -> None:
    limiter = LoginLimiter(5, 60, clock=Clock())
    for i in range(5):
        limiter.failed(["addr:10.0.0.1", f"user:u{i}"])
    assert limiter.retry_after(["addr:10.0.0.1", "user:fresh"]) > 0
    assert limiter.retry_after(["addr:10.0.0.9", "user:u1"]) == 0


def test_the_limiter_is_bounded_and_drops_idle_buckets_first() -> None:
    clock = Clock()
    limiter = LoginLimiter(5, 60, max_keys=3, clock=clock)
    limiter.failed(["a", "b"])
    clock.now += 60  # a and b refilled: idle
    limiter.failed(["c", "d"])
    assert len(limiter) == 2
    limiter.failed(["e", "f", "g", "h"])
    assert len(limiter) == 3


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def test_authorization_values() -> None:
    assert parse_authorization(_basic("alice:pa:ss")) == Presented("alice", "pa:ss")
    assert parse_authorization(_basic("jörg:pässword")) == Presented("jörg", "pässword")
    assert parse_authorization("bearer  dbt_x ") == Presented(None, "dbt_x")
    assert parse_authorization(_basic("no colon")) is None
    assert parse_authorization(_basic(":pw")) is None
    assert parse_authorization("Basic !!!") is None
    assert parse_authorization('Digest username="a"') is None
    assert parse_authorization("Bearer") is None
