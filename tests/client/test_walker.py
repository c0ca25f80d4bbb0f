"""The Depth-1 fallback walk, driven against an in-memory binding graph (no I/O).

The graph answers a Depth-1 PROPFIND the way a server would (the collection itself,
then its members); the walk must end on loops and list each resource once, exactly as
a bind-aware Depth-infinity PROPFIND would (RFC 5842 §7.1).
"""

from __future__ import annotations

import pytest

from davbind.client.multistatus import PropStat, PropValue, Response
from davbind.client.walker import Depth1Walk

COLL = PropValue("", children=("{DAV:}collection",))
LEAF = PropValue("")

# node -> (is collection, [(segment, child)])
Graph = dict[str, tuple[bool, list[tuple[str, str]]]]

SHARED_AND_LOOP: Graph = {
    "root": (True, [("a", "A"), ("b", "B")]),
    "A": (True, [("f.txt", "F"), ("shared", "S")]),
    "B": (True, [("again", "S"), ("f-too.txt", "F")]),
    "S": (True, [("up", "A"), ("x", "X")]),
    "F": (False, []),
    "X": (False, []),
}
SELF_LOOP: Graph = {"root": (True, [("me", "root"), ("z", "Z")]), "Z": (False, [])}
FILE_ROOT: Graph = {"root": (False, [])}


def response(path: str, node: str, graph: Graph, *, ids: bool) -> Response:
    is_coll = graph[node][0]
    props = {"{DAV:}resourcetype": COLL if is_coll else LEAF}
    if ids:
        props["{DAV:}resource-id"] = PropValue(
            f"urn:uuid:{node}", "<r/>", (), (f"urn:uuid:{node}",)
        )
    href = path + ("/" if is_coll and not path.endswith("/") else "")
    return Response((href,), None, (PropStat(200, props),))


def resolve(graph: Graph, path: str) -> str:
    node = "root"
    for seg in [s for s in path.split("/") if s]:
        node = dict(graph[node][1])[seg]
    return node


def run(
    graph: Graph, *, ids: bool, max_depth: int | None = None
) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    walk = Depth1Walk("http://h/", max_depth=max_depth)
    while (url := walk.next_url()) is not None:
        path = url[len("http://h") :]
        node = resolve(graph, path)
        answer = [response(path, node, graph, ids=ids)]
        answer += [
            response(path.rstrip("/") + "/" + seg, child, graph, ids=ids)
            for seg, child in graph[node][1]
        ]
        walk.feed(answer)
    listing = walk.listing()
    return [(e.href, e.aliases) for e in listing], walk.requests


CASES = {
    "shared-folder-and-loop-with-ids": (
        SHARED_AND_LOOP, True, None,
        [("/", ()), ("/a/", ("/a/shared/up/",)), ("/a/f.txt", ("/b/f-too.txt",)),
         ("/a/shared/", ("/b/again/",)), ("/a/shared/x", ()), ("/b/", ())],
        4,
    ),
    "self-loop-with-ids": (SELF_LOOP, True, None, [("/", ("/me/",)), ("/z", ())], 1),
    "self-loop-without-ids-needs-max-depth": (
        SELF_LOOP, False, 2,
        [("/", ()), ("/me/", ()), ("/me/me/", ()), ("/me/z", ()), ("/z", ())],
        2,
    ),
    "file-root": (FILE_ROOT, True, None, [("/", ())], 1),
}  # fmt: skip


@pytest.mark.parametrize(
    ("graph", "ids", "max_depth", "expected", "requests"), CASES.values(), ids=CASES.keys()
)
def test_depth1_walk(
    graph: Graph,
    ids: bool,
    max_depth: int | None,
    expected: list[tuple[str, tuple[str, ...]]],
    requests: int,
) -> None:
    entries, count = run(graph, ids=ids, max_depth=max_depth)
    assert sorted(entries) == sorted(expected)
    assert count == requests


def test_walk_does_not_follow_other_origins_or_failures() -> None:
    walk = Depth1Walk("http://h/d/")
    assert walk.next_url() == "http://h/d/"
    walk.feed(
        [
            Response(("/d/",), None, (PropStat(200, {"{DAV:}resourcetype": COLL}),)),
            Response(
                ("http://elsewhere/e/",), None, (PropStat(200, {"{DAV:}resourcetype": COLL}),)
            ),
            Response(("/d/gone/",), 404),
            Response(("/d/sub/",), None, (PropStat(200, {"{DAV:}resourcetype": COLL}),)),
        ]
    )
    assert walk.next_url() == "http://h/d/sub/"
    walk.feed([])
    assert walk.next_url() is None
    hrefs = [e.href for e in walk.listing()]
    assert hrefs == ["/d/", "http://elsewhere/e/", "/d/gone/", "/d/sub/"]


def test_feed_without_next_url_is_an_error() -> None:
    walk = Depth1Walk("http://h/")
    walk.next_url()
    walk.feed([])
    assert walk.next_url() is None
    with pytest.raises(RuntimeError):
        walk.feed([])
