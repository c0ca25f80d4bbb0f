"""``fold_multistatus``: one entry per resource, with aliases, whatever the server wrote.

Each case is a multistatus body and the entries expected from it, projected to
(href, resource_id, aliases, status, collection).  RFC 5842 §7.1.1 is reproduced
verbatim (absolute hrefs, 208 inside the propstat, no trailing slash on /Coll/Bar).
"""

from __future__ import annotations

import pytest

from davbind.client import Listing, fold_multistatus

R1 = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8"
R2 = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf9"
R3 = "urn:uuid:0a4c4c6e-2b2b-4c1e-9d3a-3f0c5f2d9e01"
OK = "HTTP/1.1 200 OK"
AR = "HTTP/1.1 208 Already Reported"
COLL = "<D:resourcetype><D:collection/></D:resourcetype>"
FILE = "<D:resourcetype/>"

RFC_5842_7_1_1 = b"""<?xml version="1.0" encoding="utf-8" ?>
<D:multistatus xmlns:D="DAV:">
  <D:response>
    <D:href>http://www.example.com/Coll/</D:href>
    <D:propstat>
      <D:prop>
        <D:displayname>Loop Demo</D:displayname>
        <D:resource-id>
          <D:href>urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8</D:href>
        </D:resource-id>
      </D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
  </D:response>
  <D:response>
    <D:href>http://www.example.com/Coll/Foo</D:href>
    <D:propstat>
      <D:prop>
        <D:displayname>Bird Inventory</D:displayname>
        <D:resource-id>
          <D:href>urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf9</D:href>
        </D:resource-id>
      </D:prop>
      <D:status>HTTP/1.1 200 OK</D:status>
    </D:propstat>
  </D:response>
  <D:response>
    <D:href>http://www.example.com/Coll/Bar</D:href>
    <D:propstat>
      <D:prop>
        <D:displayname>Loop Demo</D:displayname>
        <D:resource-id>
          <D:href>urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8</D:href>
        </D:resource-id>
      </D:prop>
      <D:status>HTTP/1.1 208 Already Reported</D:status>
    </D:propstat>
  </D:response>
</D:multistatus>
"""


def rid(value: str) -> str:
    return f"<D:resource-id><D:href>{value}</D:href></D:resource-id>"


def ps(status: str, *props: str) -> str:
    return (
        f"<D:propstat><D:prop>{''.join(props)}</D:prop><D:status>{status}</D:status></D:propstat>"
    )


def resp(href: str, *propstats: str, status: str | None = None) -> str:
    st = f"<D:status>{status}</D:status>" if status else ""
    return f"<D:response><D:href>{href}</D:href>{st}{''.join(propstats)}</D:response>"


def ms(*responses: str) -> bytes:
    return ('<D:multistatus xmlns:D="DAV:">' + "".join(responses) + "</D:multistatus>").encode()


Row = tuple[str, str | None, tuple[str, ...], int | None, bool]


def rows(listing: Listing) -> list[Row]:
    return [(e.href, e.resource_id, e.aliases, e.status, e.collection) for e in listing]


CASES: dict[str, tuple[bytes, str | None, list[Row]]] = {
    "rfc5842-7.1.1-example": (
        RFC_5842_7_1_1,
        "http://www.example.com/Coll/",
        [("/Coll/", R1, ("/Coll/Bar/",), 200, True), ("/Coll/Foo", R2, (), 200, False)],
    ),
    "208-bare-response-status-form": (
        ms(
            resp("/c/", ps(OK, COLL, rid(R1))),
            resp("/c/s/", ps(OK, COLL, rid(R2))),
            resp("/c/t/", status=AR),
        ),
        None,  # /c/t/ names nothing it can be tied to: no entry (test_fold_208)
        [("/c/", R1, (), 200, True), ("/c/s/", R2, (), 200, True)],
    ),
    "208-bare-without-trailing-slash-is-no-new-entry": (
        ms(resp("/c/", ps(OK, COLL)), resp("/c/loop", status=AR)),
        None,
        [("/c/", None, (), 200, True)],
    ),
    "208-propstat-form-with-resourcetype": (
        ms(
            resp("/c/", ps(OK, COLL, rid(R1))),
            resp("/c/a/", ps(OK, COLL, rid(R2))),
            resp("/c/b/", ps(AR, COLL, rid(R2))),
        ),
        None,
        [("/c/", R1, (), 200, True), ("/c/a/", R2, ("/c/b/",), 200, True)],
    ),
    "depth1-two-bindings-of-one-file": (
        ms(
            resp("/d/", ps(OK, COLL, rid(R1))),
            resp("/d/x.gif", ps(OK, FILE, rid(R2))),
            resp("/d/y.gif", ps(OK, FILE, rid(R2))),
        ),
        None,
        [("/d/", R1, (), 200, True), ("/d/x.gif", R2, ("/d/y.gif",), 200, False)],
    ),
    "canonical-is-first-200-not-first-in-document": (
        ms(
            resp("/r/", ps(OK, COLL, rid(R1))),
            resp("/r/a/", ps(AR, COLL, rid(R2))),
            resp("/r/b/", ps(OK, COLL, rid(R2))),
        ),
        None,
        [("/r/", R1, (), 200, True), ("/r/b/", R2, ("/r/a/",), 200, True)],
    ),
    "aliases-sorted": (
        ms(
            resp("/z", ps(OK, FILE, rid(R1))),
            resp("/y", ps(OK, FILE, rid(R1))),
            resp("/x", ps(OK, FILE, rid(R1))),
        ),
        None,
        [("/z", R1, ("/x", "/y"), 200, False)],
    ),
    "duplicate-href-joins-first-occurrence": (
        ms(
            resp("/f", ps(OK, FILE, "<D:getcontentlength>3</D:getcontentlength>")),
            resp("/f", ps(OK, FILE, "<D:getcontentlength>9</D:getcontentlength>")),
        ),
        None,
        [("/f", None, (), 200, False)],
    ),
    "duplicate-href-learns-resource-id-and-merges": (
        ms(
            resp("/a", ps(OK, FILE, rid(R1))),
            resp("/b", ps(OK, FILE)),
            resp("/b", ps(OK, FILE, rid(R1))),
        ),
        None,
        [("/a", R1, ("/b",), 200, False)],
    ),
    "response-without-propstat-or-status": (
        ms(resp("/p/", ps(OK, COLL)), "<D:response><D:href>/p/q</D:href></D:response>"),
        None,
        [("/p/", None, (), 200, True), ("/p/q", None, (), None, False)],
    ),
    "response-level-error-status": (
        ms(resp("/p/", ps(OK, COLL)), resp("/p/gone", status="HTTP/1.1 404 Not Found")),
        None,
        [("/p/", None, (), 200, True), ("/p/gone", None, (), 404, False)],
    ),
    "unknown-statuses": (
        ms(
            resp("/u/", ps(OK, COLL)),
            resp("/u/a", ps("HTTP/1.1 299 Odd", FILE, rid(R1))),
            resp("/u/b", ps("garbage", FILE, rid(R2))),
            resp("/u/c", status="HTTP/1.1 599 Whatever"),
        ),
        None,
        [
            ("/u/", None, (), 200, True),
            ("/u/a", R1, (), 200, False),
            ("/u/b", None, (), 200, False),
            ("/u/c", None, (), 599, False),
        ],
    ),
    "relative-hrefs-against-base": (
        ms(resp("./", ps(OK, COLL)), resp("sub/", ps(OK, COLL)), resp("f%20g", ps(OK, FILE))),
        "http://h.example/dir/",
        [
            ("/dir/", None, (), 200, True),
            ("/dir/sub/", None, (), 200, True),
            ("/dir/f%20g", None, (), 200, False),
        ],
    ),
    "absolute-and-path-hrefs-agree": (
        ms(resp("http://H.example:80/a/", ps(OK, COLL)), resp("/a/", ps(OK, COLL, rid(R1)))),
        "http://h.example/a/",
        [("/a/", R1, (), 200, True)],
    ),
    "other-origin-kept-absolute": (
        ms(resp("/a/", ps(OK, COLL)), resp("http://other.example/b", ps(OK, FILE))),
        "http://h.example/a/",
        [("/a/", None, (), 200, True), ("http://other.example/b", None, (), 200, False)],
    ),
    "percent-encoding-differences": (
        ms(
            resp("/a%20b/", ps(OK, COLL)),
            resp("/a b/c%7e", ps(OK, FILE, rid(R1))),
            resp("/%61%20b/c~", ps(OK, FILE, rid(R1))),
            resp("/a%20b/caf%c3%a9", ps(OK, FILE, rid(R2))),
            resp("/a%20b/caf%C3%A9", ps(OK, FILE)),
        ),
        None,
        [
            ("/a%20b/", None, (), 200, True),
            ("/a%20b/c~", R1, (), 200, False),
            ("/a%20b/caf%C3%A9", R2, (), 200, False),
        ],
    ),
    "trailing-slash-differences": (
        ms(resp("/t", ps(OK, COLL, rid(R1))), resp("/t/", ps(OK, COLL, rid(R1)))),
        None,
        [("/t/", R1, (), 200, True)],
    ),
    "resource-id-case-insensitive-urn-uuid": (
        ms(
            resp("/a", ps(OK, FILE, rid(R3.upper().replace("URN:UUID", "URN:UUID")))),
            resp("/b", ps(OK, FILE, rid(R3))),
        ),
        None,
        [("/a", R3, ("/b",), 200, False)],
    ),
    "cycle-of-aliases-terminates": (
        ms(
            resp("/l/", ps(OK, COLL, rid(R1))),
            resp("/l/m/", ps(OK, COLL, rid(R2))),
            resp("/l/m/up/", ps(AR, COLL, rid(R1))),
            resp("/l/m/self/", ps(AR, COLL, rid(R2))),
            resp("/l/back/", ps(AR, COLL, rid(R1))),
        ),
        None,
        [
            ("/l/", R1, ("/l/back/", "/l/m/up/"), 200, True),
            ("/l/m/", R2, ("/l/m/self/",), 200, True),
        ],
    ),
    "404-propstat-props-ignored": (
        ms(resp("/n", ps(OK, FILE), ps("HTTP/1.1 404 Not Found", rid(R1)))),
        None,
        [("/n", None, (), 200, False)],
    ),
}


@pytest.mark.parametrize(("body", "base", "expected"), CASES.values(), ids=CASES.keys())
def test_fold(body: bytes, base: str | None, expected: list[Row]) -> None:
    assert rows(fold_multistatus(body, base)) == expected


PREFIXES = {
    "D": ('xmlns:D="DAV:"', "D:"),
    "lp1": ('xmlns:lp1="DAV:"', "lp1:"),
    "default-namespace": ('xmlns="DAV:"', ""),
}


@pytest.mark.parametrize(("decl", "prefix"), PREFIXES.values(), ids=PREFIXES.keys())
def test_fold_any_namespace_prefix(decl: str, prefix: str) -> None:
    body = RFC_5842_7_1_1.replace(b'xmlns:D="DAV:"', decl.encode()).replace(b"D:", prefix.encode())
    listing = fold_multistatus(body, "http://www.example.com/Coll/")
    assert rows(listing) == CASES["rfc5842-7.1.1-example"][2]
    assert [e.displayname for e in listing] == ["Loop Demo", "Bird Inventory"]


TREES = {
    "rfc-example-loop": (RFC_5842_7_1_1, [("/Coll/", "resource"), ("/Coll/Bar/", "loop"),
                                          ("/Coll/Foo", "resource")]),
    "shared-folder-alias": (
        ms(
            resp("/", ps(OK, COLL, rid(R1))),
            resp("/a/", ps(OK, COLL, rid(R2))),
            resp("/a/s/", ps(OK, COLL, rid(R3))),
            resp("/b/", ps(OK, COLL, rid("urn:uuid:b"))),
            resp("/b/s", ps(AR, COLL, rid(R3))),
        ),
        [("/", "resource"), ("/a/", "resource"), ("/a/s/", "resource"), ("/b/", "resource"),
         ("/b/s/", "alias")],
    ),
}  # fmt: skip


@pytest.mark.parametrize(("body", "expected"), TREES.values(), ids=TREES.keys())
def test_tree_marks_aliases_and_loops(body: bytes, expected: list[tuple[str, str]]) -> None:
    root = fold_multistatus(body, "http://www.example.com/").tree()
    seen: list[tuple[str, str]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        seen.append((node.href, node.kind))
        stack.extend(reversed(node.children))
    assert seen == expected


def test_entry_properties_and_lookup() -> None:
    body = ms(
        resp("/d/", ps(OK, COLL, rid(R1))),
        resp(
            "/d/x",
            ps(
                OK,
                FILE,
                rid(R2),
                "<D:getcontentlength> 42 </D:getcontentlength>",
                '<D:getetag>"e1"</D:getetag>',
                "<D:getcontenttype>text/plain</D:getcontenttype>",
                "<D:getlastmodified>Tue, 01 Jan 2030 10:00:00 GMT</D:getlastmodified>",
                "<D:parent-set><D:parent><D:href>/d</D:href><D:segment>x</D:segment></D:parent>"
                "<D:parent><D:href>/e/</D:href><D:segment>y</D:segment></D:parent></D:parent-set>",
            ),
        ),
        resp("/d/y", ps(OK, FILE, rid(R2))),
    )
    listing = fold_multistatus(body)
    entry = listing.get("/d/%79")
    assert entry is not None and entry.href == "/d/x" and entry.aliases == ("/d/y",)
    assert (entry.size, entry.etag, entry.content_type) == (42, '"e1"', "text/plain")
    assert entry.modified is not None and entry.modified.year == 2030
    assert [(p.href, p.segment) for p in entry.parents] == [("/d", "x"), ("/e/", "y")]
    assert "/d" in listing and "/nope" not in listing
    assert listing.root is not None and listing.root.href == "/d/"
    assert [e.href for e in listing.members()] == ["/d/x"]
