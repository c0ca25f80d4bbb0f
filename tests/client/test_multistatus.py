"""The incremental multistatus parser: chunking, hardening, leniency, bounded memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from davbind.client import MultistatusParser, parse_multistatus
from davbind.client.errors import ForbiddenXML, ProtocolError, TruncatedResponse
from davbind.client.multistatus import lock_timeout, parse_error_body, parse_status

BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:multistatus xmlns:D="DAV:" xmlns:Z="urn:z">'
    b"<D:response><D:href>/a/</D:href><D:propstat><D:prop>"
    b"<D:resourcetype><D:collection/><Z:special/></D:resourcetype>"
    b"<D:displayname>caf\xc3\xa9 &amp; co</D:displayname>"
    b'<Z:color xml:lang="en">red</Z:color>'
    b"<D:resource-id><D:href>urn:uuid:1</D:href></D:resource-id>"
    b"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    b"<D:propstat><D:prop><D:getetag/></D:prop><D:status>HTTP/1.1 404 Not Found</D:status>"
    b"</D:propstat></D:response>"
    b"<D:response><D:href>/a/b</D:href><D:href>/a/c</D:href>"
    b"<D:status>HTTP/1.1 423 Locked</D:status>"
    b"<D:error><D:lock-token-submitted><D:href>/a/</D:href></D:lock-token-submitted></D:error>"
    b"<D:responsedescription>locked</D:responsedescription>"
    b"<D:unknown-element>ignored<D:deeper/></D:unknown-element></D:response>"
    b"<D:responsedescription>all done</D:responsedescription>"
    b"</D:multistatus>"
)


def test_parse_reads_structure() -> None:
    first, second = parse_multistatus(BODY)
    assert first.href == "/a/" and first.status is None
    ok, missing = first.propstats
    assert (ok.status, missing.status) == (200, 404)
    assert ok.props["{DAV:}resourcetype"].children == ("{DAV:}collection", "{urn:z}special")
    assert ok.props["{DAV:}displayname"].text == "café & co"
    assert ok.props["{DAV:}displayname"].xml is None
    assert ok.props["{urn:z}color"].text == "red"
    assert ok.props["{DAV:}resource-id"].hrefs == ("urn:uuid:1",)
    assert list(missing.props) == ["{DAV:}getetag"]
    assert second.hrefs == ("/a/b", "/a/c") and second.status == 423
    assert second.conditions == ("lock-token-submitted",)
    assert second.description == "locked"


@pytest.mark.parametrize("size", [1, 7, 64, 4096, len(BODY)])
def test_chunk_boundaries_do_not_matter(size: int) -> None:
    parser = MultistatusParser()
    got = []
    for start in range(0, len(BODY), size):
        got.extend(parser.feed(BODY[start : start + size]))
    got.extend(parser.close())
    assert got == parse_multistatus(BODY)
    assert parser.description == "all done"


def test_feed_hands_back_responses_as_soon_as_they_end() -> None:
    parser = MultistatusParser()
    cut = BODY.index(b"</D:response>") + len(b"</D:response>")
    assert [r.href for r in parser.feed(BODY[:cut])] == ["/a/"]
    assert [r.href for r in parser.feed(BODY[cut:])] == ["/a/b"]
    assert parser.close() == []


HOSTILE = {
    "doctype": (b'<!DOCTYPE m [<!ENTITY a "b">]><D:multistatus xmlns:D="DAV:"/>', ForbiddenXML),
    "external-doctype": (b'<!DOCTYPE m SYSTEM "http://x/y.dtd"><m/>', ForbiddenXML),
    "billion-laughs": (
        b'<!DOCTYPE l [<!ENTITY l0 "ha"><!ENTITY l1 "&l0;&l0;&l0;&l0;">]>'
        b'<D:multistatus xmlns:D="DAV:">&l1;</D:multistatus>',
        ForbiddenXML,
    ),
    "undefined-entity": (b'<D:multistatus xmlns:D="DAV:">&x;</D:multistatus>', ProtocolError),
    "wrong-root": (b'<D:error xmlns:D="DAV:"/>', ProtocolError),
    "no-namespace-root": (b"<multistatus/>", ProtocolError),
    "junk-after-root": (b'<D:multistatus xmlns:D="DAV:"/><x/>', ProtocolError),
    "cut-in-a-response": (BODY[: BODY.index(b"<D:propstat>") + 5], TruncatedResponse),
    "cut-after-a-response": (BODY[: BODY.index(b"</D:response>") + 13], TruncatedResponse),
    "empty": (b"", TruncatedResponse),
}


@pytest.mark.parametrize(("body", "error"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_or_broken_bodies_are_refused(body: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_multistatus(body)


STATUSES = {
    "HTTP/1.1 200 OK": 200,
    "HTTP/1.1 208 Already Reported": 208,
    " HTTP/1.0 508 Loop Detected ": 508,
    "HTTP/2 207": 207,
    "207 Multi-Status": 207,
    "HTTP/1.1 299 Funky": 299,
    "OK": None,
    "": None,
    "HTTP/1.1 20 Short": None,
}


@pytest.mark.parametrize(("line", "code"), STATUSES.items(), ids=list(STATUSES))
def test_parse_status(line: str, code: int | None) -> None:
    assert parse_status(line) == code


ERRORS = {
    "davbind-xml": (
        b'<?xml version="1.0"?><D:error xmlns:D="DAV:"><D:propfind-finite-depth/>'
        b'<m:message xmlns:m="urn:davbind">too many</m:message></D:error>',
        "application/xml",
        (("propfind-finite-depth",), "too many"),
    ),
    "two-conditions-and-description": (
        b'<e:error xmlns:e="DAV:"><e:lock-token-submitted><e:href>/x</e:href>'
        b"</e:lock-token-submitted><e:locked-update-allowed/>"
        b"<e:responsedescription>locked</e:responsedescription></e:error>",
        "text/xml",
        (("lock-token-submitted", "locked-update-allowed"), "locked"),
    ),
    "text-with-status-prefix": (b"404 Not Found: why\n", "text/plain", ((), "why")),
    "plain-text": (b"\n  nope  \nmore", "text/plain; charset=utf-8", ((), "nope")),
    "html": (b"<html><body>err</body></html>", "text/html", ((), "")),
    "xml-with-doctype": (b'<!DOCTYPE x [<!ENTITY a "b">]><x/>', "application/xml", ((), "")),
    "broken-xml": (b"<D:error", "application/xml", ((), "")),
    "binary": (b"\x00\x01", None, ((), "")),
}  # fmt: skip


@pytest.mark.parametrize(("body", "ctype", "expected"), ERRORS.values(), ids=ERRORS.keys())
def test_parse_error_body(
    body: bytes, ctype: str | None, expected: tuple[tuple[str, ...], str]
) -> None:
    assert parse_error_body(body, ctype) == expected


def test_lock_timeout() -> None:
    body = (
        b'<D:prop xmlns:D="DAV:"><D:lockdiscovery><D:activelock><D:timeout>Second-600'
        b"</D:timeout></D:activelock></D:lockdiscovery></D:prop>"
    )
    assert lock_timeout(body) == "Second-600"
    assert lock_timeout(b"<x/>") is None


def synthetic(count: int) -> Iterator[bytes]:
    """A multistatus of ``count`` responses, produced lazily in 64 KiB chunks."""
    yield b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
    buf: list[bytes] = []
    for i in range(count):
        buf.append(
            b"<D:response><D:href>/dir/file-%d.txt</D:href><D:propstat><D:prop>"
            b"<D:resourcetype/><D:getcontentlength>%d</D:getcontentlength>"
            b"<D:resource-id><D:href>urn:uuid:%032x</D:href></D:resource-id>"
            b"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>" % (i, i, i)
        )
        if len(buf) >= 256:
            yield b"".join(buf)
            buf.clear()
    yield b"".join(buf) + b"</D:multistatus>"


def peak_while_parsing(count: int) -> int:
    tracemalloc.start()
    try:
        parser = MultistatusParser()
        seen = 0
        for chunk in synthetic(count):
            seen += len(parser.feed(chunk))
        seen += len(parser.close())
        assert seen == count
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_parser_memory_is_flat() -> None:
    """Ten times the responses must not need noticeably more memory (bench/ has 100k)."""
    small, large = peak_while_parsing(1_000), peak_while_parsing(10_000)
    assert large < small * 1.5 + 256 * 1024, (small, large)
    assert large < 4 * 1024 * 1024


@pytest.mark.parametrize("size", [1, 3, 17])
@pytest.mark.parametrize("name", ["doctype", "billion-laughs", "external-doctype"])
def test_dtd_refused_however_the_body_is_cut(name: str, size: int) -> None:
    body, error = HOSTILE[name]
    parser = MultistatusParser()
    with pytest.raises(error):
        for start in range(0, len(body), size):
            parser.feed(body[start : start + size])
        parser.close()
