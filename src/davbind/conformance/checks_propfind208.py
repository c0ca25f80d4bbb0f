"""208 Already Reported and 508 Loop Detected in PROPFIND (RFC 5842 §7, §8.2, §2.1.1).

The rules checked, for a server announcing ``bind``:

- 208 only in a ``Depth: infinity`` answer (§7.1), only to a client that sent
  ``DAV: bind`` (§7.1 SHOULD NOT, §8.2); a loop met by a client without it gives 508
  (§7.1, §7.2) — top level, or mid-stream (davbind's reading: reported where the stream
  meets the loop), or the whole Depth infinity is
  refused with 403 ``propfind-finite-depth`` (RFC 4918 §9.1).
- For a collection with several bindings in scope exactly one binding is reported with
  200 and enumerated; every other gets 208 with no responses below it (§7.1).  A loop
  ends with a 208 (§2.1.1).
- Placement: a 208 is either ``propstat/status`` (the RFC example §7.1.1) or a bare
  ``response/status`` (the prose) — both are accepted; a response mixing 208
  with 200 is not.  When DAV:resource-id was asked for, the 208 carries it (§7.1).
- Leaves reached twice are reported with 200 at each URL (davbind's reading: 208 is
  for collections); the answer depends on the DAV request header, so it says
  ``Vary: DAV``.

Trees used: a DAG ``a/`` (collection S with ``g.txt``), ``b`` → S, ``f.txt``,
``f2`` → ``f.txt``; a loop ``l/`` with ``x.txt`` and ``l/back`` → ``l/``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from davbind.client import Response
from davbind.client.hrefs import href_key, is_below, normalize_href
from davbind.client.listing import response_facts
from davbind.conformance.checks_bind import bind
from davbind.conformance.context import DAV, OK, RESOURCE_ID, Context, Reply
from davbind.conformance.registry import check

BIND = ("bind",)
PROPS = (DAV + "resourcetype", RESOURCE_ID)


@dataclass(frozen=True, slots=True)
class Row:
    """One ``<D:response>`` as the 208 rules see it."""

    href: str  # normalised, trailing slash dropped
    status: int | None  # response status, else 208/200 from the propstats
    form: str  # "plain" (no 208), "propstat", "bare" or "mixed"
    resource_id: str | None


def placement(response: Response) -> str:
    """Where a 208 sits in ``response`` (RFC 5842 §7.1: either form is accepted)."""
    in_propstat = any(ps.status == 208 for ps in response.propstats)
    if response.status == 208:
        return "bare" if not response.propstats else "mixed"
    if not in_propstat:
        return "plain"
    found = [ps for ps in response.propstats
             if ps.status is not None and 200 <= ps.status < 300 and ps.status != 208]  # fmt: skip
    return "mixed" if found else "propstat"


def rows(ctx: Context, reply: Reply) -> list[Row]:
    out = []
    for response in ctx.responses(reply):
        facts = response_facts(response)
        key = href_key(normalize_href(response.href, reply.url))
        out.append(Row(key, facts.status, placement(response), facts.resource_id))
    return out


def key(ctx: Context, rel: str) -> str:
    return href_key(ctx.href(ctx.path(rel)))


def dag(ctx: Context) -> None:
    ctx.mkcol(ctx.path("a/"))
    ctx.put(ctx.path("a/g.txt"), b"in the shared collection\n")
    ctx.put(ctx.path("f.txt"), b"shared leaf\n")
    ctx.setup_status(bind(ctx, ctx.path("a/"), ctx.path("b/")), OK, "BIND b -> a/")
    ctx.setup_status(bind(ctx, ctx.path("f.txt"), ctx.path("f2")), OK, "BIND f2 -> f.txt")


def loop(ctx: Context) -> None:
    """``l/back`` → ``l/``; skipped where the server refuses loops (§2.1.1 allows it)."""
    ctx.mkcol(ctx.path("l/"))
    ctx.put(ctx.path("l/x.txt"), b"in the loop\n")
    reply = bind(ctx, ctx.path("l/"), ctx.path("l/back/"))
    if reply.status == 403 and "cycle-allowed" in reply.conditions:
        ctx.skip("the server refuses binding loops (cycle-allowed; RFC 5842 §2.1.1 allows it)")
    ctx.expect_status(reply, {201}, "BIND l/back -> l/ (a loop)")


def infinity(ctx: Context, rel: str, *, bind_aware: bool) -> Reply:
    """Depth infinity of ``rel``; a refusal (403) skips: there is no 208 to see (whether
    the refusal says ``propfind-finite-depth`` is ``depth.finite-depth-precondition``)."""
    reply = ctx.propfind(ctx.path(rel), "infinity", PROPS, bind=bind_aware)
    if reply.status == 403:
        ctx.skip("the server refuses Depth: infinity (RFC 4918 §9.1); no 208 to observe")
    ctx.expect_status(reply, {207}, "PROPFIND Depth infinity")
    ctx.expect(not reply.truncated, "the Depth: infinity answer does not end", reply)
    return reply


def _status(status: int | None) -> str:
    return "no status" if status is None else str(status)


def _by_href(ctx: Context, reply: Reply) -> dict[str, Row]:
    found = rows(ctx, reply)
    twice = sorted(h for h, n in Counter(r.href for r in found).items() if n > 1)
    ctx.expect(not twice, f"hrefs reported more than once: {', '.join(twice)}", reply)
    return {r.href: r for r in found}


@check(id="p208.depth1-no-208", rfc="5842 §7.1", level="MUST", needs=BIND, tags=("propfind",))
def depth1_no_208(ctx: Context) -> None:
    """Depth 0 and 1 answers never carry 208, even with two bindings of one resource"""
    dag(ctx)
    for depth in ("1", "0"):
        reply = ctx.propfind(ctx.home, depth, PROPS, bind=True)
        ctx.expect_status(reply, {207}, f"PROPFIND Depth {depth}")
        bad = [r.href for r in rows(ctx, reply) if r.status == 208 or r.form != "plain"]
        ctx.expect(not bad, f"208 in a Depth-{depth} answer for {', '.join(bad)}", reply)


@check(id="p208.one-200-per-collection", rfc="5842 §7.1", level="MUST", needs=BIND,
       tags=("propfind",))  # fmt: skip
def one_200_per_collection(ctx: Context) -> None:
    """A collection with two bindings in scope: one binding 200, the other 208"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    found = _by_href(ctx, reply)
    a, b = key(ctx, "a/"), key(ctx, "b/")
    lost = [h for h in (a, b) if h not in found]
    ctx.expect(not lost, f"the shared collection's bindings a/ and b/: expected both in the "
                         f"answer, missing {', '.join(lost)}", reply)  # fmt: skip
    got = sorted(_status(found[h].status) for h in (a, b))
    ctx.expect(got == ["200", "208"],
               f"the two bindings of one collection: expected one 200 and one 208, got "
               f"{' and '.join(got)}", reply)  # fmt: skip


@check(id="p208.no-descendants", rfc="5842 §7.1", level="MUST", needs=BIND, tags=("propfind",))
def no_descendants(ctx: Context) -> None:
    """Nothing is listed below a 208 binding; the 200 binding is enumerated"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    found = _by_href(ctx, reply)
    reported = [h for h, r in found.items() if r.status == 208]
    below = sorted(h for h in found for r in reported if h != r and is_below(h, r))
    ctx.expect(not below, f"responses below a 208 binding: {', '.join(below)}", reply)
    enumerated = [h for h in (key(ctx, "a/"), key(ctx, "b/"))
                  if found.get(h) is not None and found[h].status == 200]  # fmt: skip
    members = [h for h in found for e in enumerated if is_below(h, e) and h != e]
    ctx.expect(bool(members), "the binding reported with 200 is not enumerated", reply)


@check(id="p208.placement", rfc="5842 §7.1, §7.1.1 (davbind's reading); 4918 §14.24", level="MUST",
       needs=BIND, tags=("propfind",))  # fmt: skip
def placement_check(ctx: Context) -> str | None:
    """A 208 sits in propstat/status or in a bare response/status, never mixed with 200"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    found = rows(ctx, reply)
    mixed = [r.href for r in found if r.form == "mixed"]
    ctx.expect(not mixed, f"208 mixed with 200 in one response: {', '.join(mixed)}", reply)
    forms = sorted({r.form for r in found if r.form != "plain"})
    return f"208 form: {', '.join(forms)}" if forms else "no 208 in the answer"


@check(id="p208.resource-id", rfc="5842 §7.1, §7.1.1", level="SHOULD", needs=BIND,
       tags=("propfind", "identity"))  # fmt: skip
def resource_id_on_208(ctx: Context) -> None:
    """A 208 carries the DAV:resource-id that was asked for, the enumerated binding's"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    found = _by_href(ctx, reply)
    reported = [r for r in found.values() if r.status == 208]
    ctx.expect(bool(reported), "no 208 in the answer", reply)
    shared = {r.resource_id for h, r in found.items()
              if h in (key(ctx, "a/"), key(ctx, "b/")) and r.status == 200}  # fmt: skip
    for row in reported:
        ctx.expect(row.resource_id is not None,
                   f"the 208 for {row.href} carries no DAV:resource-id ({row.form} form)",
                   reply)  # fmt: skip
        ctx.expect(row.resource_id in shared, f"the 208 for {row.href} carries "
                                              f"{row.resource_id}, not the id of the "
                                              f"enumerated binding", reply)  # fmt: skip


@check(id="p208.leaves-200", rfc="5842 §7.1 (davbind's reading)", level="SHOULD", needs=BIND,
       tags=("propfind",))  # fmt: skip
def leaves_200(ctx: Context) -> None:
    """A file reached through two bindings is reported with 200 at both URLs"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    found = _by_href(ctx, reply)
    for rel in ("f.txt", "f2"):
        row = found.get(key(ctx, rel))
        got = _status(row.status) if row else "no response for it"
        ctx.expect(row is not None and row.status == 200,
                   f"{rel}: expected 200 (208 is for collections), got {got}", reply)


@check(id="p208.loop-bind-aware", rfc="5842 §2.1.1, §7.1", level="MUST", needs=BIND,
       tags=("propfind", "loops"))  # fmt: skip
def loop_bind_aware(ctx: Context) -> None:
    """A loop in a Depth-infinity answer to a bind-aware client ends with a 208"""
    loop(ctx)
    reply = infinity(ctx, "l/", bind_aware=True)
    found = _by_href(ctx, reply)
    back = key(ctx, "l/back/")
    row = found.get(back)
    got = _status(row.status) if row else "no response for it"
    ctx.expect(row is not None and row.status == 208,
               f"the looping binding l/back: expected 208, got {got}", reply)
    below = sorted(h for h in found if h != back and is_below(h, back))
    ctx.expect(not below, f"responses below the looping binding: {', '.join(below)}", reply)


@check(id="p208.loop-508", rfc="5842 §7.1, §7.2", level="SHOULD", needs=BIND,
       tags=("propfind", "loops"))  # fmt: skip
def loop_508(ctx: Context) -> str:
    """A loop met by a client without 'DAV: bind' gives 508 Loop Detected"""
    loop(ctx)
    reply = ctx.propfind(ctx.path("l/"), "infinity", PROPS, bind=False)
    if reply.status == 508:
        return "508 as the top-level status"
    if reply.status == 403:
        return "Depth: infinity refused with 403 (RFC 4918 §9.1)"
    if reply.status == 207 and not reply.truncated:
        mid = [r.href for r in rows(ctx, reply) if r.status == 508]
        if mid:
            return f"508 in the multistatus at {mid[0]} (a loop found while streaming)"
        ctx.fail("a 207 without any 508 for a looping tree to a client without DAV: bind",
                 reply)
    ctx.expect_status(reply, {508}, "PROPFIND Depth infinity over a loop without DAV: bind")
    return ""


@check(id="p208.no-208-without-bind", rfc="5842 §7.1, §8.2", level="SHOULD", needs=BIND,
       tags=("propfind",))  # fmt: skip
def no_208_without_bind(ctx: Context) -> None:
    """A client that did not send 'DAV: bind' never gets 208 (SHOULD NOT)"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=False)
    bad = [r.href for r in rows(ctx, reply) if r.status == 208 or r.form != "plain"]
    ctx.expect(not bad, f"208 sent to a client without DAV: bind for {', '.join(bad)}", reply)


@check(id="p208.vary", rfc="4918 §10.1 (davbind's reading); 9110 §12.5.5", level="SHOULD",
       needs=BIND, tags=("propfind",))  # fmt: skip
def vary(ctx: Context) -> None:
    """A Depth-infinity answer that depends on the DAV request header says Vary: DAV"""
    dag(ctx)
    reply = infinity(ctx, "", bind_aware=True)
    tokens = {t.strip().lower() for t in (reply.header("vary") or "").split(",")}
    vary = reply.header("vary")
    got = "no Vary header" if vary is None else f"Vary: {vary}"
    ctx.expect("dav" in tokens or "*" in tokens,
               f"expected Vary naming DAV, got {got}: caches may serve a 208 answer to a "
               f"client without DAV: bind", reply)  # fmt: skip
