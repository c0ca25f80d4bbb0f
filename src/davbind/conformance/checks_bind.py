"""BIND, UNBIND and REBIND: statuses and every precondition observable over HTTP.

RFC 5842 §4 (BIND: 201 new, 200/204 replaced, ``Overwrite: F`` → 412 per RFC 4918
§10.6/§12.1, atomic), §5 (UNBIND: 200/204, the URL is gone, the resource lives on
through its other bindings), §6 (REBIND: an atomic MOVE of one binding; 201, or 200 as
the RFC's own example §6.1 answers — and 200/204 when replacing).

The RFC names preconditions but gives them no status codes; where a server announces
``bind`` the checker expects davbind's decisions: 409 for a missing
source, 403 or 409 for a non-collection Request-URI, 403 for ``name-allowed`` and
``cross-server-binding``, each with its ``<D:error>`` element (RFC 4918 §16).  Those
checks are SHOULD; that a refused request is refused and changes nothing is MUST.

Layout used by most checks: ``x/f.txt`` (resource R1), ``x/o.txt`` (R2), empty ``y/``.
"""

from __future__ import annotations

from davbind.client import messages as msg
from davbind.client.hrefs import href_key, normalize_href
from davbind.conformance.context import Context, Reply
from davbind.conformance.registry import check
from davbind.protocol.xmlbody import escape_text

R1 = b"resource one\n"
R2 = b"resource two\n"
BIND = ("bind",)


def bind(ctx: Context, existing: str, new: str, overwrite: bool | None = None) -> Reply:
    """BIND ``new`` → the resource at ``existing``; ``overwrite=None`` sends no header."""
    request = msg.bind(ctx.url(new), ctx.url(existing), overwrite=overwrite is not False)
    return ctx.send_request(request, drop=("Overwrite",) if overwrite is None else ())


def rebind(ctx: Context, existing: str, new: str, overwrite: bool | None = None) -> Reply:
    """REBIND the binding ``existing`` to ``new``; ``overwrite=None`` sends no header."""
    request = msg.rebind(ctx.url(new), ctx.url(existing), overwrite=overwrite is not False)
    return ctx.send_request(request, drop=("Overwrite",) if overwrite is None else ())


def unbind(ctx: Context, path: str) -> Reply:
    return ctx.send_request(msg.unbind(ctx.url(path)))


def raw_binding(ctx: Context, method: str, collection: str, segment: str,
                href: str | None = None) -> Reply:  # fmt: skip
    """A BIND/UNBIND/REBIND with exactly this segment and href (RFC 5842 §4–§6 bodies)."""
    root = method.lower()
    inner = f"<D:segment>{escape_text(segment)}</D:segment>"
    if href is not None:
        inner += f"<D:href>{escape_text(href)}</D:href>"
    body = f'{msg.PROLOG}<D:{root} xmlns:D="DAV:">{inner}</D:{root}>'.encode()
    return ctx.send(method, collection, headers=[("Content-Type", msg.XML)], body=body)


def layout(ctx: Context) -> tuple[str, str, str, str]:
    """``x/f.txt`` (R1), ``x/o.txt`` (R2), ``y/``: returns (x/, f.txt, o.txt, y/) paths."""
    x, y = ctx.path("x/"), ctx.path("y/")
    ctx.mkcol(x)
    ctx.mkcol(y)
    ctx.put(x + "f.txt", R1)
    ctx.put(x + "o.txt", R2)
    return x, x + "f.txt", x + "o.txt", y


def _state(ctx: Context, *paths: str) -> set[tuple[str, str | None]]:
    """Every (href, resource-id) of the Depth-1 listings of ``paths``."""
    out: set[tuple[str, str | None]] = set()
    for path in paths:
        for entry in ctx.listing(ctx.propfind(path, "1")):
            out.update((href_key(h), entry.resource_id) for h in entry.hrefs)
    return out


@check(id="bind.create", rfc="5842 §4, §2", level="MUST", needs=BIND, tags=("bindings",))
def create(ctx: Context) -> None:
    """BIND of a new segment answers 201 and makes a second URL of the same resource"""
    _, f, _, y = layout(ctx)
    reply = bind(ctx, f, y + "g.txt")
    ctx.expect_status(reply, {201}, "BIND of a new segment")
    ctx.expect(ctx.content(y + "g.txt") == R1, "GET via the new binding gives other content")
    ctx.put(y + "g.txt", b"written via the new binding\n")
    ctx.expect(ctx.content(f) == b"written via the new binding\n",
               "a PUT via the new binding did not change the resource at the first URL: "
               "BIND made a copy, not a binding")  # fmt: skip


@check(id="bind.location", rfc="5842 §4.1 (davbind's reading); 9110 §15.3.2",
       level="SHOULD", needs=BIND, tags=("bindings",), after=("bind.create",))  # fmt: skip
def location(ctx: Context) -> None:
    """A 201 to BIND names the new binding's URL in Location"""
    _, f, _, y = layout(ctx)
    reply = bind(ctx, f, y + "g.txt")
    ctx.expect_status(reply, {201}, "BIND of a new segment")
    value = reply.header("location")
    ctx.expect(value is not None, "201 Created without a Location header", reply)
    assert value is not None
    got = href_key(normalize_href(value, reply.url))
    ctx.expect(got == href_key(ctx.href(y + "g.txt")),
               f"Location {value!r} does not name the new binding", reply)  # fmt: skip


@check(id="bind.replace", rfc="5842 §4", level="MUST", needs=BIND, tags=("bindings",))
def replace(ctx: Context) -> None:
    """BIND onto an existing segment replaces it (200/204); the old resource survives"""
    _, f, o, y = layout(ctx)
    ctx.expect_status(bind(ctx, f, y + "g.txt"), {201}, "BIND of a new segment")
    reply = bind(ctx, o, y + "g.txt")
    ctx.expect_status(reply, {200, 204}, "BIND replacing an existing binding (no Overwrite)")
    ctx.expect(ctx.content(y + "g.txt") == R2, "the segment does not name the new resource")
    ctx.expect(ctx.content(f) == R1, "the replaced resource vanished from its other binding")


@check(id="bind.can-overwrite", rfc="5842 §4; 4918 §10.6, §12.1", level="MUST", needs=BIND,
       tags=("bindings",))  # fmt: skip
def can_overwrite(ctx: Context) -> None:
    """BIND with Overwrite: F onto an existing segment fails with 412 and changes nothing"""
    _, f, o, y = layout(ctx)
    ctx.expect_status(bind(ctx, f, y + "g.txt"), {201}, "BIND of a new segment")
    reply = bind(ctx, o, y + "g.txt", overwrite=False)
    ctx.expect_status(reply, {412}, "BIND onto an existing segment with Overwrite: F")
    ctx.expect(ctx.content(y + "g.txt") == R1, "BIND with Overwrite: F replaced the binding")


@check(id="bind.preconditions-refused", rfc="5842 §4", level="MUST", needs=BIND,
       tags=("bindings",))  # fmt: skip
def preconditions_refused(ctx: Context) -> None:
    """Every failed BIND precondition refuses the request and changes nothing"""
    x, f, o, y = layout(ctx)
    ctx.expect_status(bind(ctx, f, y + "g.txt"), {201}, "BIND of a new segment")
    before = _state(ctx, x, y)
    cases = {
        "missing source (bind-source-exists)": bind(ctx, x + "nope.txt", y + "a.txt"),
        "file as Request-URI (bind-into-collection)":
            raw_binding(ctx, "BIND", f, "a", ctx.href(o)),
        "segment '..' (name-allowed)": raw_binding(ctx, "BIND", y, "..", ctx.href(f)),
        "href on another server (cross-server-binding)":
            raw_binding(ctx, "BIND", y, "c.txt", "http://elsewhere.invalid" + ctx.href(f)),
        "Overwrite: F onto a binding (can-overwrite)": bind(ctx, o, y + "g.txt", False),
    }  # fmt: skip
    accepted = [f"{name} -> {r.status}" for name, r in cases.items() if r.ok]
    bad = [r for r in cases.values() if r.ok]
    ctx.expect(not accepted, f"BIND succeeded although: {'; '.join(accepted)}", *bad)
    ctx.expect(_state(ctx, x, y) == before, "a refused BIND changed the bindings")


@check(id="bind.source-exists", rfc="5842 §4 (davbind's reading); 4918 §16",
       level="SHOULD", needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def source_exists(ctx: Context) -> None:
    """BIND to a missing resource: 409 with <D:bind-source-exists/>"""
    x, _, _, y = layout(ctx)
    reply = bind(ctx, x + "nope.txt", y + "a.txt")
    ctx.expect_condition(reply, {409}, "bind-source-exists", "BIND with a missing DAV:href")


@check(id="bind.into-collection", rfc="5842 §4 (davbind's reading); 4918 §16", level="SHOULD",
       needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def into_collection(ctx: Context) -> None:
    """BIND into a file: 403 or 409 with <D:bind-into-collection/>"""
    _, f, o, _ = layout(ctx)
    reply = raw_binding(ctx, "BIND", f, "a", ctx.href(o))
    ctx.expect_condition(reply, {403, 409}, "bind-into-collection",
                         "BIND whose Request-URI is a file")  # fmt: skip


@check(id="bind.name-allowed", rfc="5842 §4 (davbind's reading); 4918 §16",
       level="SHOULD", needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def name_allowed(ctx: Context) -> None:
    """BIND with an unusable segment ('..', 'a/b'): 403 with <D:name-allowed/>"""
    _, f, _, y = layout(ctx)
    for segment in ("..", "a/b"):
        reply = raw_binding(ctx, "BIND", y, segment, ctx.href(f))
        ctx.expect_condition(reply, {403}, "name-allowed", f"BIND with segment {segment!r}")


@check(id="bind.cross-server", rfc="5842 §4 (davbind's reading); 4918 §16", level="SHOULD",
       needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def cross_server(ctx: Context) -> None:
    """BIND to a resource on another server: 403 with <D:cross-server-binding/>"""
    _, f, _, y = layout(ctx)
    reply = raw_binding(ctx, "BIND", y, "c.txt", "http://elsewhere.invalid" + ctx.href(f))
    ctx.expect_condition(reply, {403}, "cross-server-binding", "BIND to another server")
    ctx.expect(not ctx.exists(y + "c.txt"), "a binding to another server was created")


@check(id="unbind.removes", rfc="5842 §5, §5.1", level="MUST", needs=BIND, tags=("bindings",))
def unbind_removes(ctx: Context) -> None:
    """UNBIND answers 200/204, the URL is gone, the other binding keeps the resource"""
    _, f, _, y = layout(ctx)
    ctx.expect_status(bind(ctx, f, y + "g.txt"), {201}, "BIND of a new segment")
    reply = unbind(ctx, y + "g.txt")
    ctx.expect_status(reply, {200, 204}, "UNBIND")
    ctx.expect(ctx.content(y + "g.txt") is None, "the unbound URL still answers GET (not 404)")
    ctx.expect(ctx.content(f) == R1, "UNBIND destroyed the resource's other binding")


@check(id="unbind.source-exists", rfc="5842 §5 (davbind's reading); 4918 §16", level="SHOULD",
       needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def unbind_source_exists(ctx: Context) -> None:
    """UNBIND of a missing segment: 409 with <D:unbind-source-exists/>"""
    _, _, _, y = layout(ctx)
    reply = unbind(ctx, y + "nope.txt")
    ctx.expect_condition(reply, {409}, "unbind-source-exists", "UNBIND of a missing segment")


@check(id="rebind.moves", rfc="5842 §6, §6.1 (davbind's reading)", level="MUST", needs=BIND,
       tags=("bindings",))  # fmt: skip
def rebind_moves(ctx: Context) -> None:
    """REBIND to a new segment answers 201 (or 200) and moves the binding"""
    _, f, _, y = layout(ctx)
    reply = rebind(ctx, f, y + "h.txt")
    ctx.expect_status(reply, {200, 201}, "REBIND to a new segment")
    ctx.expect(ctx.content(y + "h.txt") == R1, "the new binding does not give the content")
    ctx.expect(ctx.content(f) is None, "the old binding still answers GET after REBIND")


@check(id="rebind.replace", rfc="5842 §6", level="MUST", needs=BIND, tags=("bindings",))
def rebind_replace(ctx: Context) -> None:
    """REBIND onto an existing segment replaces it (200/204)"""
    _, f, _, y = layout(ctx)
    ctx.put(y + "h.txt", R2)
    reply = rebind(ctx, f, y + "h.txt")
    ctx.expect_status(reply, {200, 204}, "REBIND replacing a binding (no Overwrite)")
    ctx.expect(ctx.content(y + "h.txt") == R1, "the segment does not name the moved resource")
    ctx.expect(ctx.content(f) is None, "the old binding still answers GET after REBIND")


@check(id="rebind.can-overwrite", rfc="5842 §6; 4918 §10.6, §12.1", level="MUST", needs=BIND,
       tags=("bindings",))  # fmt: skip
def rebind_can_overwrite(ctx: Context) -> None:
    """REBIND with Overwrite: F onto an existing segment fails with 412, changes nothing"""
    _, f, _, y = layout(ctx)
    ctx.put(y + "h.txt", R2)
    reply = rebind(ctx, f, y + "h.txt", overwrite=False)
    ctx.expect_status(reply, {412}, "REBIND onto an existing segment with Overwrite: F")
    ctx.expect(ctx.content(y + "h.txt") == R2 and ctx.content(f) == R1,
               "REBIND with Overwrite: F changed the bindings")  # fmt: skip


@check(id="rebind.source-exists", rfc="5842 §6 (davbind's reading); 4918 §16",
       level="SHOULD", needs=BIND, tags=("bindings", "preconditions"))  # fmt: skip
def rebind_source_exists(ctx: Context) -> None:
    """REBIND of a missing binding: 409 with <D:rebind-source-exists/>"""
    x, _, _, y = layout(ctx)
    reply = rebind(ctx, x + "nope.txt", y + "h.txt")
    ctx.expect_condition(reply, {409}, "rebind-source-exists", "REBIND with a missing DAV:href")
