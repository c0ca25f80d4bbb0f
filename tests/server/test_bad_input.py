"""Bad input gets a clear error and loses nothing.

Every test here starts from the same small tree, sends one bad request and then checks
that the whole stored tree (every URL's properties and every file's content) is exactly
what it was, and that no upload left a temporary file behind.
RFC 4918 §8.2, §8.4, §10, §16, §20.6; RFC 3986 §3.3; docs/protocol-decisions.md §6 (W-XML-*, W-H-*).
"""

from __future__ import annotations

import time

import pytest

MAX_XML = 1024
MAX_BODY = 1000
XML = {"Content-Type": "application/xml"}

LOCKINFO = (
    '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype></D:lockinfo>"
)
PROPPATCH = (
    '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
    "<Z:colour>green</Z:colour></D:prop></D:set></D:propertyupdate>"
)

_ENTITIES = ['<!ENTITY lol0 "lol">'] + [
    f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
]
BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE D:propfind [\n' + "\n".join(_ENTITIES) + "\n]>\n"
    '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>&lol9;</D:propfind>'
)
XXE = (
    '<?xml version="1.0"?>\n<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>\n'
    '<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/></D:prop>&xxe;</D:propfind>'
)
PLAIN_DTD = '<?xml version="1.0"?>\n<!DOCTYPE D:propfind>\n<D:propfind xmlns:D="DAV:"/>'


def _swap_root(doc: str, root: str) -> str:
    """The same hostile prolog in front of another method's body."""
    return doc.replace("D:propfind", root)


@pytest.fixture
def seeded(make_dav):
    """(dav, snapshot) over: /keep.txt, /dir/, /dir/f (with a dead property), /other."""
    dav = make_dav(max_xml_bytes=MAX_XML, max_body_bytes=MAX_BODY)
    dav.put("/keep.txt", b"keep me", Content_Type="text/plain")
    dav.mkcol("/dir")
    dav.put("/dir/f", b"inner")
    dav.put("/other", b"other")
    r = dav.request("PROPPATCH", "/dir/f", headers=XML, content=PROPPATCH)
    assert r.status_code == 207
    return dav, dav.snapshot()


def _unchanged(dav, before):
    assert dav.snapshot() == before
    assert dav.request("GET", "/keep.txt").content == b"keep me"
    assert dav.tmp_files() == []


def _explained(r) -> None:
    """An error response says what was wrong, in text or in a ``<D:error>``."""
    assert r.headers["content-type"].startswith(("text/plain", "application/xml"))
    assert len(r.content) > 20


# --------------------------------------------------------------------------- XML bodies


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("PROPFIND", "/dir/", '<D:propfind xmlns:D="DAV:"><D:prop>'),
        ("PROPFIND", "/dir/", "not xml at all"),
        ("PROPFIND", "/dir/", '<D:nonsense xmlns:D="DAV:"/>'),
        ("PROPFIND", "/dir/", "<propfind><prop/></propfind>"),  # no DAV: namespace
        ("PROPFIND", "/dir/", '<D:propfind xmlns:D="DAV:"/>'),  # no mode
        ("PROPFIND", "/dir/", '<D:propfind xmlns:D="DAV:" xmlns:p=""><D:allprop/></D:propfind>'),
        ("PROPPATCH", "/dir/f", "<D:propertyupdate xmlns:D='DAV:'><D:set>"),
        ("PROPPATCH", "/dir/f", ""),
        ("PROPPATCH", "/dir/f", '<D:propertyupdate xmlns:D="DAV:"/>'),
        ("PROPPATCH", "/dir/f", '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'),
        ("PROPPATCH", "/dir/f", '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop/></D:set>'
         "</D:propertyupdate>"),
        ("LOCK", "/dir/f", "<D:lockinfo xmlns:D='DAV:'>"),
        ("LOCK", "/dir/f", '<D:lockinfo xmlns:D="DAV:"/>'),
        ("LOCK", "/dir/f", '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
         "<D:locktype><D:read/></D:locktype></D:lockinfo>"),
        ("LOCK", "/new", "<D:lockinfo xmlns:D='DAV:'>"),  # nothing created
    ],
)
def test_malformed_xml_is_400(seeded, method, url, body):
    dav, before = seeded
    r = dav.request(method, url, headers=XML, content=body)
    assert r.status_code == 400, r.text
    _explained(r)
    _unchanged(dav, before)


@pytest.mark.parametrize("doc", [BILLION_LAUGHS, XXE, PLAIN_DTD], ids=["laughs", "xxe", "dtd"])
@pytest.mark.parametrize(
    ("method", "url", "root"),
    [
        ("PROPFIND", "/dir/", "D:propfind"),
        ("PROPPATCH", "/dir/f", "D:propertyupdate"),
        ("LOCK", "/dir/f", "D:lockinfo"),
        ("LOCK", "/new", "D:lockinfo"),
        ("MKCOL", "/newcol", "D:mkcol"),
    ],
)
def test_entities_and_dtds_refused(seeded, doc, method, url, root):
    dav, before = seeded
    start = time.monotonic()
    r = dav.request(method, url, headers=XML, content=_swap_root(doc, root))
    elapsed = time.monotonic() - start
    assert r.status_code == 403, r.text
    assert dav.error_names(r) == ["no-external-entities"]
    assert b"root:" not in r.content  # nothing of /etc/passwd leaks
    assert elapsed < 1.0
    _unchanged(dav, before)


def _big_xml() -> bytes:
    pad = "".join(f"<Z:p{i}/>" for i in range(200))
    return (
        f'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop>{pad}</D:prop></D:propfind>'
    ).encode()


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize(
    ("method", "url"),
    [("PROPFIND", "/dir/"), ("PROPPATCH", "/dir/f"), ("LOCK", "/dir/f"), ("MKCOL", "/newcol")],
)
def test_xml_body_over_limit_is_413(seeded, method, url, chunked):
    dav, before = seeded
    body = _big_xml()
    assert len(body) > MAX_XML

    async def gen():
        for i in range(0, len(body), 100):
            yield body[i : i + 100]

    r = dav.request(method, url, headers=XML, content=gen if chunked else body)
    assert r.status_code == 413, r.text
    _unchanged(dav, before)


@pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
@pytest.mark.parametrize("url", ["/keep.txt", "/dir/newfile"])
def test_put_over_limit_is_413_and_keeps_old_content(seeded, url, chunked):
    dav, before = seeded
    blobs = dav.stored()
    body = b"z" * (MAX_BODY + 1)

    async def gen():
        for i in range(0, len(body), 300):
            yield body[i : i + 300]

    r = dav.request("PUT", url, content=gen if chunked else body)
    assert r.status_code == 413
    _unchanged(dav, before)
    assert dav.stored() == blobs
    # exactly at the limit is fine
    assert dav.request("PUT", url, content=b"z" * MAX_BODY).status_code in (201, 204)
    assert dav.tmp_files() == []


# --------------------------------------------------------------------------- headers

DEST = "/dir/copy"


@pytest.mark.parametrize(
    ("method", "url", "headers", "status"),
    [
        ("PROPFIND", "/dir/", {"Depth": "2"}, 400),
        ("PROPFIND", "/dir/", {"Depth": "bogus"}, 400),
        ("PROPFIND", "/dir/", {"Depth": ""}, 400),
        ("PROPFIND", "/dir/", {"Depth": "-1"}, 400),
        ("COPY", "/dir/", {"Depth": "1", "Destination": "/copy"}, 400),
        ("COPY", "/dir/", {"Depth": "2", "Destination": "/copy"}, 400),
        ("MOVE", "/dir/", {"Depth": "0", "Destination": "/moved"}, 400),
        ("MOVE", "/dir/", {"Depth": "1", "Destination": "/moved"}, 400),
        ("DELETE", "/dir/", {"Depth": "0"}, 400),
        ("DELETE", "/dir/", {"Depth": "1"}, 400),
        ("DELETE", "/dir/", {"Depth": "bogus"}, 400),
        ("COPY", "/keep.txt", {"Destination": "/other", "Overwrite": "X"}, 400),
        ("MOVE", "/keep.txt", {"Destination": "/other", "Overwrite": "yes"}, 400),
        ("COPY", "/keep.txt", {}, 400),
        ("MOVE", "/keep.txt", {}, 400),
        ("COPY", "/keep.txt", {"Destination": ""}, 400),
        ("COPY", "/keep.txt", {"Destination": "http://elsewhere.example" + DEST}, 502),
        ("MOVE", "/keep.txt", {"Destination": "http://elsewhere.example" + DEST}, 502),
        ("COPY", "/keep.txt", {"Destination": "http://testserver:8081" + DEST}, 502),
        ("COPY", "/keep.txt", {"Destination": "https://testserver" + DEST}, 502),
        ("COPY", "/keep.txt", {"Destination": "not a url"}, 400),
        ("COPY", "/keep.txt", {"Destination": "dir/copy"}, 400),
        ("COPY", "/keep.txt", {"Destination": "ftp://testserver/dir/copy"}, 400),
        ("COPY", "/keep.txt", {"Destination": "//testserver/dir/copy"}, 400),
        ("COPY", "/keep.txt", {"Destination": "http://[bad/dir/copy"}, 400),
        ("COPY", "/keep.txt", {"Destination": "http://testserver:99999/dir/copy"}, 400),
        ("COPY", "/keep.txt", {"Destination": "/dir/%ZZ"}, 400),
        ("COPY", "/keep.txt", {"Destination": "/dir/a%2Fb"}, 400),
        ("MOVE", "/keep.txt", {"Destination": "/dir/../copy"}, 400),
        ("MOVE", "/keep.txt", {"Destination": "/dir//copy"}, 400),
        ("MOVE", "/keep.txt", {"Destination": "/dir/%00"}, 400),
        ("PUT", "/keep.txt", {"If": "(<unclosed"}, 400),
        ("PUT", "/dir/new", {"If": "garbage"}, 400),
        ("DELETE", "/keep.txt", {"If": "(<unclosed"}, 400),
        ("MKCOL", "/newcol", {"If": "(<unclosed"}, 400),
        ("PROPPATCH", "/keep.txt", {"If": "(<unclosed", **XML}, 400),
        ("COPY", "/keep.txt", {"If": "(<unclosed", "Destination": DEST}, 400),
        ("MOVE", "/keep.txt", {"If": "(<unclosed", "Destination": DEST}, 400),
        ("LOCK", "/keep.txt", {"If": "(<unclosed", **XML}, 400),
        ("UNLOCK", "/keep.txt", {}, 400),
        ("UNLOCK", "/keep.txt", {"Lock-Token": "urn:uuid:no-brackets"}, 400),
        ("UNLOCK", "/keep.txt", {"Lock-Token": "<>"}, 400),
    ],
)
def test_bad_headers(seeded, method, url, headers, status):
    dav, before = seeded
    content = None
    if method == "PUT":
        content = b"replacement"
    elif method == "PROPPATCH":
        content = PROPPATCH
    elif method == "LOCK":
        content = LOCKINFO
    r = dav.request(method, url, headers=headers, content=content)
    assert r.status_code == status, r.text
    _explained(r)
    _unchanged(dav, before)


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_bad_overwrite_without_existing_destination(seeded, method):
    dav, before = seeded
    r = dav.request(method, "/keep.txt", headers={"Destination": DEST, "Overwrite": "X"})
    assert r.status_code == 400
    _unchanged(dav, before)


@pytest.mark.parametrize("timeout", ["bogus", "Second-abc", "Second-", "Infinite, junk", ""])
def test_bad_timeout_is_tolerated(seeded, timeout):
    dav, _ = seeded
    r = dav.request("LOCK", "/keep.txt", headers={**XML, "Timeout": timeout}, content=LOCKINFO)
    assert r.status_code == 200, r.text
    assert r.headers["lock-token"].startswith("<urn:uuid:")
    assert dav.request("PUT", "/keep.txt", content=b"x").status_code == 423


def test_put_with_content_range_is_400(seeded):
    dav, before = seeded
    r = dav.request("PUT", "/keep.txt", headers={"Content-Range": "bytes 0-3/7"}, content=b"KEEP")
    assert r.status_code == 400
    _unchanged(dav, before)


@pytest.mark.parametrize(
    ("headers", "status"),
    [({"content-length": "abc"}, 400), ({"content-length": "-1"}, 400)],
)
def test_bad_content_length(seeded, headers, status):
    dav, before = seeded
    assert dav.raw("PUT", b"/keep.txt", headers=headers).status == status
    _unchanged(dav, before)


# --------------------------------------------------------------------------- paths

BAD_PATHS = [
    b"/dir%2Ff",
    b"/dir/../keep.txt",
    b"/dir/./f",
    b"/./keep.txt",
    b"//keep.txt",
    b"/dir//f",
    b"/dir/%2e%2e/keep.txt",
    b"/dir/%2E",
    b"/..",
    b"/keep.txt%00",
    b"/%00",
    b"/%FF",
    b"/dir/%C3%28",  # invalid UTF-8 sequence
    b"/keep.txt#frag",
    b"/dir/%01",
]
BAD_PERCENT = pytest.param(b"/dir/%ZZ", id="/dir/%ZZ")


@pytest.mark.parametrize(
    "path", [*(pytest.param(p, id=p.decode()) for p in BAD_PATHS), BAD_PERCENT]
)
@pytest.mark.parametrize("method", ["GET", "PUT", "MKCOL", "DELETE", "PROPFIND"])
def test_bad_paths_are_400(seeded, method, path):
    dav, before = seeded
    body = b"evil" if method == "PUT" else b""
    r = dav.raw(method, path, body=body)
    assert r.status == 400, (r.status, r.body)
    _unchanged(dav, before)


def test_good_encoded_paths_round_trip(seeded):
    dav, _ = seeded
    r = dav.raw("PUT", b"/dir/a%20b%C3%A9%25", body=b"ok")
    assert r.status == 201
    hrefs = dav.props("/dir/", ("{DAV:}getetag",), depth="1")
    assert "/dir/a%20b%C3%A9%25" in hrefs
    assert dav.raw("GET", b"/dir/a%20b%c3%a9%25").body == b"ok"


# --------------------------------------------------------------------------- bodies


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [
        ("DELETE", "/keep.txt", {"Content-Type": "text/plain"}, b"why"),
        ("DELETE", "/dir/", XML, b"<x/>"),
        ("MKCOL", "/newcol", {"Content-Type": "text/plain"}, b"hello"),
        ("MKCOL", "/newcol", {}, b"hello"),
        ("MKCOL", "/newcol", XML, b'<D:propfind xmlns:D="DAV:"/>'),
    ],
)
def test_unexpected_body_is_415(seeded, method, url, headers, body):
    dav, before = seeded
    r = dav.request(method, url, headers=headers, content=body)
    assert r.status_code == 415
    _unchanged(dav, before)


@pytest.mark.parametrize(
    ("method", "headers"),
    [
        ("UNLOCK", {"Lock-Token": "<{token}>"}),
        ("COPY", {"Destination": DEST}),
        ("MOVE", {"Destination": DEST}),
    ],
)
def test_ignored_body_is_415(seeded, method, headers):
    dav, _ = seeded
    token = dav.lock("/keep.txt")
    before = dav.snapshot()
    hdrs = {k: v.format(token=token) for k, v in headers.items()}
    hdrs["Content-Type"] = "text/plain"
    hdrs["If"] = f"(<{token}>)"
    r = dav.request(method, "/keep.txt", headers=hdrs, content=b"ignored?")
    assert r.status_code == 415
    assert dav.snapshot() == before


# --------------------------------------------------------------------------- methods


@pytest.mark.parametrize(
    ("method", "status"),
    [("FOO", 501), ("BIND2", 501), ("M-SEARCH", 501), ("G(T", 400), ("GET\x7f", 400),
     ("PUT ", 400)],
)
def test_unknown_methods(seeded, method, status):
    """RFC 9110 §15.6.2: a method implemented for no resource is 501; one that is not
    a token (§5.6.2) is a malformed request."""
    dav, before = seeded
    r = dav.raw(method, b"/keep.txt")
    assert r.status == status
    if status == 501:
        assert method in r.body.decode()
    _unchanged(dav, before)
