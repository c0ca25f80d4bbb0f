"""OPTIONS, PUT, GET/HEAD (ranges, conditionals), MKCOL and DELETE: normal behaviour.

RFC 4918 §9.3, §9.4, §9.6, §9.7, §10.1; RFC 9110 §13 (conditionals), §14 (ranges).
"""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest

BODY = b"0123456789"


# --------------------------------------------------------------------------- OPTIONS


@pytest.mark.parametrize(
    ("setup", "url", "has", "lacks"),
    [
        ("none", "/", {"PROPFIND", "MKCOL", "LOCK", "COPY"}, set()),
        ("col", "/c/", {"PROPFIND", "MKCOL", "DELETE", "MOVE"}, set()),
        ("file", "/f.txt", {"GET", "PUT", "PROPPATCH", "UNLOCK"}, {"MKCOL"}),
        ("none", "/missing", {"PUT", "MKCOL", "LOCK"}, {"GET", "DELETE"}),
    ],
)
def test_options(dav, setup, url, has, lacks):
    if setup == "col":
        dav.mkcol("/c")
    if setup == "file":
        dav.put("/f.txt", BODY)
    r = dav.request("OPTIONS", url)
    assert r.status_code == 200
    classes = [c.strip() for c in r.headers["dav"].split(",")]
    assert classes[:3] == ["1", "2", "3"]
    allow = {m.strip() for m in r.headers["allow"].split(",")}
    assert "OPTIONS" in allow
    assert has <= allow
    assert not (lacks & allow)


# --------------------------------------------------------------------------- PUT


def test_put_new_then_existing(dav):
    r1 = dav.request("PUT", "/f.txt", content=b"one", headers={"Content-Type": "text/x-one"})
    assert r1.status_code == 201
    etag1 = r1.headers["etag"]
    assert etag1.startswith('"') and etag1.endswith('"')
    r2 = dav.request("PUT", "/f.txt", content=b"two!", headers={"Content-Type": "text/x-two"})
    assert r2.status_code == 204
    assert r2.content == b""
    etag2 = r2.headers["etag"]
    assert etag2 != etag1
    g = dav.request("GET", "/f.txt")
    assert g.status_code == 200
    assert g.content == b"two!"
    assert g.headers["etag"] == etag2
    assert g.headers["content-type"] == "text/x-two"


def test_put_keeps_resource_id(dav):
    dav.put("/f", b"one")
    rid = dav.props("/f", ("{DAV:}resource-id",))["/f"]["{DAV:}resource-id"][1]
    dav.put("/f", b"two")
    again = dav.props("/f", ("{DAV:}resource-id",))["/f"]["{DAV:}resource-id"][1]
    assert rid.findtext("{DAV:}href") == again.findtext("{DAV:}href")
    assert (rid.findtext("{DAV:}href") or "").startswith("urn:uuid:")


@pytest.mark.parametrize(
    ("name", "ctype", "expected"),
    [
        ("a.bin", "application/x-custom; charset=utf-8", "application/x-custom; charset=utf-8"),
        ("a.txt", None, "text/plain"),
        ("noext", None, "application/octet-stream"),
    ],
)
def test_put_content_type(dav, name, ctype, expected):
    headers = {"Content-Type": ctype} if ctype else {}
    r = dav.request("PUT", "/" + name, content=b"x", headers=headers)
    assert r.status_code == 201
    g = dav.request("GET", "/" + name)
    assert g.headers["content-type"] == expected


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/", 405),  # the root collection
        ("/c", 405),  # an existing collection
        ("/c/", 405),
        ("/nope/f", 409),  # missing parent
        ("/file/f", 409),  # parent is not a collection
    ],
)
def test_put_refused(dav, url, status):
    dav.mkcol("/c")
    dav.put("/file", b"x")
    before = dav.snapshot()
    r = dav.request("PUT", url, content=b"data")
    assert r.status_code == status
    assert dav.snapshot() == before


def test_put_chunked_body(dav):
    parts = [bytes([i]) * 700_000 for i in range(3)]

    async def gen():
        for p in parts:
            yield p

    r = dav.request("PUT", "/big", content=gen)
    assert r.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in r.request.headers
    assert r.status_code == 201
    g = dav.request("GET", "/big")
    assert g.headers["content-length"] == str(2_100_000)
    assert g.content == b"".join(parts)


def test_put_empty_body(dav):
    assert dav.request("PUT", "/empty", content=b"").status_code == 201
    g = dav.request("GET", "/empty")
    assert g.status_code == 200
    assert g.headers["content-length"] == "0"
    assert g.content == b""


# --------------------------------------------------------------------------- GET / HEAD


def test_get_and_head_headers(dav):
    put = dav.put("/f.txt", BODY, Content_Type="text/x-foo")
    g = dav.request("GET", "/f.txt")
    h = dav.request("HEAD", "/f.txt")
    for r in (g, h):
        assert r.status_code == 200
        assert r.headers["content-length"] == "10"
        assert r.headers["etag"] == put.headers["etag"]
        assert r.headers["content-type"] == "text/x-foo"
        assert r.headers["accept-ranges"] == "bytes"
        assert parsedate_to_datetime(r.headers["last-modified"]).tzinfo is not None
    assert g.headers["last-modified"] == h.headers["last-modified"]
    assert g.content == BODY
    assert h.content == b""


def test_get_collection_lists_members(dav):
    dav.mkcol("/c")
    dav.put("/c/a b.txt", b"x")
    dav.mkcol("/c/sub")
    r = dav.request("GET", "/c/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "/c/a%20b.txt" in r.text
    assert "/c/sub/" in r.text


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_get_missing_is_404(dav, method):
    assert dav.request(method, "/nothing").status_code == 404


@pytest.mark.parametrize(
    ("range_", "status", "content", "content_range"),
    [
        ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
        ("bytes=-2", 206, b"89", "bytes 8-9/10"),
        ("bytes=5-", 206, b"56789", "bytes 5-9/10"),
        ("bytes=5-100", 206, b"56789", "bytes 5-9/10"),
        ("bytes=9-9", 206, b"9", "bytes 9-9/10"),
        ("bytes=-20", 206, BODY, "bytes 0-9/10"),
        ("bytes=10-", 416, None, "bytes */10"),
        ("bytes=20-30", 416, None, "bytes */10"),
        ("bytes=-0", 416, None, "bytes */10"),
        ("items=0-3", 200, BODY, None),  # unknown unit: ignored
        ("bytes=0-1,4-5", 200, BODY, None),  # several ranges: whole body is allowed
    ],
)
def test_byte_ranges(dav, range_, status, content, content_range):
    dav.put("/f", BODY)
    r = dav.request("GET", "/f", headers={"Range": range_})
    assert r.status_code == status
    if content is not None:
        assert r.content == content
        assert r.headers["content-length"] == str(len(content))
    assert r.headers.get("content-range") == content_range


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [("bytes=0-9", 0, 9), ("bytes=299990-", 299990, 299999), ("bytes=1000-270000", 1000, 270000)],
)
def test_byte_ranges_of_a_large_file(dav, range_, start, end):
    data = bytes(i % 256 for i in range(300_000))
    dav.put("/big", data)
    r = dav.request("GET", "/big", headers={"Range": range_})
    assert r.status_code == 206
    assert r.content == data[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/300000"
    h = dav.request("HEAD", "/big")
    assert h.headers["content-length"] == "300000"
    assert h.content == b""


def test_416_carries_content_range(dav):
    dav.put("/f", BODY)
    r = dav.request("GET", "/f", headers={"Range": "bytes=10-"})
    assert r.status_code == 416
    assert r.headers.get("content-range") == "bytes */10"


@pytest.mark.parametrize(("matches", "status"), [(True, 206), (False, 200)])
def test_if_range(dav, matches, status):
    etag = dav.put("/f", BODY).headers["etag"]
    r = dav.request(
        "GET", "/f", headers={"Range": "bytes=0-3", "If-Range": etag if matches else '"old"'}
    )
    assert r.status_code == status
    assert r.content == (b"0123" if matches else BODY)


# --------------------------------------------------------------------------- conditionals

PAST = "Mon, 01 Jan 1990 00:00:00 GMT"
FUTURE = "Fri, 01 Jan 2100 00:00:00 GMT"


@pytest.mark.parametrize(
    ("method", "header", "value", "status"),
    [
        ("GET", "If-None-Match", "{etag}", 304),
        ("HEAD", "If-None-Match", "{etag}", 304),
        ("GET", "If-None-Match", "W/{etag}", 304),  # weak comparison for If-None-Match
        ("GET", "If-None-Match", "*", 304),
        ("GET", "If-None-Match", '"other", {etag}', 304),
        ("GET", "If-None-Match", '"other"', 200),
        ("GET", "If-Match", "{etag}", 200),
        ("GET", "If-Match", "*", 200),
        ("GET", "If-Match", '"other"', 412),
        ("GET", "If-Modified-Since", "{lastmod}", 304),
        ("GET", "If-Modified-Since", FUTURE, 304),
        ("GET", "If-Modified-Since", PAST, 200),
        ("GET", "If-Modified-Since", "not a date", 200),
        ("GET", "If-Unmodified-Since", PAST, 412),
        ("GET", "If-Unmodified-Since", FUTURE, 200),
        ("PUT", "If-Match", "{etag}", 204),
        ("PUT", "If-Match", '"other"', 412),
        ("PUT", "If-None-Match", "*", 412),
        ("PUT", "If-None-Match", "{etag}", 412),
        ("PUT", "If-None-Match", '"other"', 204),
        ("PUT", "If-Unmodified-Since", PAST, 412),
        ("PUT", "If-Unmodified-Since", FUTURE, 204),
        ("DELETE", "If-Match", '"other"', 412),
        ("DELETE", "If-Match", "{etag}", 204),
    ],
)
def test_conditional_headers(dav, method, header, value, status):
    put = dav.put("/f", BODY)
    etag = put.headers["etag"]
    value = value.format(etag=etag, lastmod=put.headers["last-modified"])
    content = b"new" if method == "PUT" else None
    r = dav.request(method, "/f", headers={header: value}, content=content)
    assert r.status_code == status, r.text
    if status == 304:
        assert r.content == b""
        assert r.headers["etag"] == etag
    g = dav.request("GET", "/f")
    if status == 412 or method in ("GET", "HEAD"):
        assert g.content == BODY  # a failed precondition changes nothing
        assert g.headers["etag"] == etag
    elif method == "PUT":
        assert g.content == b"new"
    else:
        assert g.status_code == 404
    if status == 412:
        assert r.headers["content-type"].startswith("application/xml")


@pytest.mark.parametrize(("header", "status"), [("If-None-Match", 201), ("If-Match", 412)])
def test_conditional_put_on_unmapped_url(dav, header, status):
    r = dav.request("PUT", "/new", headers={header: "*"}, content=b"x")
    assert r.status_code == status
    assert dav.request("GET", "/new").status_code == (200 if status == 201 else 404)


# --------------------------------------------------------------------------- MKCOL


def test_mkcol_creates_empty_collection(dav):
    r = dav.request("MKCOL", "/c")
    assert r.status_code == 201
    assert r.headers["location"] == "/c/"
    tree = dav.props("/c/", ("{DAV:}resourcetype",), depth="1")
    assert list(tree) == ["/c/"]
    rt = tree["/c/"]["{DAV:}resourcetype"][1]
    assert rt.find("{DAV:}collection") is not None


@pytest.mark.parametrize(
    ("url", "body", "ctype", "status"),
    [
        ("/c", b"", None, 405),  # existing collection
        ("/c/", b"", None, 405),
        ("/f", b"", None, 405),  # existing non-collection
        ("/", b"", None, 405),  # the root
        ("/nope/new", b"", None, 409),  # missing parent
        ("/f/new", b"", None, 409),  # parent is a file
        ("/new", b"hello", "text/plain", 415),  # a body we do not understand
        ("/new", b"<x/>", "application/xml", 415),  # XML, but not <D:mkcol>
    ],
)
def test_mkcol_refused(dav, url, body, ctype, status):
    dav.mkcol("/c")
    dav.put("/f", b"x")
    before = dav.snapshot()
    headers = {"Content-Type": ctype} if ctype else {}
    r = dav.request("MKCOL", url, headers=headers, content=body or None)
    assert r.status_code == status, r.text
    if status == 405:
        assert "allow" in r.headers
    assert dav.snapshot() == before


def test_mkcol_extended_sets_properties(dav):
    body = (
        '<D:mkcol xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
        "<D:resourcetype><D:collection/></D:resourcetype><Z:colour>red</Z:colour>"
        "</D:prop></D:set></D:mkcol>"
    )
    r = dav.request("MKCOL", "/c", headers={"Content-Type": "application/xml"}, content=body)
    assert r.status_code == 201
    props = dav.props("/c/", ("{urn:z}colour",))["/c/"]
    assert props["{urn:z}colour"][0] == 200
    assert props["{urn:z}colour"][1].text == "red"


# --------------------------------------------------------------------------- DELETE


def test_delete_file(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"x")
    r = dav.request("DELETE", "/c/f")
    assert r.status_code == 204
    assert r.content == b""
    assert dav.request("GET", "/c/f").status_code == 404
    assert dav.propfind("/c/f").status_code == 404
    assert list(dav.props("/c/", ("{DAV:}getetag",), depth="1")) == ["/c/"]


def test_delete_missing_is_404(dav):
    assert dav.request("DELETE", "/nothing").status_code == 404
    assert dav.request("DELETE", "/nothing/deeper").status_code == 404


def test_delete_collection_removes_members(dav):
    dav.mkcol("/c")
    dav.mkcol("/c/sub")
    dav.put("/c/a", b"a")
    dav.put("/c/sub/b", b"b")
    dav.put("/keep", b"k")
    r = dav.request("DELETE", "/c/", headers={"Depth": "infinity"})
    assert r.status_code == 204
    for url in ("/c/", "/c/a", "/c/sub/", "/c/sub/b"):
        assert dav.request("GET", url).status_code == 404, url
        assert dav.propfind(url).status_code == 404, url
    assert sorted(dav.props("/", ("{DAV:}getetag",), depth="infinity")) == ["/", "/keep"]
    # the name is free again, and a new collection there is empty
    dav.mkcol("/c")
    assert list(dav.props("/c/", ("{DAV:}getetag",), depth="1")) == ["/c/"]


def test_delete_root_refused(dav):
    dav.put("/f", b"x")
    before = dav.snapshot()
    assert dav.request("DELETE", "/").status_code in (403, 405)
    assert dav.snapshot() == before
