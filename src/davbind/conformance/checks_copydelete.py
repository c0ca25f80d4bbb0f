"""DELETE, MOVE and COPY over bindings (RFC 5842 §2.3–§2.5 and their examples).

The rules checked: DELETE and MOVE remove exactly one binding — the resource, and a
shared collection's members, live on through the other bindings (§2.4, §2.5; MOVE over
an existing destination deletes only that binding); a COPY that updates an
existing resource leaves the bindings to it alone (§2.3); a Depth-infinity COPY
keeps the internal binding structure — two bindings to one file become two bindings to
one new file (§2.3.3) and a loop is reproduced inside the copy (§2.3.1).
"""

from __future__ import annotations

from davbind.client import messages as msg
from davbind.conformance.checks_bind import bind
from davbind.conformance.checks_identity import rid
from davbind.conformance.context import OK, Context
from davbind.conformance.registry import check

BIND = ("bind",)
AFTER = ("bind.create",)


def _bind(ctx: Context, existing: str, new: str) -> None:
    """A second binding the check builds on (what BIND answers is ``bind.*``'s to judge)."""
    ctx.setup_status(bind(ctx, ctx.path(existing), ctx.path(new)), OK, f"BIND {new} -> {existing}")


def _copy(ctx: Context, src: str, dst: str, allowed: set[int]) -> None:
    reply = ctx.send_request(msg.copy(ctx.url(ctx.path(src)), ctx.url(ctx.path(dst))))
    ctx.expect_status(reply, allowed, f"COPY {src} to {dst}")


@check(id="copydelete.delete-one-binding", rfc="5842 §2.4", level="MUST", needs=BIND,
       tags=("bindings",), after=AFTER)  # fmt: skip
def delete_one_binding(ctx: Context) -> None:
    """DELETE of one binding leaves the resource at its other binding"""
    ctx.mkcol(ctx.path("a/"))
    ctx.mkcol(ctx.path("b/"))
    ctx.put(ctx.path("a/x.txt"), b"survivor\n")
    _bind(ctx, "a/x.txt", "b/y.txt")
    ctx.expect_status(ctx.send("DELETE", ctx.path("a/x.txt")), {200, 204}, "DELETE a/x.txt")
    ctx.expect(ctx.content(ctx.path("a/x.txt")) is None, "a/x.txt still answers after DELETE")
    ctx.expect(ctx.content(ctx.path("b/y.txt")) == b"survivor\n",
               "DELETE of one binding destroyed the resource at its other binding")  # fmt: skip


@check(id="copydelete.delete-keeps-shared", rfc="5842 §2.4", level="MUST", needs=BIND,
       tags=("bindings",), after=AFTER)  # fmt: skip
def delete_keeps_shared(ctx: Context) -> None:
    """DELETE of a collection does not empty a shared collection bound elsewhere"""
    ctx.mkcol(ctx.path("a/"))
    ctx.mkcol(ctx.path("a/C/"))
    ctx.put(ctx.path("a/C/m.txt"), b"member\n")
    ctx.mkcol(ctx.path("b/"))
    _bind(ctx, "a/C/", "b/C/")
    ctx.expect_status(ctx.send("DELETE", ctx.path("a/")), {200, 204}, "DELETE a/")
    ctx.expect(ctx.content(ctx.path("b/C/m.txt")) == b"member\n",
               "DELETE a/ removed a member of a collection still bound at b/C/")  # fmt: skip


@check(id="copydelete.move-keeps-other-bindings", rfc="5842 §2.5, §2.5.1", level="MUST",
       needs=BIND, tags=("bindings",), after=AFTER)  # fmt: skip
def move_keeps_other_bindings(ctx: Context) -> None:
    """MOVE of one binding leaves the other bindings of the resource alone"""
    ctx.mkcol(ctx.path("a/"))
    ctx.mkcol(ctx.path("b/"))
    ctx.put(ctx.path("a/x.txt"), b"moved once\n")
    _bind(ctx, "a/x.txt", "b/y.txt")
    reply = ctx.send_request(msg.move(ctx.url(ctx.path("a/x.txt")), ctx.url(ctx.path("c.txt"))))
    ctx.expect_status(reply, {201}, "MOVE a/x.txt to c.txt")
    ctx.expect(ctx.content(ctx.path("b/y.txt")) == b"moved once\n",
               "MOVE removed the resource's other binding b/y.txt")  # fmt: skip
    ctx.expect(rid(ctx, ctx.path("b/y.txt")) == rid(ctx, ctx.path("c.txt")),
               "after MOVE, b/y.txt and c.txt are not the same resource")  # fmt: skip


@check(id="copydelete.move-overwrite-one-binding", rfc="5842 §2.5 (davbind's reading); 4918 §9.9.3",
       level="MUST", needs=BIND, tags=("bindings",), after=AFTER)  # fmt: skip
def move_overwrite_one_binding(ctx: Context) -> None:
    """MOVE over an existing destination deletes only that binding of the old resource"""
    ctx.mkcol(ctx.path("d/"))
    ctx.mkcol(ctx.path("e/"))
    ctx.put(ctx.path("src.txt"), b"new\n")
    ctx.put(ctx.path("d/t.txt"), b"old\n")
    _bind(ctx, "d/t.txt", "e/u.txt")
    reply = ctx.send_request(msg.move(ctx.url(ctx.path("src.txt")), ctx.url(ctx.path("d/t.txt"))))
    ctx.expect_status(reply, {204}, "MOVE over an existing destination")
    ctx.expect(ctx.content(ctx.path("d/t.txt")) == b"new\n", "the destination lacks the content")
    ctx.expect(ctx.content(ctx.path("e/u.txt")) == b"old\n",
               "the overwritten resource vanished from its other binding e/u.txt")  # fmt: skip


@check(id="copydelete.copy-overwrite-keeps-bindings", rfc="5842 §2.3", level="MUST",
       needs=BIND, tags=("bindings",), after=AFTER)  # fmt: skip
def copy_overwrite_keeps_bindings(ctx: Context) -> str:
    """COPY over a resource with two bindings: updated in place, or one binding replaced"""
    ctx.mkcol(ctx.path("s/"))
    ctx.put(ctx.path("r.txt"), b"R\n")
    _bind(ctx, "r.txt", "s/r2.txt")
    before = rid(ctx, ctx.path("r.txt"))
    ctx.put(ctx.path("n.txt"), b"N\n")
    _copy(ctx, "n.txt", "r.txt", {204})
    other = ctx.content(ctx.path("s/r2.txt"))
    ctx.expect(other is not None, "COPY over r.txt destroyed its other binding s/r2.txt")
    after = rid(ctx, ctx.path("r.txt"))
    if after == before:
        ctx.expect(other == b"N\n", "r.txt kept its resource but s/r2.txt (the same "
                                    "resource) still shows the old content")  # fmt: skip
        return "updated in place (the bindings to it are unaffected)"
    ctx.expect(other == b"R\n" and rid(ctx, ctx.path("s/r2.txt")) == before,
               "r.txt was replaced but s/r2.txt no longer maps the old resource")  # fmt: skip
    return "destination binding replaced (delete-then-copy, RFC 4918 §9.8.4)"


@check(id="copydelete.copy-structure", rfc="5842 §2.3, §2.3.3", level="MUST",
       needs=BIND, tags=("bindings",), after=AFTER)  # fmt: skip
def copy_structure(ctx: Context) -> None:
    """Depth-infinity COPY of two bindings to one file gives two bindings to one copy"""
    ctx.mkcol(ctx.path("X/"))
    ctx.put(ctx.path("X/x.gif"), b"one resource, two names\n")
    _bind(ctx, "X/x.gif", "X/y.gif")
    _copy(ctx, "X/", "Y/", {201})
    x, y = rid(ctx, ctx.path("Y/x.gif")), rid(ctx, ctx.path("Y/y.gif"))
    ctx.expect(x == y, "the copy has two resources where the source has one with two "
                       "bindings (binding structure not kept)")  # fmt: skip
    ctx.expect(x != rid(ctx, ctx.path("X/x.gif")), "the copy shares the source resource")


@check(id="copydelete.copy-loop", rfc="5842 §2.3, §2.3.1", level="MUST", needs=BIND,
       tags=("bindings", "loops"), after=AFTER)  # fmt: skip
def copy_loop(ctx: Context) -> None:
    """Depth-infinity COPY of a tree with a loop reproduces the loop inside the copy"""
    ctx.mkcol(ctx.path("X/"))
    ctx.put(ctx.path("X/x.gif"), b"R1\n")
    ctx.mkcol(ctx.path("X/Y/"))
    ctx.put(ctx.path("X/Y/y.gif"), b"R2\n")
    reply = bind(ctx, ctx.path("X/"), ctx.path("X/Y/Z/"))
    if reply.status == 403 and "cycle-allowed" in reply.conditions:
        ctx.skip("the server refuses binding loops (cycle-allowed; RFC 5842 §2.1.1 allows it)")
    ctx.expect_status(reply, {201}, "BIND X/Y/Z -> X/ (a loop)")
    _copy(ctx, "X/", "A/", {201})
    new_root = rid(ctx, ctx.path("A/"))
    ctx.expect(new_root != rid(ctx, ctx.path("X/")), "the copy is the source collection")
    ctx.expect(ctx.exists(ctx.path("A/Y/Z/")), "the copy lacks A/Y/Z: the loop was dropped")
    ctx.expect(rid(ctx, ctx.path("A/Y/Z/")) == new_root,
               "A/Y/Z does not lead back to the copy's root A/ (the loop is not reproduced)")
    ctx.expect(rid(ctx, ctx.path("A/x.gif")) != rid(ctx, ctx.path("X/x.gif")),
               "the copy shares a member with the source")  # fmt: skip
    ctx.expect(rid(ctx, ctx.path("X/Y/Z/")) == rid(ctx, ctx.path("X/")),
               "COPY changed the source's loop")  # fmt: skip
