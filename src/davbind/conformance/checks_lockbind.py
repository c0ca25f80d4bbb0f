"""Locks across bindings (RFC 5842 §9, and its example §9.1; RFC 4918 §9.11).

``X/test`` and ``Y/test`` are two bindings of one resource R, locked (depth 0) through
``X/test``.  The locked *state* belongs to R: a PUT through either URL needs the token,
and with it succeeds.  The lock-root *URL* is ``X/test``: unmapping it needs the token,
unmapping ``Y/test`` does not.  UNLOCK may be sent through any URL of R.
"""

from __future__ import annotations

from davbind.client import LockToken
from davbind.conformance.checks_bind import bind, unbind
from davbind.conformance.checks_locks import expect_unlocked, put_with
from davbind.conformance.context import OK, Context
from davbind.conformance.registry import check

NEEDS = ("2", "bind")
AFTER = ("bind.create", "locks.put-needs-token")
CONTENT = b"locked through X/test\n"


def e17(ctx: Context) -> tuple[str, str, LockToken]:
    """The state of RFC 5842 §9.1's example: R at X/test and Y/test, locked through X/test."""
    x, y = ctx.path("X/test"), ctx.path("Y/test")
    ctx.mkcol(ctx.path("X/"))
    ctx.mkcol(ctx.path("Y/"))
    ctx.put(x, CONTENT)
    ctx.setup_status(bind(ctx, x, y), OK, "BIND Y/test -> X/test")
    return x, y, ctx.lock(x)


@check(id="lockbind.state-via-other-binding", rfc="5842 §9, §9.1", level="MUST",
       needs=NEEDS, tags=("locks", "bindings"), after=AFTER)  # fmt: skip
def state_via_other_binding(ctx: Context) -> None:
    """A PUT through another binding of a locked resource needs the token (423)"""
    x, y, _ = e17(ctx)
    reply = put_with(ctx, y, b"through the other binding\n")
    ctx.expect(reply.status == 423,
               f"PUT via Y/test without the token answered {reply.status}: the lock "
               f"protects the path, not the resource", reply)
    ctx.expect(ctx.content(x) == CONTENT, "the locked resource changed")


@check(id="lockbind.token-via-other-binding", rfc="5842 §9, §9.1; 4918 §10.4.4",
       level="MUST", needs=NEEDS, tags=("locks", "bindings"), after=AFTER)  # fmt: skip
def token_via_other_binding(ctx: Context) -> None:
    """With the token, a PUT through the other binding succeeds"""
    x, y, token = e17(ctx)
    reply = put_with(ctx, y, b"by the lock holder via Y\n", token.token)
    ctx.expect_status(reply, OK, "PUT via Y/test with If: (<token>)")
    ctx.expect(ctx.content(x) == b"by the lock holder via Y\n", "the change is not seen at X/test")


@check(id="lockbind.unlock-via-other-binding", rfc="5842 §9.1; 4918 §9.11", level="MUST",
       needs=NEEDS, tags=("locks", "bindings"), after=AFTER)  # fmt: skip
def unlock_via_other_binding(ctx: Context) -> None:
    """UNLOCK may be sent through any URL of the locked resource"""
    x, y, token = e17(ctx)
    reply = ctx.unlock(token, y)
    ctx.expect_status(reply, {200, 204}, "UNLOCK via Y/test")
    expect_unlocked(ctx, put_with(ctx, x, b"unlocked\n"),
                    "after UNLOCK via Y/test, a PUT via X/test without a token")  # fmt: skip


@check(id="lockbind.lockroot-protected", rfc="5842 §9, §9.1", level="MUST", needs=NEEDS,
       tags=("locks", "bindings"), after=AFTER)  # fmt: skip
def lockroot_protected(ctx: Context) -> None:
    """The lock-root URL cannot be unmapped (UNBIND, DELETE) without the token"""
    x, _, _ = e17(ctx)
    reply = unbind(ctx, x)
    ctx.expect(reply.status == 423, f"UNBIND of the lock-root X/test without the token "
                                    f"answered {reply.status}", reply)  # fmt: skip
    reply = ctx.send("DELETE", x)
    ctx.expect(reply.status == 423, f"DELETE of the lock-root X/test without the token "
                                    f"answered {reply.status}", reply)  # fmt: skip
    ctx.expect(ctx.content(x) == CONTENT, "the lock-root URL was unmapped")


@check(id="lockbind.other-url-unprotected", rfc="5842 §9, §9.1", level="SHOULD",
       needs=NEEDS, tags=("locks", "bindings"), after=AFTER)  # fmt: skip
def other_url_unprotected(ctx: Context) -> None:
    """Another binding of a locked resource can be deleted without the token"""
    x, y, _ = e17(ctx)
    reply = ctx.send("DELETE", y)
    ctx.expect_status(reply, {200, 204}, "DELETE of Y/test (not the lock-root) without token")
    ctx.expect(ctx.content(x) == CONTENT, "the resource is gone from X/test")
    still = put_with(ctx, x, b"intruder\n")
    ctx.expect(still.status == 423, f"after deleting Y/test the resource is no longer "
                                    f"locked (PUT answered {still.status})", still)  # fmt: skip
