"""PROPFIND (RFC 4918 §9.1, RFC 8144 Prefer) and PROPPATCH (RFC 4918 §9.2).

Bodies are parsed with ElementTree; property values are compared as XML infosets.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

D = "{DAV:}"
Z = "{urn:z}"

LIVE_ALLPROP_FILE = {
    D + n
    for n in (
        "creationdate",
        "getcontentlength",
        "getcontenttype",
        "getetag",
        "getlastmodified",
        "resourcetype",
        "supportedlock",
        "lockdiscovery",
        "displayname",  # live since D-1
    )
}
LIVE_ALLPROP_COLL = LIVE_ALLPROP_FILE - {D + "getcontentlength", D + "getcontenttype"}


def _tree(dav):
    """/c/ with a file, an encoded name and a sub-collection holding a file."""
    dav.mkcol("/c")
    dav.put("/c/f.txt", b"hello", Content_Type="text/plain")
    dav.put("/c/a b", b"x")
    dav.mkcol("/c/sub")
    dav.put("/c/sub/g", b"gg")


def _same(a: ET.Element, b: ET.Element) -> bool:
    """Equal infoset: names, attributes, text, tails and children."""
    return (
        a.tag == b.tag
        and a.attrib == b.attrib
        and (a.text or "") == (b.text or "")
        and (a.tail or "").strip() == (b.tail or "").strip()
        and len(a) == len(b)
        and all(_same(x, y) for x, y in zip(a, b, strict=True))
    )


def _patch(dav, url, inner, **headers):
    body = f'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z">{inner}</D:propertyupdate>'
    hdrs = {"Content-Type": "application/xml", **headers}
    return dav.request("PROPPATCH", url, headers=hdrs, content=body)


# --------------------------------------------------------------------------- PROPFIND


@pytest.mark.parametrize(
    ("url", "depth", "hrefs"),
    [
        ("/c/", "0", ["/c/"]),
        ("/c", "0", ["/c/"]),
        ("/c/", "1", ["/c/", "/c/a%20b", "/c/f.txt", "/c/sub/"]),
        ("/c/", "infinity", ["/c/", "/c/a%20b", "/c/f.txt", "/c/sub/", "/c/sub/g"]),
        ("/c/", None, ["/c/", "/c/a%20b", "/c/f.txt", "/c/sub/", "/c/sub/g"]),
        ("/c/f.txt", "1", ["/c/f.txt"]),
        ("/c/f.txt", "infinity", ["/c/f.txt"]),
        ("/c/a%20b", "0", ["/c/a%20b"]),
    ],
)
def test_propfind_depth(dav, url, depth, hrefs):
    _tree(dav)
    headers = {"Depth": depth} if depth is not None else {}
    r = dav.request("PROPFIND", url, headers=headers)
    assert r.status_code == 207
    assert r.headers["content-type"].startswith("application/xml")
    assert sorted(dav.parse_multistatus(r)) == hrefs


def test_propfind_missing_is_404(dav):
    assert dav.propfind("/nothing").status_code == 404
    assert dav.propfind("/nothing/below", depth="1").status_code == 404


@pytest.mark.parametrize("body", ["", '<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'])
def test_allprop(dav, body):
    _tree(dav)
    _patch(dav, "/c/f.txt", "<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set>")
    tree = dav.parse_multistatus(dav.propfind("/c/", body, depth="1"))
    file_props = tree["/c/f.txt"]
    assert set(file_props) == LIVE_ALLPROP_FILE | {Z + "colour"}
    assert all(status == 200 for status, _ in file_props.values())
    assert file_props[Z + "colour"][1].text == "red"
    assert set(tree["/c/"]) == LIVE_ALLPROP_COLL
    assert set(tree["/c/sub/"]) == LIVE_ALLPROP_COLL
    assert D + "resource-id" not in file_props  # RFC 5842 §3: not in allprop


def test_allprop_values_agree_with_get(dav):
    dav.put("/f.txt", b"hello", Content_Type="text/x-hello")
    g = dav.request("GET", "/f.txt")
    props = dav.parse_multistatus(dav.propfind("/f.txt"))["/f.txt"]
    assert props[D + "getetag"][1].text == g.headers["etag"]
    assert props[D + "getcontentlength"][1].text == "5"
    assert props[D + "getcontenttype"][1].text == "text/x-hello"
    assert props[D + "getlastmodified"][1].text == g.headers["last-modified"]
    assert props[D + "resourcetype"][1].find(D + "collection") is None
    assert len(props[D + "resourcetype"][1]) == 0
    lock_tags = {c.tag for c in props[D + "supportedlock"][1].iter()}
    scopes = lock_tags & {D + "exclusive", D + "shared"}
    assert scopes == {D + "exclusive", D + "shared"}


def test_allprop_include_dead_property(dav):
    dav.put("/f", b"x")
    _patch(dav, "/f", "<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set>")
    body = (
        '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:allprop/>'
        "<D:include><Z:colour/><D:getetag/><Z:none/></D:include></D:propfind>"
    )
    r = dav.propfind("/f", body)
    assert r.status_code == 207
    root = ET.fromstring(r.content)
    names = [el.tag for el in root.iter() if el.tag in (Z + "colour", D + "getetag")]
    assert sorted(names) == [D + "getetag", Z + "colour"]  # each once
    props = dav.parse_multistatus(r)["/f"]
    assert props[Z + "none"][0] == 404


def test_allprop_include_resource_id(dav):
    dav.put("/f", b"x")
    body = (
        '<D:propfind xmlns:D="DAV:"><D:allprop/>'
        "<D:include><D:resource-id/></D:include></D:propfind>"
    )
    props = dav.parse_multistatus(dav.propfind("/f", body))["/f"]
    assert props[D + "resource-id"][0] == 200
    assert (props[D + "resource-id"][1].findtext(D + "href") or "").startswith("urn:uuid:")
    assert set(props) >= LIVE_ALLPROP_FILE


def test_propname(dav):
    _tree(dav)
    _patch(dav, "/c/f.txt", "<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set>")
    body = '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
    tree = dav.parse_multistatus(dav.propfind("/c/", body, depth="1"))
    names = tree["/c/f.txt"]
    assert LIVE_ALLPROP_FILE | {Z + "colour"} <= set(names)
    for status, el in names.values():
        assert status == 200
        assert len(el) == 0 and not (el.text or "").strip()  # names only
    assert D + "getcontentlength" not in tree["/c/"]


def test_prop_named_with_unknown_gets_404(dav):
    dav.put("/f", b"abc")
    names = (D + "getcontentlength", Z + "nothing", D + "resource-id", D + "quux")
    props = dav.props("/f", names)["/f"]
    assert props[D + "getcontentlength"][0] == 200
    assert props[D + "getcontentlength"][1].text == "3"
    assert props[D + "resource-id"][0] == 200
    assert props[Z + "nothing"][0] == 404
    assert props[D + "quux"][0] == 404
    assert len(props[Z + "nothing"][1]) == 0


def test_prop_on_collection_getcontentlength_404(dav):
    dav.mkcol("/c")
    props = dav.props("/c/", (D + "getcontentlength", D + "resourcetype"))["/c/"]
    assert props[D + "getcontentlength"][0] == 404
    assert props[D + "resourcetype"][0] == 200


def test_resource_ids_distinct(dav):
    _tree(dav)
    tree = dav.props("/", (D + "resource-id",), depth="infinity")
    rids = [p[D + "resource-id"][1].findtext(D + "href") for p in tree.values()]
    assert len(rids) == 6
    assert len(set(rids)) == 6


@pytest.mark.parametrize("prefer", [{"Prefer": "return=minimal"}, {"Brief": "t"}])
def test_prefer_minimal_drops_404_propstats(dav, prefer):
    dav.put("/f", b"x")
    dav.mkcol("/c")
    names = "<D:getetag/><Z:nothing/><D:getcontentlength/>"
    body = f'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop>{names}</D:prop></D:propfind>'
    full = dav.propfind("/", body, depth="1")
    assert 404 in dav.propstat_statuses(full)
    r = dav.propfind("/", body, depth="1", **prefer)
    assert r.status_code == 207
    assert 404 not in dav.propstat_statuses(r)
    tree = dav.parse_multistatus(r)
    assert set(tree["/f"]) == {D + "getetag", D + "getcontentlength"}
    assert set(tree["/c/"]) == {D + "getetag"}
    if "Prefer" in prefer:
        assert "return=minimal" in r.headers["preference-applied"]


def test_prefer_minimal_keeps_each_response_valid(dav):
    dav.put("/f", b"x")
    body = '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><Z:nothing/></D:prop></D:propfind>'
    r = dav.propfind("/f", body, Prefer="return=minimal")
    root = ET.fromstring(r.content)
    (resp,) = root.findall(D + "response")
    (ps,) = resp.findall(D + "propstat")  # a response must keep one propstat
    assert "200" in (ps.findtext(D + "status") or "")
    assert len(ps.find(D + "prop")) == 0


def test_prefer_depth_noroot(dav):
    _tree(dav)
    r = dav.propfind("/c/", depth="1", Prefer="depth-noroot")
    assert sorted(dav.parse_multistatus(r)) == ["/c/a%20b", "/c/f.txt", "/c/sub/"]


@pytest.mark.parametrize(("depth", "status"), [("infinity", 403), ("1", 207), ("0", 207)])
def test_propfind_response_cap(make_dav, depth, status):
    dav = make_dav(max_propfind_responses=50)
    dav.mkcol("/c")
    for i in range(60):
        dav.put(f"/c/f{i}", b"x")
    r = dav.propfind("/c/", depth=depth)
    assert r.status_code == status
    if status == 403:
        assert dav.error_names(r) == ["propfind-finite-depth"]
    elif depth == "1":
        assert len(dav.parse_multistatus(r)) == 61


def test_listing_reflects_every_change(dav):
    """Rendered properties may be cached per resource; every change must show at once."""
    dav.mkcol("/c")
    dav.put("/c/f", b"one", Content_Type="text/x-one")
    dav.put("/c/g", b"gee")

    def listing():
        tree = dav.parse_multistatus(dav.propfind("/c/", depth="1"))
        return {
            href: {n: ET.tostring(el) for n, (_, el) in props.items()
                   if n != D + "lockdiscovery"}
            for href, props in tree.items()
        }

    def value(href, name):
        el = dav.parse_multistatus(dav.propfind("/c/", depth="1"))[href].get(name)
        return None if el is None else el[1].text

    first = listing()
    assert listing() == first  # twice the same (the second from any cache)
    dav.put("/c/f", b"three", Content_Type="text/x-three")
    assert value("/c/f", D + "getcontentlength") == "5"
    assert value("/c/f", D + "getcontenttype") == "text/x-three"
    assert value("/c/f", D + "getetag") == dav.request("GET", "/c/f").headers["etag"]
    _patch(dav, "/c/f", "<D:set><D:prop><Z:colour>red</Z:colour></D:prop></D:set>")
    assert value("/c/f", Z + "colour") == "red"
    _patch(dav, "/c/f", "<D:set><D:prop><Z:colour>blue</Z:colour></D:prop></D:set>")
    assert value("/c/f", Z + "colour") == "blue"
    _patch(dav, "/c/f", "<D:remove><D:prop><Z:colour/></D:prop></D:remove>")
    assert value("/c/f", Z + "colour") is None
    # COPY over an existing resource updates it in place: new content, source's props
    _patch(dav, "/c/g", "<D:set><D:prop><Z:colour>green</Z:colour></D:prop></D:set>")
    assert dav.request("COPY", "/c/g", headers={"Destination": "/c/f"}).status_code == 204
    assert value("/c/f", D + "getcontentlength") == "3"
    assert value("/c/f", Z + "colour") == "green"
    assert value("/c/f", D + "getetag") == dav.request("GET", "/c/f").headers["etag"]
    # membership changes show in the collection's own entity tag
    before = value("/c/", D + "getetag")
    dav.put("/c/h", b"h")
    after = value("/c/", D + "getetag")
    assert after != before
    dav.request("DELETE", "/c/h")
    assert value("/c/", D + "getetag") not in (before, after)
    # lock state is live
    token = dav.lock("/c/f", depth="0")
    tree = dav.parse_multistatus(dav.propfind("/c/", depth="1"))
    active = tree["/c/f"][D + "lockdiscovery"][1].findall(D + "activelock")
    assert [a.findtext(f"{D}locktoken/{D}href") for a in active] == [token]
    assert tree["/c/g"][D + "lockdiscovery"][1].findall(D + "activelock") == []


# --------------------------------------------------------------------------- PROPPATCH

AUTHOR = (
    '<Z:author xmlns:Y="urn:y" Y:role="lead">'
    '<Z:name xml:lang="en">Ann &amp; Bob</Z:name><Y:extra/>tail text</Z:author>'
)


def test_proppatch_set_remove_round_trip(dav):
    dav.put("/f", b"x")
    etag = dav.request("GET", "/f").headers["etag"]
    r = _patch(dav, "/f", f"<D:set><D:prop>{AUTHOR}<Z:colour>red</Z:colour></D:prop></D:set>")
    assert r.status_code == 207
    tree = dav.parse_multistatus(r)
    assert set(tree["/f"]) == {Z + "author", Z + "colour"}
    assert {s for s, _ in tree["/f"].values()} == {200}

    props = dav.props("/f", (Z + "author", Z + "colour"))["/f"]
    sent = ET.fromstring(
        f'<D:prop xmlns:D="DAV:" xmlns:Z="urn:z">{AUTHOR}</D:prop>'
    ).find(Z + "author")
    assert props[Z + "author"][0] == 200
    assert _same(props[Z + "author"][1], sent)
    assert props[Z + "author"][1].find(Z + "name").get(
        "{http://www.w3.org/XML/1998/namespace}lang"
    ) == "en"
    assert props[Z + "colour"][1].text == "red"
    # a dead property shows up in allprop too
    assert Z + "author" in dav.parse_multistatus(dav.propfind("/f"))["/f"]

    r = _patch(dav, "/f", "<D:remove><D:prop><Z:author/></D:prop></D:remove>")
    assert r.status_code == 207
    assert dav.propstat_statuses(r) == [200]
    props = dav.props("/f", (Z + "author", Z + "colour"))["/f"]
    assert props[Z + "author"][0] == 404
    assert props[Z + "colour"][0] == 200
    # content and entity tag are not touched by property changes
    g = dav.request("GET", "/f")
    assert g.content == b"x"
    assert g.headers["etag"] == etag


def test_proppatch_document_order(dav):
    dav.put("/f", b"x")
    r = _patch(
        dav,
        "/f",
        "<D:set><D:prop><Z:a>1</Z:a><Z:b>1</Z:b></D:prop></D:set>"
        "<D:remove><D:prop><Z:a/></D:prop></D:remove>"
        "<D:set><D:prop><Z:b>2</Z:b></D:prop></D:set>",
    )
    assert r.status_code == 207
    props = dav.props("/f", (Z + "a", Z + "b"))["/f"]
    assert props[Z + "a"][0] == 404
    assert props[Z + "b"][1].text == "2"


def test_proppatch_remove_missing_is_success(dav):
    dav.put("/f", b"x")
    r = _patch(dav, "/f", "<D:remove><D:prop><Z:never/></D:prop></D:remove>")
    assert r.status_code == 207
    assert dav.propstat_statuses(r) == [200]


def test_proppatch_on_collection(dav):
    dav.mkcol("/c")
    r = _patch(dav, "/c/", "<D:set><D:prop><D:displayname>My C</D:displayname></D:prop></D:set>")
    assert r.status_code == 207
    props = dav.props("/c/", (D + "displayname",))["/c/"]
    assert props[D + "displayname"][1].text == "My C"


@pytest.mark.parametrize(
    "protected",
    ["<D:getetag>\"x\"</D:getetag>", "<D:resourcetype/>", "<D:resource-id/>",
     "<D:getcontentlength>1</D:getcontentlength>", "<D:lockdiscovery/>"],
)
def test_proppatch_protected_is_all_or_nothing(dav, protected):
    dav.put("/f", b"x")
    _patch(dav, "/f", "<D:set><D:prop><Z:keep>old</Z:keep></D:prop></D:set>")
    before = dav.snapshot()
    r = _patch(
        dav,
        "/f",
        "<D:set><D:prop><Z:new>1</Z:new></D:prop></D:set>"
        f"<D:set><D:prop>{protected}</D:prop></D:set>"
        "<D:remove><D:prop><Z:keep/></D:prop></D:remove>",
    )
    assert r.status_code == 207
    root = ET.fromstring(r.content)
    (resp,) = root.findall(D + "response")
    assert resp.findtext(D + "href") == "/f"
    seen: dict[str, int] = {}
    for ps in resp.findall(D + "propstat"):
        status = int((ps.findtext(D + "status") or "").split()[1])
        for prop in ps.find(D + "prop"):
            seen[prop.tag] = status
        if status == 403:
            err = ps.find(D + "error")
            assert err is not None
            assert [c.tag for c in err] == [D + "cannot-modify-protected-property"]
    protected_name = ET.fromstring(
        f'<D:prop xmlns:D="DAV:">{protected}</D:prop>'
    )[0].tag
    assert seen == {protected_name: 403, Z + "new": 424, Z + "keep": 424}
    # nothing changed
    props = dav.props("/f", (Z + "new", Z + "keep"))["/f"]
    assert props[Z + "new"][0] == 404
    assert props[Z + "keep"][1].text == "old"
    assert dav.snapshot() == before


def test_proppatch_missing_resource(dav):
    r = _patch(dav, "/nothing", "<D:set><D:prop><Z:a>1</Z:a></D:prop></D:set>")
    assert r.status_code == 404
