"""Class 1 basics every WebDAV server must get right (RFC 4918 §9.1–§9.9, RFC 9110 §9.3.4).

MKCOL (201; 405 on a mapped URL; 409 without the parent), PUT (201 new, 200/204
replaced; 409 without the parent), PROPFIND of a missing property (404 propstat),
PROPPATCH of a dead property, DELETE, COPY (201/204/412, Depth 0), MOVE.  Nothing here
needs bindings: these run against any server.
"""

from __future__ import annotations

from davbind.client import messages as msg
from davbind.conformance.context import CHECK_NS, DAV, OK, Context
from davbind.conformance.registry import check

MISSING_PROP = "{" + CHECK_NS + "}never-set"
COLOR = "{" + CHECK_NS + "}color"


def _prop_name(name: str) -> str:
    """``{DAV:}x`` as ``DAV:x``, ``{urn:ns}x`` as ``x (urn:ns)``."""
    ns, _, local = name[1:].partition("}")
    return f"DAV:{local}" if ns == "DAV:" else f"{local} ({ns})"


def _propstat(statuses: dict[str, int | None], name: str) -> str:
    """The status of the propstat ``name`` is in, said for a failure message."""
    if name not in statuses:
        return "no propstat for it (the property is missing from the answer)"
    status = statuses[name]
    return "a propstat without a status" if status is None else f"a {status} propstat"


@check(id="class1.mkcol", rfc="4918 §9.3, §9.3.1", level="MUST", tags=("class1",))
def mkcol(ctx: Context) -> None:
    """MKCOL creates a collection (201); MKCOL on a mapped URL fails with 405"""
    reply = ctx.send_request(msg.mkcol(ctx.url(ctx.path("c/"))))
    ctx.expect_status(reply, {201}, "MKCOL of a new collection")
    listing = ctx.listing(ctx.propfind(ctx.path("c/"), "0"))
    ctx.expect(listing.root is not None and listing.root.collection,
               "the new collection does not report DAV:resourcetype collection")  # fmt: skip
    again = ctx.send_request(msg.mkcol(ctx.url(ctx.path("c/"))))
    ctx.expect_status(again, {405}, "MKCOL on an existing collection")


@check(id="class1.mkcol-missing-parent", rfc="4918 §9.3.1", level="MUST", tags=("class1",))
def mkcol_missing_parent(ctx: Context) -> None:
    """MKCOL below a missing collection fails with 409 and creates nothing"""
    reply = ctx.send_request(msg.mkcol(ctx.url(ctx.path("nope/c/"))))
    ctx.expect_status(reply, {409}, "MKCOL below a missing collection")
    ctx.expect(not ctx.exists(ctx.path("nope/")),
               "MKCOL created the missing intermediate collection")  # fmt: skip


@check(id="class1.put-get", rfc="4918 §9.7; 9110 §9.3.4", level="MUST", tags=("class1",))
def put_get(ctx: Context) -> None:
    """Content stored by PUT (new and replaced) is what GET returns, byte for byte"""
    path = ctx.path("f.txt")
    ctx.expect_status(ctx.send_request(msg.put(ctx.url(path)), body=b"first\n"), OK,
                      "PUT of a new resource")  # fmt: skip
    ctx.expect(ctx.content(path) == b"first\n", "GET does not return what PUT stored")
    reply = ctx.send_request(msg.put(ctx.url(path)), body=b"second version\n")
    ctx.expect_status(reply, OK, "PUT replacing a resource")
    ctx.expect(ctx.content(path) == b"second version\n", "GET returns the old content")


@check(id="class1.put-status", rfc="9110 §9.3.4", level="MUST", tags=("class1",))
def put_status(ctx: Context) -> None:
    """PUT answers 201 when it creates a resource and 200/204 when it replaces one"""
    path = ctx.path("f.txt")
    reply = ctx.send_request(msg.put(ctx.url(path)), body=b"first\n")
    ctx.expect_status(reply, {201}, "PUT of a new resource")
    reply = ctx.send_request(msg.put(ctx.url(path)), body=b"second version\n")
    ctx.expect_status(reply, {200, 204}, "PUT replacing a resource")


@check(id="class1.put-missing-parent", rfc="4918 §9.7.1", level="MUST", tags=("class1",))
def put_missing_parent(ctx: Context) -> None:
    """PUT below a missing collection fails with 409"""
    reply = ctx.send_request(msg.put(ctx.url(ctx.path("nope/f.txt"))), body=b"x")
    ctx.expect_status(reply, {409}, "PUT below a missing collection")
    ctx.expect(not ctx.exists(ctx.path("nope/")), "PUT created the missing collection")


@check(id="class1.propfind-missing-prop", rfc="4918 §9.1, §9.1.2", level="MUST",
       tags=("class1", "propfind"))  # fmt: skip
def propfind_missing_prop(ctx: Context) -> None:
    """A property that does not exist is reported in a 404 propstat"""
    ctx.put(ctx.path("f.txt"), b"props\n")
    reply = ctx.propfind(ctx.path("f.txt"), "0", [DAV + "getcontentlength", MISSING_PROP])
    ctx.expect_status(reply, {207}, "PROPFIND Depth 0")
    responses = ctx.responses(reply)
    ctx.expect(len(responses) == 1, f"Depth 0 gave {len(responses)} responses", reply)
    statuses = {name: ps.status for ps in responses[0].propstats for name in ps.props}
    for name, want in ((DAV + "getcontentlength", 200), (MISSING_PROP, 404)):
        got = _propstat(statuses, name)
        ctx.expect(got == f"a {want} propstat",
                   f"{_prop_name(name)}: expected it in a {want} propstat, got {got}", reply)


@check(id="class1.proppatch", rfc="4918 §9.2, §9.2.1", level="MUST", tags=("class1",))
def proppatch(ctx: Context) -> None:
    """PROPPATCH sets and removes a dead property (207 with 200 per property)"""
    path = ctx.path("f.txt")
    ctx.put(path, b"props\n")
    reply = ctx.send_request(msg.proppatch(ctx.url(path), {COLOR: "blue"}))
    ctx.expect_status(reply, {207}, "PROPPATCH")
    codes = {name: ps.status for r in ctx.responses(reply) for ps in r.propstats
             for name in ps.props}  # fmt: skip
    got = _propstat(codes, COLOR)
    ctx.expect(got == "a 200 propstat", f"PROPPATCH setting the dead property {_prop_name(COLOR)}: "
                             f"expected it in a 200 propstat, got {got}", reply)  # fmt: skip
    entry = ctx.listing(ctx.propfind(path, "0", [COLOR])).root
    ctx.expect(entry is not None and entry.text(COLOR) == "blue",
               "PROPFIND does not return the value PROPPATCH set")  # fmt: skip
    ctx.expect_status(ctx.send_request(msg.proppatch(ctx.url(path), remove=[COLOR])), {207},
                      "PROPPATCH remove")  # fmt: skip
    entry = ctx.listing(ctx.propfind(path, "0", [COLOR])).root
    ctx.expect(entry is not None and COLOR not in entry.props,
               "the removed property is still reported")  # fmt: skip


@check(id="class1.delete", rfc="4918 §9.6, §9.6.1", level="MUST", tags=("class1",))
def delete(ctx: Context) -> None:
    """DELETE removes a file and a collection with its members; then 404"""
    ctx.put(ctx.path("f.txt"), b"bye\n")
    ctx.mkcol(ctx.path("c/"))
    ctx.put(ctx.path("c/m.txt"), b"member\n")
    reply = ctx.send("DELETE", ctx.path("f.txt"))
    ctx.expect_status(reply, {200, 204}, "DELETE of a file")
    ctx.expect(ctx.content(ctx.path("f.txt")) is None, "GET after DELETE does not give 404")
    ctx.expect_status(ctx.send("DELETE", ctx.path("c/")), {200, 204}, "DELETE of a collection")
    ctx.expect(not ctx.exists(ctx.path("c/m.txt")), "a member survived DELETE of its collection")


@check(id="class1.copy", rfc="4918 §9.8.4, §9.8.5, §10.6", level="MUST", tags=("class1",))
def copy(ctx: Context) -> None:
    """COPY: 201 to a new URL, 204 over an existing one, 412 with Overwrite: F"""
    src, dst = ctx.path("src.txt"), ctx.path("dst.txt")
    ctx.put(src, b"one\n")
    reply = ctx.send_request(msg.copy(ctx.url(src), ctx.url(dst)))
    ctx.expect_status(reply, {201}, "COPY to a new URL")
    ctx.expect(ctx.content(dst) == b"one\n", "the copy has other content")
    ctx.put(src, b"two\n")
    reply = ctx.send_request(msg.copy(ctx.url(src), ctx.url(dst)))
    ctx.expect_status(reply, {204}, "COPY over an existing resource (Overwrite: T)")
    ctx.expect(ctx.content(dst) == b"two\n", "COPY with Overwrite: T did not replace content")
    ctx.put(src, b"three\n")
    reply = ctx.send_request(msg.copy(ctx.url(src), ctx.url(dst), overwrite=False))
    ctx.expect_status(reply, {412}, "COPY over an existing resource with Overwrite: F")
    ctx.expect(ctx.content(dst) == b"two\n", "COPY with Overwrite: F changed the destination")


@check(id="class1.copy-depth0", rfc="4918 §9.8.3; 5842 §2.3", level="MUST", tags=("class1",))
def copy_depth0(ctx: Context) -> None:
    """COPY Depth 0 of a collection copies the collection without its members"""
    ctx.mkcol(ctx.path("c/"))
    ctx.put(ctx.path("c/m.txt"), b"member\n")
    reply = ctx.send_request(msg.copy(ctx.url(ctx.path("c/")), ctx.url(ctx.path("d/")),
                                      depth="0"))  # fmt: skip
    ctx.expect_status(reply, {201}, "COPY Depth 0 of a collection")
    found = ctx.propfind(ctx.path("d/"), "1")
    listing = ctx.listing(found)
    ctx.expect(listing.root is not None and listing.root.collection,
               "COPY Depth 0 did not create a collection", reply, found)  # fmt: skip
    extra = [e.href for e in listing.members()]
    ctx.expect(not extra, f"COPY Depth 0 of a collection: expected a copy without members, "
                          f"got {', '.join(extra)}", reply, found)  # fmt: skip


@check(id="class1.move", rfc="4918 §9.9.3, §9.9.4, §10.6", level="MUST", tags=("class1",))
def move(ctx: Context) -> None:
    """MOVE: 201 to a new URL (source gone), 412 with Overwrite: F, 204 over a resource"""
    a, b, c = ctx.path("a.txt"), ctx.path("b.txt"), ctx.path("c.txt")
    ctx.put(a, b"moved\n")
    ctx.expect_status(ctx.send_request(msg.move(ctx.url(a), ctx.url(b))), {201},
                      "MOVE to a new URL")  # fmt: skip
    ctx.expect(ctx.content(a) is None, "the source still exists after MOVE")
    ctx.expect(ctx.content(b) == b"moved\n", "the destination lacks the moved content")
    ctx.put(c, b"other\n")
    reply = ctx.send_request(msg.move(ctx.url(c), ctx.url(b), overwrite=False))
    ctx.expect_status(reply, {412}, "MOVE over an existing resource with Overwrite: F")
    ctx.expect(ctx.content(b) == b"moved\n" and ctx.content(c) == b"other\n",
               "MOVE with Overwrite: F changed something")  # fmt: skip
    reply = ctx.send_request(msg.move(ctx.url(c), ctx.url(b)))
    ctx.expect_status(reply, {204}, "MOVE over an existing resource (Overwrite: T)")
    ctx.expect(ctx.content(b) == b"other\n", "MOVE with Overwrite: T did not replace content")
