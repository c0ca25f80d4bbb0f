"""``Client.info``: every path of a resource and whether it is on a binding loop.

Against ``davbind serve`` the paths come from ``DAV:parent-set`` (RFC 5842 §3.2), so
bindings that never share a listing are found; a server without parent-set falls back
to its parent's Depth-1 listing (driven here through the sans-I/O operation with
canned answers, and against WsgiDAV, which has neither parent-set nor resource-id).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from davbind.client import AsyncClient, Client, fold_multistatus
from davbind.client import operations as ops
from davbind.client.placement import ancestors, place

A = "urn:uuid:00000000-0000-4000-8000-00000000000a"
S = "urn:uuid:00000000-0000-4000-8000-00000000000b"
F = "urn:uuid:00000000-0000-4000-8000-00000000000c"
ROOT = "urn:uuid:00000000-0000-4000-8000-000000000001"
OK = "HTTP/1.1 200 OK"
COLL = "<D:resourcetype><D:collection/></D:resourcetype>"


def parent_set(*pairs: tuple[str, str]) -> str:
    inner = "".join(
        f"<D:parent><D:href>{h}</D:href><D:segment>{s}</D:segment></D:parent>" for h, s in pairs
    )
    return f"<D:parent-set>{inner}</D:parent-set>"


def answer(*responses: tuple[str, str, str, str]) -> bytes:
    """A multistatus of (href, resource-id, resourcetype, extra props) rows."""
    body = "".join(
        f"<D:response><D:href>{h}</D:href><D:propstat><D:prop>{t}"
        f"<D:resource-id><D:href>{r}</D:href></D:resource-id>{x}</D:prop>"
        f"<D:status>{OK}</D:status></D:propstat></D:response>"
        for h, r, t, x in responses
    )
    return f'<D:multistatus xmlns:D="DAV:">{body}</D:multistatus>'.encode()


def drive(op: ops.Op[Any], answers: dict[tuple[str, str], bytes]) -> tuple[Any, list[str]]:
    """Run a sans-I/O operation on canned 207 answers keyed by (URL, Depth)."""
    asked: list[str] = []
    with ops.Run(op) as run:
        while run.pending is not None:
            request = run.pending.request
            depth = dict(request.headers)["Depth"]
            asked.append(f"{request.url} {depth}")
            body = answers[(request.url, depth)]
            consumer = run.pending.consumer
            assert consumer is not None
            consumer.start({})
            consumer.feed(body)
            run.resume(ops.Reply(207, {"content-type": "application/xml"}))
        return run.result, asked


def test_ancestors() -> None:
    assert ancestors("/a/b/c") == ("/", "/a/", "/a/b/")
    assert ancestors("/a/") == ("/",)
    assert ancestors("/") == ()


def test_parent_set_names_paths_no_listing_shows() -> None:
    body = answer(("/x/f", F, "<D:resourcetype/>", parent_set(("/x/", "f"), ("/y/z", "g%20h"))))
    entry = fold_multistatus(body).entries[0]
    where = place(entry, "http://h/x/f", [], None)
    assert where.paths == ("/x/f", "/y/z/g%20h") and not where.loop and not where.loop_paths


def test_a_parent_below_the_collection_is_a_loop() -> None:
    body = answer(("/a/", A, COLL, parent_set(("/", "a"), ("http://h/a/s/", "up"))))
    entry = fold_multistatus(body, "http://h/a/").entries[0]
    where = place(entry, "http://h/a/", [ROOT], None)
    assert where.paths == ("/a/", "/a/s/up/") and where.source == "parent-set"
    assert where.loop and where.loop_paths == ("/a/s/up/",)


def test_own_resource_id_above_the_path_is_a_loop() -> None:
    """/z/ is a binding of A that the parent-set leaves out (a server may omit bindings
    the user cannot see): only the ancestors' resource-ids show /z/s/up/ loops."""
    body = answer(("/z/s/up/", A, COLL, parent_set(("/", "a"), ("/p/", "up"))))
    entry = fold_multistatus(body).entries[0]
    assert not place(entry, "http://h/z/s/up/", [ROOT, S, S], None).loop
    where = place(entry, "http://h/z/s/up/", [ROOT, A, S], None)
    assert where.paths == ("/a/", "/p/up/", "/z/s/up/")
    assert where.loop and where.loop_paths == ("/z/s/up/",)


def test_info_without_parent_set_uses_the_parent_listing() -> None:
    """No DAV:parent-set: the other binding is found in the parent's Depth-1 listing
    by resource-id, and the loop by the ancestors' resource-ids."""
    answers = {
        ("http://h/d/x/", "0"): answer(("/d/x/", A, COLL, "")),
        ("http://h/", "0"): answer(("/", ROOT, COLL, "")),
        ("http://h/d/", "0"): answer(("/d/", S, COLL, "")),
        ("http://h/d/", "1"): answer(
            ("/d/", S, COLL, ""), ("/d/x/", A, COLL, ""), ("/d/y/", A, COLL, "")
        ),
    }
    entry, asked = drive(ops.info("http://h/d/x/"), answers)
    assert asked == ["http://h/d/x/ 0", "http://h/ 0", "http://h/d/ 0", "http://h/d/ 1"]
    assert entry.placement.source == "listing"
    assert entry.paths == ("/d/x/", "/d/y/") and entry.other_paths == ("/d/y/",)
    assert not entry.on_loop
    answers[("http://h/d/", "0")] = answer(("/d/", A, COLL, ""))  # /d/ is x itself
    entry, _ = drive(ops.info("http://h/d/x/"), answers)
    assert entry.on_loop and entry.loop_paths == ("/d/x/",)


def build(client: Client, space: str) -> None:
    """a/shared/ bound again as b/shared and reached from a/shared/up (a loop to a/)."""
    client.makedirs(space + "a/shared")
    client.makedirs(space + "b")
    client.put(space + "a/shared/f.txt", b"f")
    client.bind(space + "a/shared/", space + "b/shared")
    client.bind(space + "a/", space + "a/shared/up")
    client.bind(space + "a/shared/f.txt", space + "b/f-too.txt")


def test_info_against_davbind(client: Client, space: str) -> None:
    build(client, space)
    a = client.info(space + "a/")
    assert a.placement is not None and a.placement.source == "parent-set"
    assert a.paths == (space + "a/", space + "a/shared/up/")
    assert a.other_paths == (space + "a/shared/up/",)
    assert a.on_loop and a.loop_paths == (space + "a/shared/up/",)
    up = client.info(space + "a/shared/up/")
    assert up.resource_id == a.resource_id and up.paths == a.paths and up.on_loop
    shared = client.info(space + "b/shared")  # the two never meet in one listing
    assert shared.paths == (space + "a/shared/", space + "b/shared/")
    assert not shared.on_loop
    f = client.info(space + "b/f-too.txt")
    assert f.paths == (space + "a/shared/f.txt", space + "b/f-too.txt") and not f.on_loop
    deep = client.info(space + "a/shared/up/shared/")  # passes through shared/ itself
    assert deep.on_loop and deep.resource_id == shared.resource_id


def test_async_info_is_the_same(davbind_url: str, client: Client, space: str) -> None:
    build(client, space)

    async def info() -> tuple[tuple[str, ...], bool]:
        async with AsyncClient(davbind_url) as c:
            entry = await c.info(space + "a/")
            return entry.paths, entry.on_loop

    assert asyncio.run(info()) == ((space + "a/", space + "a/shared/up/"), True)


def test_info_on_a_server_without_bindings(wsgidav: Callable[..., Any]) -> None:
    with wsgidav() as (url, root):
        (root / "d").mkdir()
        (root / "d" / "x.txt").write_text("x")
        with Client(url) as c:
            entry = c.info("/d/x.txt")
    assert entry.placement is not None and entry.placement.source == "listing"
    assert entry.paths == ("/d/x.txt",) and not entry.on_loop and entry.other_paths == ()
