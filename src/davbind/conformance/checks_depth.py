"""Depth honesty of PROPFIND (RFC 4918 §9.1, §9.1.1, §10.2, §14.24).

A server must answer Depth 0 and 1 exactly, and either answer Depth infinity completely
or refuse it with ``403`` and ``<D:propfind-finite-depth/>``.  What this module catches:
silent truncation (some members missing), silent downgrade (Depth infinity answered as
Depth 1), a bare 403, and a missing Depth header not treated as infinity.

The tree used (inside the check's collection)::

    a.txt   s1/b.txt   s1/s2/c.txt   s1/s2/s3/d.txt
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from davbind.client import messages as msg
from davbind.client.hrefs import href_key, normalize_href
from davbind.conformance.context import DAV, Context, Reply
from davbind.conformance.registry import check

TREE = ("a.txt", "s1/", "s1/b.txt", "s1/s2/", "s1/s2/c.txt", "s1/s2/s3/", "s1/s2/s3/d.txt")
DEPTH1 = ("", "a.txt", "s1/")
PROPS = (DAV + "resourcetype",)


def _tree(ctx: Context) -> None:
    for rel in TREE:
        if rel.endswith("/"):
            ctx.mkcol(ctx.path(rel))
        else:
            ctx.put(ctx.path(rel), rel.encode() + b"\n")


def _hrefs(ctx: Context, reply: Reply) -> list[str]:
    """Normalised hrefs of every response (trailing slash ignored), in document order."""
    return [href_key(normalize_href(r.href, reply.url)) for r in ctx.responses(reply)]


def _expected(ctx: Context, rels: tuple[str, ...]) -> set[str]:
    return {href_key(ctx.href(ctx.path(rel))) for rel in rels}


def _compare(ctx: Context, reply: Reply, rels: tuple[str, ...], what: str) -> None:
    """Exactly the URLs of ``rels`` (the check's collection is ``""``), each once."""
    got = _hrefs(ctx, reply)
    twice = sorted(h for h, n in Counter(got).items() if n > 1)
    ctx.expect(not twice, f"{what}: hrefs reported more than once: {', '.join(twice)}", reply)
    want = _expected(ctx, rels)
    missing, extra = sorted(want - set(got)), sorted(set(got) - want)
    if missing or extra:
        parts = [f"missing {', '.join(missing)}"] if missing else []
        parts += [f"not expected {', '.join(extra)}"] if extra else []
        ctx.fail(f"{what}: expected responses for exactly {len(want)} URLs; "
                 f"{'; '.join(parts)}", reply)  # fmt: skip


def deepest(hrefs: Iterable[str], target: str) -> int:
    """How many segments below ``target`` the deepest of ``hrefs`` lies (0: only the
    target).  A Depth-infinity answer over a deeper tree that stops at 1 was downgraded."""
    base = href_key(normalize_href(target)).rstrip("/")
    depth = 0
    for href in hrefs:
        key = href_key(normalize_href(href))
        if key.startswith(base + "/"):
            depth = max(depth, key[len(base):].count("/"))
    return depth


def _refused(reply: Reply) -> bool:
    return reply.status == 403


def _infinity(ctx: Context, *, send_depth: bool = True) -> Reply:
    """PROPFIND Depth infinity of the check's collection (or with no Depth header)."""
    if not send_depth:
        request = msg.propfind(ctx.url(ctx.home), "0", PROPS, bind=False)
        return ctx.send_request(request, drop=("Depth",))
    return ctx.propfind(ctx.home, "infinity", PROPS, bind=False)


@check(id="depth.zero", rfc="4918 §9.1, §10.2", level="MUST", tags=("propfind", "class1"))
def depth_zero(ctx: Context) -> None:
    """PROPFIND Depth 0 reports the target only"""
    _tree(ctx)
    reply = ctx.propfind(ctx.home, "0", PROPS, bind=False)
    ctx.expect_status(reply, {207}, "PROPFIND Depth 0")
    _compare(ctx, reply, ("",), "Depth 0")


@check(id="depth.one", rfc="4918 §9.1, §14.24", level="MUST", tags=("propfind", "class1"))
def depth_one(ctx: Context) -> None:
    """PROPFIND Depth 1 reports the target and its members, each once, nothing deeper"""
    _tree(ctx)
    reply = ctx.propfind(ctx.home, "1", PROPS, bind=False)
    ctx.expect_status(reply, {207}, "PROPFIND Depth 1")
    _compare(ctx, reply, DEPTH1, "Depth 1")


@check(id="depth.infinity-complete", rfc="4918 §9.1, §9.1.1", level="MUST", tags=("propfind",))
def infinity_complete(ctx: Context) -> str | None:
    """Depth infinity is answered completely or refused with 403, never silently cut"""
    _tree(ctx)
    reply = _infinity(ctx)
    if _refused(reply):
        return "Depth: infinity refused with 403 (allowed by RFC 4918 §9.1)"
    ctx.expect_status(reply, {207}, "PROPFIND Depth infinity")
    ctx.expect(not reply.truncated, "the Depth: infinity answer does not end", reply)
    bad = [r for r in ctx.responses(reply) if r.status in (507, 508)]
    if bad:
        ctx.fail(f"expected a complete listing, got {bad[0].status} for {bad[0].href}", reply)
    _compare(ctx, reply, ("", *TREE), "Depth infinity (silently truncated?)")
    return None


@check(id="depth.infinity-not-downgraded", rfc="4918 §9.1, §10.2", level="MUST",
       tags=("propfind",))  # fmt: skip
def infinity_not_downgraded(ctx: Context) -> str | None:
    """Depth infinity is not silently answered as Depth 1"""
    _tree(ctx)
    reply = _infinity(ctx)
    if _refused(reply):
        return "Depth: infinity refused with 403 (allowed by RFC 4918 §9.1)"
    ctx.expect_status(reply, {207}, "PROPFIND Depth infinity")
    found = deepest(_hrefs(ctx, reply), ctx.href(ctx.home))
    ctx.expect(found >= 2, "Depth: infinity was answered with Depth-1 content only "
                           "(a silent downgrade; refuse with 403 propfind-finite-depth "
                           "instead)", reply)  # fmt: skip
    return None


@check(id="depth.finite-depth-precondition", rfc="4918 §9.1, §9.1.1, §16", level="SHOULD",
       tags=("propfind",))  # fmt: skip
def finite_depth_precondition(ctx: Context) -> None:
    """A refused Depth infinity says why: 403 with <D:propfind-finite-depth/>"""
    _tree(ctx)
    reply = _infinity(ctx)
    if reply.status == 207:
        ctx.skip("the server answers Depth: infinity; nothing to refuse")
    ctx.expect_condition(reply, {403}, "propfind-finite-depth", "PROPFIND Depth infinity refused")


@check(id="depth.missing-means-infinity", rfc="4918 §9.1, §10.2", level="SHOULD",
       tags=("propfind",))  # fmt: skip
def missing_means_infinity(ctx: Context) -> str | None:
    """PROPFIND without a Depth header is treated as Depth infinity"""
    _tree(ctx)
    reply = _infinity(ctx, send_depth=False)
    if _refused(reply):
        ctx.expect_condition(reply, {403}, "propfind-finite-depth", "PROPFIND without Depth")
        return "refused like Depth: infinity (403 propfind-finite-depth)"
    ctx.expect_status(reply, {207}, "PROPFIND without a Depth header")
    _compare(ctx, reply, ("", *TREE), "PROPFIND without Depth (treated as infinity?)")
    return None
