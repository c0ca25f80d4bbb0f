"""How ``fold_multistatus`` reads 208 Already Reported (and 508), case by case.

A 208 never names a new resource (RFC 5842 §7.1): it is one more href of a resource
reported in the same multistatus.  Each row is a body, the request URL it answers, the
entries expected — (href, resource_id, aliases, status, collection) — and the hrefs
left unresolved (a 208 whose resource cannot be told).  The reference is the example of
RFC 5842 §7.1.1, read from the mock scenario that ships it verbatim.
"""

from __future__ import annotations

import re
from importlib.resources import files

import pytest

from davbind.client import Listing, fold_multistatus

C = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8"  # RFC 5842 §7.1.1 collection
R = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf9"  # RFC 5842 §7.1.1 resource
X = "urn:uuid:0a4c4c6e-2b2b-4c1e-9d3a-3f0c5f2d9e01"
OK = "HTTP/1.1 200 OK"
AR = "HTTP/1.1 208 Already Reported"
LOOP = "HTTP/1.1 508 Loop Detected"
COLL = "<D:resourcetype><D:collection/></D:resourcetype>"
FILE = "<D:resourcetype/>"
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


def rid(value: str) -> str:
    return f"<D:resource-id><D:href>{value}</D:href></D:resource-id>"


def etag(value: str) -> str:
    return f'<D:getetag>"{value}"</D:getetag>'


def size(value: int) -> str:
    return f"<D:getcontentlength>{value}</D:getcontentlength>"


def ps(status: str, *props: str) -> str:
    return (
        f"<D:propstat><D:prop>{''.join(props)}</D:prop><D:status>{status}</D:status></D:propstat>"
    )


def resp(href: str, *propstats: str, status: str | None = None) -> str:
    st = f"<D:status>{status}</D:status>" if status else ""
    return f"<D:response><D:href>{href}</D:href>{st}{''.join(propstats)}</D:response>"


def ms(*responses: str) -> str:
    return '<D:multistatus xmlns:D="DAV:">' + "".join(responses) + "</D:multistatus>"


Row = tuple[str, str | None, tuple[str, ...], int | None, bool]


def rows(listing: Listing) -> list[Row]:
    return [(e.href, e.resource_id, e.aliases, e.status, e.collection) for e in listing]


RFC_ROWS: list[Row] = [("/Coll/", C, ("/Coll/Bar/",), 200, True), ("/Coll/Foo", R, (), 200, False)]
REPORT = (FILE, etag("r1"), size(1200), "<D:displayname>report.txt</D:displayname>")

CASES: dict[str, tuple[str, str | None, list[Row], tuple[str, ...]]] = {
    # --- the reference: RFC 5842 §7.1.1, and the same answer with less said about Bar
    "rfc-propstat-208-with-resource-id": (RFC, BASE, RFC_ROWS, ()),
    "rfc-propstat-208-without-resource-id-matches-by-properties": (
        RFC_BAR_WITHOUT_RID, BASE, RFC_ROWS, ()),
    "rfc-response-level-208-bare-is-unresolved": (
        RFC_BAR_BARE, BASE,
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


@pytest.mark.parametrize(("body", "base", "expected", "unresolved"), CASES.values(), ids=CASES)
def test_fold_208(
    body: str, base: str | None, expected: list[Row], unresolved: tuple[str, ...]
) -> None:
    listing = fold_multistatus(body.encode(), base)
    assert rows(listing) == expected
    assert listing.unresolved == unresolved
    for href in unresolved:  # an unresolved alias is no entry, and not an alias either
        assert listing.get(href) is None
        assert all(href not in e.hrefs for e in listing)


def test_208_is_never_an_entry_of_its_own() -> None:
    """Every row: no entry has a 208 as its canonical href."""
    for body, base, _, _ in CASES.values():
        assert all(e.status != 208 for e in fold_multistatus(body.encode(), base))


def test_tree_of_a_resolved_file_alias() -> None:
    body = CASES["file-208-without-resource-id-matches-by-etag"][0]
    tree = fold_multistatus(body.encode()).tree()
    assert [(n.href, n.kind) for n in tree.children] == [
        ("/docs/current-report", "alias"), ("/docs/report.txt", "resource"),
    ]  # fmt: skip
