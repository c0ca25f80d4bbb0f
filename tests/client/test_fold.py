"""``fold_multistatus``: one entry per resource, with aliases, whatever the server wrote.

Each case is a multistatus body and the entries expected from it, projected to
(href, resource_id, aliases, status, collection).  RFC 5842 §7.1.1 is reproduced
verbatim (absolute hrefs, 208 inside the propstat, no trailing slash on /Coll/Bar).
"""

from __future__ import annotations

import re
from importlib.resources import files

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
        None,  # /c/t/ names nothing it can be tied to: no entry (CASES_208)
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


# --------------------------------------------------------------------------- 208 and 508
# A 208 never names a new resource (RFC 5842 §7.1): it is one more href of a resource
# reported in the same multistatus.  Each row: body, request URL, the entries, and the
# hrefs left unresolved (a 208 whose resource cannot be told).  The reference is the
# example of RFC 5842 §7.1.1, read from the mock scenario that ships it verbatim.

C = R1  # RFC 5842 §7.1.1 collection
R = R2  # RFC 5842 §7.1.1 resource
X = R3
LOOP = "HTTP/1.1 508 Loop Detected"
BASE = "http://www.example.com/Coll/"

RFC = (
    (files("davbind.mock") / "scenarios" / "rfc5842-7.1.1.xml")
    .read_text(encoding="utf-8")
    .replace("${origin}", "http://www.example.com")
)
BAR_START = RFC.index("<D:href>http://www.example.com/Coll/Bar")
assert RFC.count("208 Already Reported") == 1  # the file is the RFC's example
RFC_BAR_WITHOUT_RID = RFC[:BAR_START] + re.sub(
    r"<D:resource-id>.*?</D:resource-id>", "", RFC[BAR_START:], count=1, flags=re.S
)
RFC_BAR_BARE = (
    RFC[: RFC.rindex("<D:response>", 0, BAR_START)]
    + f"<D:response><D:href>http://www.example.com/Coll/Bar</D:href><D:status>{AR}</D:status>"
    + RFC[RFC.index("</D:response>", BAR_START) :]
)


def etag(value: str) -> str:
    return f'<D:getetag>"{value}"</D:getetag>'


def size(value: int) -> str:
    return f"<D:getcontentlength>{value}</D:getcontentlength>"


RFC_ROWS: list[Row] = [("/Coll/", C, ("/Coll/Bar/",), 200, True), ("/Coll/Foo", R, (), 200, False)]
REPORT = (FILE, etag("r1"), size(1200), "<D:displayname>report.txt</D:displayname>")

CASES_208: dict[str, tuple[bytes, str | None, list[Row], tuple[str, ...]]] = {
    # --- the reference: RFC 5842 §7.1.1, and the same answer with less said about Bar
    "rfc-propstat-208-with-resource-id": (RFC.encode(), BASE, RFC_ROWS, ()),
    "rfc-propstat-208-without-resource-id-matches-by-properties": (
        RFC_BAR_WITHOUT_RID.encode(), BASE, RFC_ROWS, ()),
    "rfc-response-level-208-bare-is-unresolved": (
        RFC_BAR_BARE.encode(), BASE,
        [("/Coll/", C, (), 200, True), ("/Coll/Foo", R, (), 200, False)], ("/Coll/Bar",)),
    # --- a 208 for a file: an alias, without a trailing slash
    "file-208-without-resource-id-matches-by-etag": (
        ms(resp("/docs/", ps(OK, COLL)), resp("/docs/report.txt", ps(OK, *REPORT)),
           resp("/docs/current-report", ps(AR, *REPORT))),
        None,
        [("/docs/", None, (), 200, True),
         ("/docs/report.txt", None, ("/docs/current-report",), 200, False)], ()),
    "file-208-with-resource-id": (
        ms(resp("/d/", ps(OK, COLL)), resp("/d/a.txt", ps(OK, FILE, rid(X))),
           resp("/d/b.txt", ps(AR, FILE, rid(X)))),
        None,
        [("/d/", None, (), 200, True), ("/d/a.txt", X, ("/d/b.txt",), 200, False)], ()),
    "208-before-the-report-it-repeats": (
        ms(resp("/r/", ps(OK, COLL)), resp("/r/a/", ps(AR, COLL, rid(X))),
           resp("/r/b/", ps(OK, COLL, rid(X)))),
        None,
        [("/r/", None, (), 200, True), ("/r/b/", X, ("/r/a/",), 200, True)], ()),
    "208-with-unknown-resource-id-is-unresolved": (
        ms(resp("/u/", ps(OK, COLL, rid(C))), resp("/u/x", ps(AR, COLL, rid(X)))),
        None, [("/u/", C, (), 200, True)], ("/u/x",)),
    "208-resource-id-differs-from-same-etag": (
        ms(resp("/u/", ps(OK, COLL)), resp("/u/a", ps(OK, FILE, etag("e"), rid(C))),
           resp("/u/b", ps(AR, FILE, etag("e"), rid(X)))),
        None, [("/u/", None, (), 200, True), ("/u/a", C, (), 200, False)], ("/u/b",)),
    "208-ambiguous-properties-is-unresolved": (
        ms(resp("/p/", ps(OK, COLL)), resp("/p/a", ps(OK, FILE, size(3))),
           resp("/p/b", ps(OK, FILE, size(3))), resp("/p/c", ps(AR, FILE, size(3)))),
        None,
        [("/p/", None, (), 200, True), ("/p/a", None, (), 200, False),
         ("/p/b", None, (), 200, False)], ("/p/c",)),
    "208-resourcetype-alone-is-too-little": (
        ms(resp("/p/", ps(OK, COLL)), resp("/p/s/", ps(OK, COLL)), resp("/p/t", ps(AR, COLL))),
        None, [("/p/", None, (), 200, True), ("/p/s/", None, (), 200, True)], ("/p/t",)),
    # --- response-level and propstat-level 208 on an href already reported
    "response-level-208-duplicate-href": (
        ms(resp("/c/", ps(OK, COLL)), resp("/c/s/", ps(OK, COLL)), resp("/c/s/", status=AR)),
        None, [("/c/", None, (), 200, True), ("/c/s/", None, (), 200, True)], ()),
    "propstat-level-208-duplicate-href-no-slash": (
        ms(resp("/c/", ps(OK, COLL)), resp("/c/s/", ps(OK, COLL)), resp("/c/s", ps(AR, COLL))),
        None, [("/c/", None, (), 200, True), ("/c/s/", None, (), 200, True)], ()),
    "208-twice-for-one-href-is-one-alias": (
        ms(resp("/c/", ps(OK, COLL, rid(C))), resp("/c/up", ps(AR, COLL, rid(C))),
           resp("/c/up/", status=AR)),
        None, [("/c/", C, ("/c/up/",), 200, True)], ()),
    "208-bare-twice-is-one-unresolved": (
        ms(resp("/c/", ps(OK, COLL)), resp("/c/up", status=AR), resp("/c/up", status=AR)),
        None, [("/c/", None, (), 200, True)], ("/c/up",)),
    # --- hrefs spelled differently
    "208-absolute-href-repeats-relative-report": (
        ms(resp("sub/", ps(OK, COLL, etag("s"))),
           resp("http://WWW.example.com:80/Coll/sub", status=AR)),
        BASE, [("/Coll/sub/", None, (), 200, True)], ()),
    "208-relative-href-resolved-against-request-url": (
        ms(resp("/Coll/", ps(OK, COLL, rid(C))), resp("again", ps(AR, COLL, rid(C)))),
        BASE, [("/Coll/", C, ("/Coll/again/",), 200, True)], ()),
    "208-percent-encoding-differs": (
        ms(resp("/a%20b/", ps(OK, COLL)), resp("/a%20b/caf%c3%a9/", ps(OK, COLL)),
           resp("/a b/caf%C3%A9", status=AR), resp("/%61%20b/", status=AR)),
        None, [("/a%20b/", None, (), 200, True), ("/a%20b/caf%C3%A9/", None, (), 200, True)], ()),
    "bare-208-unresolved-keeps-its-spelling-normalised": (
        ms(resp("/e/", ps(OK, COLL)), resp("/e/x%7e%20y", status=AR)),
        None, [("/e/", None, (), 200, True)], ("/e/x~%20y",)),
    # --- 508: a loop the server did not follow; its own entry, never folded
    "508-response-is-its-own-entry": (
        ms(resp("/l/", ps(OK, COLL, rid(C))), resp("/l/up/", status=LOOP),
           resp("/l/f", ps(OK, FILE, rid(R)))),
        None,
        [("/l/", C, (), 200, True), ("/l/up/", None, (), 508, True),
         ("/l/f", R, (), 200, False)], ()),
    "508-and-208-together": (
        ms(resp("/l/", ps(OK, COLL, rid(C))), resp("/l/m/", ps(OK, COLL, rid(X))),
           resp("/l/m/back", ps(AR, COLL, rid(C))), resp("/l/m/self", status=LOOP)),
        None,
        [("/l/", C, ("/l/m/back/",), 200, True), ("/l/m/", X, (), 200, True),
         ("/l/m/self", None, (), 508, False)], ()),
}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "base", "expected", "unresolved"), CASES_208.values(), ids=CASES_208
)
def test_fold_208(
    body: bytes, base: str | None, expected: list[Row], unresolved: tuple[str, ...]
) -> None:
    listing = fold_multistatus(body, base)
    assert rows(listing) == expected
    assert listing.unresolved == unresolved
    for href in unresolved:  # an unresolved alias is no entry, and not an alias either
        assert listing.get(href) is None
        assert all(href not in e.hrefs for e in listing)


def test_208_is_never_an_entry_of_its_own() -> None:
    """Every row: no entry has a 208 as its canonical href."""
    for body, base, _, _ in CASES_208.values():
        assert all(e.status != 208 for e in fold_multistatus(body, base))


def test_tree_of_a_resolved_file_alias() -> None:
    body = CASES_208["file-208-without-resource-id-matches-by-etag"][0]
    tree = fold_multistatus(body).tree()
    assert [(n.href, n.kind) for n in tree.children] == [
        ("/docs/current-report", "alias"), ("/docs/report.txt", "resource"),
    ]  # fmt: skip
