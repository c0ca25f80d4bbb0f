"""Locks that really lock (RFC 4918 §6, §7, §9.10, §9.11, §10.4, §10.5).

Run only against servers announcing class 2.  A server that grants LOCK but then lets a
PUT, DELETE or a second exclusive LOCK through without the token is reported here: it
advertises class 2 without enforcing it.  Every lock taken is released after the check
(the runner unlocks what is left).
"""

from __future__ import annotations

from defusedxml.ElementTree import fromstring

from davbind.client import LockToken
from davbind.client import messages as msg
from davbind.conformance.context import DAV, OK, Context, Reply
from davbind.conformance.registry import check

LOCKDISCOVERY = DAV + "lockdiscovery"
NOT_ENFORCED = "the server announces class 2 but does not enforce its lock: "


def expect_unlocked(ctx: Context, reply: Reply, what: str) -> None:
    """``reply`` is a PUT without a token after UNLOCK: any 2xx shows the lock is gone
    (which success code a PUT gives is RFC 9110 §9.3.4's rule, judged by
    ``class1.put-status``); 423 shows it is still there (RFC 4918 §11.3)."""
    if reply.status == 423:
        ctx.fail(f"{what}: expected 2xx (the resource writable again), got 423 Locked: "
                 f"the lock is still there", reply)  # fmt: skip
    ctx.expect(reply.status in OK, f"{what}: expected 2xx (the resource writable again), "
                                   f"got {reply.status}", reply)  # fmt: skip


def put_with(ctx: Context, path: str, data: bytes, token: str | None = None) -> Reply:
    """PUT ``data`` to ``path``, submitting ``token`` in an If header when given."""
    return ctx.send_request(msg.put(ctx.url(path), lock_token=token), body=data)


def locked_file(ctx: Context, name: str = "f.txt") -> tuple[str, LockToken]:
    path = ctx.path(name)
    ctx.put(path, b"locked content\n")
    return path, ctx.lock(path)


def tokens_in(reply: Reply, ctx: Context) -> list[str]:
    """The lock tokens in the ``DAV:lockdiscovery`` of a PROPFIND or LOCK answer."""
    if reply.status == 207:
        entry = ctx.listing(reply).root
        value = entry.props.get(LOCKDISCOVERY) if entry is not None else None
        element = value.element if value is not None else None
    else:
        try:
            element = fromstring(reply.body)
        except Exception:  # defusedxml's refusals and parse errors alike: no tokens
            element = None
    if element is None:
        return []
    return [(h.text or "").strip() for t in element.iter(DAV + "locktoken")
            for h in t.iter(DAV + "href")]  # fmt: skip


@check(id="locks.lock-granted", rfc="4918 §9.10.1, §10.5, §15.8", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def lock_granted(ctx: Context) -> None:
    """LOCK answers 200 with a Lock-Token header and the lock in DAV:lockdiscovery"""
    path = ctx.path("f.txt")
    ctx.put(path, b"locked content\n")
    request = msg.lock(ctx.url(path), timeout=600, owner="davbind check")
    reply = ctx.send_request(request)
    ctx.adopt(reply)  # released after the check, whatever happens below
    ctx.expect_status(reply, {200}, "LOCK of an existing resource")
    raw = (reply.header("lock-token") or "").strip()
    ctx.expect(raw.startswith("<") and raw.endswith(">") and len(raw) > 2,
               f"LOCK answer: expected a Lock-Token header <token>, got "
               f"{repr(raw) if raw else 'no such header'}", reply)  # fmt: skip
    token = raw[1:-1]
    held = tokens_in(reply, ctx)
    ctx.expect(token in held, f"the LOCK body's DAV:lockdiscovery: expected the new token "
                              f"{token}, got {_tokens(held)}", reply)  # fmt: skip
    found = ctx.propfind(path, "0", [LOCKDISCOVERY])
    held = tokens_in(found, ctx)
    ctx.expect(token in held, f"PROPFIND of DAV:lockdiscovery: expected the new token "
                              f"{token}, got {_tokens(held)}", found)  # fmt: skip


def _tokens(held: list[str]) -> str:
    return ", ".join(held) if held else "no lock token (no active lock reported)"


@check(id="locks.put-needs-token", rfc="4918 §7, §7.1, §9.10", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def put_needs_token(ctx: Context) -> None:
    """A PUT to a locked resource without its token is refused with 423"""
    path, _ = locked_file(ctx)
    reply = put_with(ctx, path, b"intruder\n")
    ctx.expect(reply.status == 423, NOT_ENFORCED + f"PUT without the token answered "
                                                   f"{reply.status}", reply)  # fmt: skip
    ctx.expect(ctx.content(path) == b"locked content\n", NOT_ENFORCED + "the content changed")


@check(id="locks.put-with-token", rfc="4918 §7.5, §10.4", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def put_with_token(ctx: Context) -> None:
    """A PUT submitting the lock token in If succeeds"""
    path, token = locked_file(ctx)
    reply = put_with(ctx, path, b"owner's change\n", token.token)
    ctx.expect_status(reply, OK, "PUT with If: (<token>) by the lock holder")
    ctx.expect(ctx.content(path) == b"owner's change\n", "the lock holder's PUT was lost")


@check(id="locks.delete-needs-token", rfc="4918 §7, §9.6, §9.9", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def delete_needs_token(ctx: Context) -> None:
    """The lock-root URL cannot be deleted or moved away without the token (423)"""
    path, _ = locked_file(ctx)
    reply = ctx.send("DELETE", path)
    ctx.expect(reply.status == 423, NOT_ENFORCED + f"DELETE without the token answered "
                                                   f"{reply.status}", reply)  # fmt: skip
    reply = ctx.send_request(msg.move(ctx.url(path), ctx.url(ctx.path("moved.txt"))))
    ctx.expect(reply.status == 423, NOT_ENFORCED + f"MOVE without the token answered "
                                                   f"{reply.status}", reply)  # fmt: skip
    ctx.expect(ctx.content(path) == b"locked content\n", NOT_ENFORCED + "the resource is gone")


@check(id="locks.exclusive-conflict", rfc="4918 §6.1, §9.10.6", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def exclusive_conflict(ctx: Context) -> None:
    """A second exclusive LOCK on a locked resource is refused with 423"""
    path, _ = locked_file(ctx)
    reply = ctx.send_request(msg.lock(ctx.url(path), timeout=600, owner="davbind check 2"))
    ctx.adopt(reply)
    ctx.expect(reply.status == 423, NOT_ENFORCED + f"a second exclusive LOCK answered "
                                                   f"{reply.status}", reply)  # fmt: skip


@check(id="locks.unlock", rfc="4918 §9.11, §9.11.1", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def unlock(ctx: Context) -> None:
    """UNLOCK with the token answers 204, and the resource is writable again"""
    path, token = locked_file(ctx)
    reply = ctx.unlock(token)
    ctx.expect_status(reply, {200, 204}, "UNLOCK with the lock token")
    expect_unlocked(ctx, put_with(ctx, path, b"free again\n"), "PUT without a token after UNLOCK")


@check(id="locks.lock-unmapped", rfc="4918 §7.3, §9.10.4", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def lock_unmapped(ctx: Context) -> None:
    """LOCK of an unmapped URL creates an empty resource and answers 201"""
    path = ctx.path("new.txt")
    request = msg.lock(ctx.url(path), timeout=600, owner="davbind check")
    reply = ctx.send_request(request)
    ctx.adopt(reply)
    ctx.expect_status(reply, {201}, "LOCK of an unmapped URL")
    ctx.expect(ctx.exists(path), "the locked empty resource does not exist")
