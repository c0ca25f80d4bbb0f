"""Discovery: the compliance classes of OPTIONS (RFC 4918 §10.1, §18; RFC 5842 §8.1).

The runner reads the classes once from ``OPTIONS`` of the URL under test and skips the
checks whose classes are missing; these checks verify that the announcement holds for
every resource, not only for the URL under test.
"""

from __future__ import annotations

from davbind.client import messages as msg
from davbind.conformance.context import Context
from davbind.conformance.registry import check


def _classes(ctx: Context, path: str) -> frozenset[str]:
    reply = ctx.send("OPTIONS", path)
    ctx.expect_status(reply, {200, 204}, f"OPTIONS {path}")
    return msg.dav_classes(reply.headers)


@check(id="discovery.options-dav", rfc="4918 §10.1, §18.1", level="MUST", tags=("class1",))
def options_dav(ctx: Context) -> str:
    """OPTIONS on a collection and on a file announces DAV class 1"""
    ctx.put(ctx.path("f.txt"), b"discovery\n")
    for path in ("/", ctx.home, ctx.path("f.txt")):
        reply = ctx.send("OPTIONS", path)
        ctx.expect_status(reply, {200, 204}, f"OPTIONS {path}")
        header = reply.header("dav")
        ctx.expect(header is not None, f"OPTIONS {path} has no DAV header", reply)
        ctx.expect("1" in msg.dav_classes(reply.headers),
                   f"OPTIONS {path}: DAV header {header!r} lacks class 1", reply)  # fmt: skip
    return f"DAV: {', '.join(sorted(ctx.classes))}"


@check(id="discovery.bind-everywhere", rfc="5842 §8.1", level="MUST", needs=("bind",))
def bind_everywhere(ctx: Context) -> None:
    """'bind' is announced on every resource, not only on the URL under test"""
    ctx.mkcol(ctx.path("sub/"))
    ctx.put(ctx.path("sub/f.txt"), b"discovery\n")
    for path in (ctx.home, ctx.path("sub/"), ctx.path("sub/f.txt")):
        if "bind" not in _classes(ctx, path):
            ctx.fail(f"OPTIONS {path} does not announce 'bind' although the URL under "
                     f"test does (a server with bindings announces it on any resource)")


@check(id="discovery.lock-class", rfc="4918 §18.2, §15.10", level="MUST", needs=("2",),
       tags=("locks",))  # fmt: skip
def lock_class(ctx: Context) -> None:
    """A server announcing class 2 reports DAV:supportedlock with a write lock"""
    ctx.put(ctx.path("f.txt"), b"discovery\n")
    name = "{DAV:}supportedlock"
    reply = ctx.propfind(ctx.path("f.txt"), "0", [name])
    ctx.expect_status(reply, {207}, "PROPFIND DAV:supportedlock")
    entry = ctx.listing(reply).root
    value = entry.props.get(name) if entry is not None else None
    ctx.expect(value is not None, "DAV:supportedlock is missing on a file", reply)
    assert value is not None
    ctx.expect(value.element is not None and value.element.find(".//{DAV:}write") is not None,
               "DAV:supportedlock lists no write lock", reply)  # fmt: skip
