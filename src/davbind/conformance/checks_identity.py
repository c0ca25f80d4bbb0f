"""Resource identity: DAV:resource-id and DAV:parent-set (RFC 5842 §2.6–§2.8, §3).

The rules checked: every resource reports a ``DAV:resource-id`` URI (REQUIRED, §3.1);
the same value through every binding, kept by PUT-update, MOVE and REBIND, new for
every created resource (PUT, MKCOL, COPY) and never reused (§2.7); a dead property is
one value whatever binding it is read through (§2.6); ``DAV:parent-set``, when the
server supports it (OPTIONAL), lists every binding (§2.8, §3.2); and neither property
is returned for ``allprop`` (§3, SHOULD NOT).  Grouping by resource-id is what
``fold_multistatus`` does: two bindings of one file fold into one entry with an alias.
"""

from __future__ import annotations

from urllib.parse import unquote

from davbind.client import messages as msg
from davbind.client.hrefs import href_key, normalize_href
from davbind.client.listing import PARENT_SET
from davbind.conformance.checks_bind import bind, rebind
from davbind.conformance.context import CHECK_NS, DAV, OK, RESOURCE_ID, Context
from davbind.conformance.registry import check

BIND = ("bind",)
NOTE = "{" + CHECK_NS + "}note"


def rid(ctx: Context, path: str) -> str:
    """The resource-id at ``path``; a missing one fails the check (REQUIRED, §3.1)."""
    value = ctx.resource_id(path)
    if value is None:
        ctx.fail(f"{path} reports no DAV:resource-id")
    return value


@check(id="identity.resource-id", rfc="5842 §3.1, §2.7", level="MUST", needs=BIND,
       tags=("identity",))  # fmt: skip
def resource_id(ctx: Context) -> None:
    """Every resource reports DAV:resource-id, a URI in DAV:href, unique per resource"""
    ctx.put(ctx.path("f.txt"), b"identity\n")
    ctx.mkcol(ctx.path("c/"))
    reply = ctx.propfind(ctx.home, "1", [DAV + "resourcetype", RESOURCE_ID])
    ctx.expect_status(reply, {207}, "PROPFIND Depth 1 of DAV:resource-id")
    seen: dict[str, str] = {}
    for response in ctx.responses(reply):
        values = [ps.props[RESOURCE_ID] for ps in response.propstats
                  if ps.status == 200 and RESOURCE_ID in ps.props]  # fmt: skip
        ctx.expect(bool(values), f"{response.href} has no DAV:resource-id", reply)
        uri = values[0].hrefs[0] if values[0].hrefs else ""
        ctx.expect(":" in uri, f"{response.href}: DAV:resource-id is not a URI in DAV:href "
                               f"({values[0].text!r})", reply)  # fmt: skip
        ctx.expect(uri not in seen, f"{response.href} and {seen.get(uri)} share the "
                                    f"resource-id {uri}", reply)  # fmt: skip
        seen[uri] = response.href
    ctx.expect(len(seen) == 3, f"expected 3 resources, got {len(seen)}", reply)


@check(id="identity.same-via-bindings", rfc="5842 §2.7, §3.1", level="MUST", needs=BIND,
       tags=("identity",), after=("bind.create",))  # fmt: skip
def same_via_bindings(ctx: Context) -> None:
    """All bindings of a resource report the same resource-id (and fold into one entry)"""
    ctx.mkcol(ctx.path("s/"))
    ctx.mkcol(ctx.path("t/"))
    ctx.put(ctx.path("s/f.txt"), b"shared\n")
    for new in ("s/g.txt", "t/h.txt", "t/c/"):
        target = "s/" if new.endswith("/") else "s/f.txt"
        ctx.setup_status(bind(ctx, ctx.path(target), ctx.path(new)), OK, f"BIND {new}")
    ids = {p: rid(ctx, ctx.path(p)) for p in ("s/f.txt", "s/g.txt", "t/h.txt")}
    ctx.expect(len(set(ids.values())) == 1, f"one file, several resource-ids: {ids}")
    coll = {p: rid(ctx, ctx.path(p)) for p in ("s/", "t/c/")}
    ctx.expect(len(set(coll.values())) == 1, f"one collection, several resource-ids: {coll}")
    listing = ctx.listing(ctx.propfind(ctx.path("s/"), "1"))
    entry = listing.get(ctx.href(ctx.path("s/f.txt")))
    ctx.expect(entry is not None and len(entry.hrefs) == 2,
               "a Depth-1 listing with two bindings of one file does not fold into one "
               "entry by DAV:resource-id")  # fmt: skip


@check(id="identity.move-keeps", rfc="5842 §2.7, §2.5", level="MUST", needs=BIND,
       tags=("identity",))  # fmt: skip
def move_keeps(ctx: Context) -> None:
    """MOVE keeps the resource-id of a file and of a collection"""
    ctx.put(ctx.path("a.txt"), b"moving\n")
    ctx.mkcol(ctx.path("c/"))
    for src, dst in (("a.txt", "b.txt"), ("c/", "d/")):
        before = rid(ctx, ctx.path(src))
        reply = ctx.send_request(msg.move(ctx.url(ctx.path(src)), ctx.url(ctx.path(dst))))
        ctx.expect_status(reply, {201}, f"MOVE {src} to {dst}")
        after = rid(ctx, ctx.path(dst))
        ctx.expect(before == after, f"MOVE changed the resource-id: {before} -> {after}")


@check(id="identity.rebind-keeps", rfc="5842 §2.7, §6", level="MUST", needs=BIND,
       tags=("identity",))  # fmt: skip
def rebind_keeps(ctx: Context) -> None:
    """REBIND keeps the resource-id"""
    ctx.mkcol(ctx.path("x/"))
    ctx.put(ctx.path("a.txt"), b"rebinding\n")
    before = rid(ctx, ctx.path("a.txt"))
    reply = rebind(ctx, ctx.path("a.txt"), ctx.path("x/r.txt"))
    ctx.expect_status(reply, {200, 201}, "REBIND")
    after = rid(ctx, ctx.path("x/r.txt"))
    ctx.expect(before == after, f"REBIND changed the resource-id: {before} -> {after}")


@check(id="identity.put-keeps", rfc="5842 §2.7", level="MUST", needs=BIND, tags=("identity",))
def put_keeps(ctx: Context) -> None:
    """A PUT that updates a resource keeps its resource-id"""
    ctx.put(ctx.path("f.txt"), b"version 1\n")
    before = rid(ctx, ctx.path("f.txt"))
    ctx.put(ctx.path("f.txt"), b"version 2\n")
    after = rid(ctx, ctx.path("f.txt"))
    ctx.expect(before == after, f"PUT replaced the resource: resource-id {before} -> {after}")


@check(id="identity.new-on-create", rfc="5842 §2.7", level="MUST", needs=BIND,
       tags=("identity",))  # fmt: skip
def new_on_create(ctx: Context) -> None:
    """PUT and MKCOL mint new resource-ids, never reused at the same URL"""
    ctx.mkcol(ctx.path("other/"))
    seen: dict[str, str] = {}

    def mint(path: str, collection: bool) -> None:
        if collection:
            ctx.mkcol(ctx.path(path))
        else:
            ctx.put(ctx.path(path), b"same content\n")
        value = rid(ctx, ctx.path(path))
        ctx.expect(value not in seen, f"{path} got the resource-id {value} already used by "
                                      f"{seen.get(value)}")  # fmt: skip
        seen[value] = path

    for _ in range(2):  # create, delete, create again at the same URLs
        mint("n.txt", False)
        mint("n/", True)
        ctx.delete(ctx.path("n.txt"))
        ctx.delete(ctx.path("n/"))
    mint("other/n.txt", False)


@check(id="identity.new-on-copy", rfc="5842 §2.7, §2.3", level="MUST", needs=BIND,
       tags=("identity",))  # fmt: skip
def new_on_copy(ctx: Context) -> None:
    """COPY to a new URL creates new resources with new resource-ids"""
    ctx.mkcol(ctx.path("a/"))
    ctx.mkcol(ctx.path("b/"))
    ctx.put(ctx.path("a/f.txt"), b"copied\n")
    reply = ctx.send_request(msg.copy(ctx.url(ctx.path("a/f.txt")), ctx.url(ctx.path("b/f.txt"))))
    ctx.expect_status(reply, {201}, "COPY of a file")
    ctx.expect(rid(ctx, ctx.path("a/f.txt")) != rid(ctx, ctx.path("b/f.txt")),
               "the copy has the resource-id of its source")  # fmt: skip
    reply = ctx.send_request(msg.copy(ctx.url(ctx.path("a/")), ctx.url(ctx.path("c/"))))
    dst = "c/"
    ctx.expect_status(reply, {201}, "COPY of a collection")
    ctx.expect(rid(ctx, ctx.path("a/")) != rid(ctx, ctx.path(dst)),
               "the copied collection has the resource-id of its source")  # fmt: skip
    ctx.expect(rid(ctx, ctx.path(dst + "f.txt")) != rid(ctx, ctx.path("a/f.txt")),
               "a member of the copied collection has its source's resource-id")  # fmt: skip


@check(id="identity.parent-set", rfc="5842 §2.8, §3.2", level="MUST", needs=BIND,
       tags=("identity",), after=("bind.create",))  # fmt: skip
def parent_set(ctx: Context) -> None:
    """DAV:parent-set (if supported) lists every binding, each parent once per binding"""
    ctx.mkcol(ctx.path("x/"))
    ctx.mkcol(ctx.path("y/"))
    ctx.put(ctx.path("x/f.txt"), b"parents\n")
    for new in ("x/h.txt", "y/g.txt"):
        ctx.setup_status(bind(ctx, ctx.path("x/f.txt"), ctx.path(new)), OK, f"BIND {new}")
    reply = ctx.propfind(ctx.path("y/g.txt"), "0", [PARENT_SET])
    ctx.expect_status(reply, {207}, "PROPFIND DAV:parent-set")
    entry = ctx.listing(reply).root
    if entry is None or PARENT_SET not in entry.props:
        ctx.skip("DAV:parent-set is not supported (OPTIONAL, RFC 5842 §2.8)")
    got = sorted((href_key(normalize_href(p.href, reply.url)), unquote(p.segment))
                 for p in entry.parents)  # fmt: skip
    want = sorted((href_key(ctx.href(ctx.path(d))), name)
                  for d, name in (("x/", "f.txt"), ("x/", "h.txt"), ("y/", "g.txt")))  # fmt: skip
    ctx.expect(got == want, f"DAV:parent-set lists {got}, expected {want}", reply)


@check(id="identity.not-in-allprop", rfc="5842 §3", level="SHOULD", needs=BIND,
       tags=("identity",))  # fmt: skip
def not_in_allprop(ctx: Context) -> None:
    """allprop does not return DAV:resource-id or DAV:parent-set (SHOULD NOT)"""
    ctx.put(ctx.path("f.txt"), b"allprop\n")
    reply = ctx.propfind(ctx.path("f.txt"), "0", None)
    ctx.expect_status(reply, {207}, "PROPFIND allprop")
    entry = ctx.listing(reply).root
    shown = [n for n in (RESOURCE_ID, PARENT_SET) if entry is not None and n in entry.props]
    ctx.expect(not shown, f"allprop returned {', '.join(shown)}", reply)


@check(id="identity.dead-props-shared", rfc="5842 §2.6", level="MUST", needs=BIND,
       tags=("identity",), after=("bind.create",))  # fmt: skip
def dead_props_shared(ctx: Context) -> None:
    """A dead property set through one binding is read through every other"""
    ctx.mkcol(ctx.path("x/"))
    ctx.mkcol(ctx.path("y/"))
    ctx.put(ctx.path("x/f.txt"), b"props\n")
    ctx.setup_status(bind(ctx, ctx.path("x/f.txt"), ctx.path("y/g.txt")), OK, "BIND y/g.txt")
    reply = ctx.send_request(msg.proppatch(ctx.url(ctx.path("y/g.txt")), {NOTE: "shared"}))
    ctx.expect_status(reply, {207}, "PROPPATCH via the second binding")
    entry = ctx.listing(ctx.propfind(ctx.path("x/f.txt"), "0", [NOTE])).root
    value = entry.text(NOTE) if entry is not None else None
    got = "not reported" if value is None else repr(value)
    ctx.expect(value == "shared", f"the property set to 'shared' via the second binding, read "
                                  f"via the first: expected 'shared', got {got}")  # fmt: skip
