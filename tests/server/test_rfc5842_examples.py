"""Every example of RFC 5842 (docs/protocol-decisions.md §5, E1–E17), reproduced request by request.

Hosts are ``www.example.com`` as in the RFC; resource-ids and lock tokens are the
server's own (the RFC's values are examples), compared by equality where the RFC shows
two equal values.  E18 (versioning) is out of scope (B-11-1).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import rfc5842_fixtures as fx

D = fx.D


@pytest.fixture
def srv(tmp_path):
    with fx.open_srv(tmp_path) as s:
        yield s


def test_E1_bindings_to_collections(srv):
    fx.e1_state(srv)
    r1, r2 = srv.rid("/CollX/x.gif"), srv.rid("/CollX/y.jpg")
    assert srv.rid("/CollY/x.gif") == r1
    assert srv.rid("/CollY/y.jpg") == r2
    assert r1 != r2
    # Only one binding each (in C1), whatever the number of URI mappings.
    for url in ("/CollX/x.gif", "/CollY/x.gif", "/CollX/y.jpg", "/CollY/y.jpg"):
        assert len(srv.parents(url)) == 1, url
    assert srv.get("/CollY/x.gif").content == b"GIF89a-R1"


def test_E2_uri_mappings_through_every_host_and_path(srv):
    srv.mkcol("/A")
    srv.mkcol("/A/1")
    srv.bind_ok("/A/", "one", "/A/1/")  # C mapped by .../A/1/ and .../A/one/
    srv.mkcol("/R")
    srv.put("/R/foo.html", b"<p>R</p>")
    srv.bind_ok("/A/1/", "foo.html", "/R/foo.html")
    rid = srv.rid("/R/foo.html")
    for host in ("www.example.com", "example.com"):
        for url in ("/A/1/foo.html", "/A/one/foo.html"):
            r = srv.request("GET", url, {"Host": host})
            assert r.content == b"<p>R</p>", (host, url)
    srv.bind_ok("/A/1/", "myself", "/A/1/")
    for url in ("/A/1/myself", "/A/1/myself/myself", "/A/one/myself/myself/myself"):
        assert srv.rid(url + "/") == srv.rid("/A/1/"), url
        assert srv.rid(url + "/foo.html") == rid, url


def test_E3_copy_then_copy_back_updates_in_place(srv):
    # R has URI-1, URI-2, URI-3.
    srv.mkcol("/u")
    srv.put("/u/uri-1", b"R content")
    srv.bind_ok("/u/", "uri-2", "/u/uri-1")
    srv.bind_ok("/u/", "uri-3", "/u/uri-1")
    r = srv.rid("/u/uri-1")
    assert srv.copy("/u/uri-3", "/uri-x").status_code == 201
    r_prime = srv.rid("/uri-x")
    assert r_prime != r
    srv.put("/uri-x", b"R' content")
    assert srv.proppatch("/uri-x", fx.dead_patch("note", "from R'")).status_code == 207
    assert srv.copy("/uri-x", "/u/uri-2").status_code == 204
    for url in ("/u/uri-1", "/u/uri-2", "/u/uri-3"):
        resp = srv.one(url, "resource-id", "{urn:x-test}note")
        assert resp.rid == r, url
        assert resp.prop("{urn:x-test}note").text == "from R'"
        assert srv.get(url).content == b"R' content"
    assert srv.rid("/uri-x") == r_prime


def test_E4_copy_depth_infinity_with_a_bind_loop(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.mkcol("/CollX/CollY")
    srv.put("/CollX/CollY/y.gif", b"R2")
    srv.bind_ok("/CollX/CollY/", "CollZ", "/CollX/")
    before = {p: r.rid for p, r in srv.paths("/CollX/").items()}
    r = srv.request("COPY", "/CollX", {"Depth": "infinity", "Destination": "/CollA"})
    assert r.status_code == 201
    c3, c4 = srv.rid("/CollA/"), srv.rid("/CollA/CollY/")
    r3, r4 = srv.rid("/CollA/x.gif"), srv.rid("/CollA/CollY/y.gif")
    assert srv.rid("/CollA/CollY/CollZ/") == c3  # the loop goes back to the new root
    old = set(before.values())
    assert not {c3, c4, r3, r4} & old
    assert srv.members("/CollA/") == {"x.gif": r3, "CollY": c4}
    assert srv.members("/CollA/CollY/") == {"y.gif": r4, "CollZ": c3}
    assert {p: r.rid for p, r in srv.paths("/CollX/").items()} == before  # unchanged
    assert srv.members("/") == {"CollX": srv.rid("/CollX/"), "CollA": c3}


def test_E5_copy_updating_multiple_bindings(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.put("/CollX/y.gif", b"R2")
    srv.mkcol("/CollY")
    srv.put("/CollY/x.gif", b"R3")
    srv.bind_ok("/CollY/", "y.gif", "/CollY/x.gif")
    c2, r3 = srv.rid("/CollY/"), srv.rid("/CollY/x.gif")
    r = srv.request("COPY", "/CollX", {"Depth": "infinity", "Destination": "/CollY"})
    assert r.status_code == 204
    assert srv.rid("/CollY/") == c2
    assert srv.members("/CollY/") == {"x.gif": r3, "y.gif": r3}
    assert srv.get("/CollY/y.gif").content in (b"R1", b"R2")


def test_E6_copy_of_two_bindings_to_one_leaf(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.bind_ok("/CollX/", "y.gif", "/CollX/x.gif")
    r1 = srv.rid("/CollX/x.gif")
    r = srv.request("COPY", "/CollX", {"Depth": "infinity", "Destination": "/CollY"})
    assert r.status_code == 201
    members = srv.members("/CollY/")
    assert set(members) == {"x.gif", "y.gif"}
    assert members["x.gif"] == members["y.gif"] != r1  # one new resource R2, bound twice
    assert sorted(srv.parents("/CollY/x.gif")) == [("/CollY/", "x.gif"), ("/CollY/", "y.gif")]
    assert srv.members("/") == {"CollX": srv.rid("/CollX/"), "CollY": srv.rid("/CollY/")}


def test_E7_delete_removes_one_binding(srv):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/x", b"R")
    srv.bind_ok("/b/", "y", "/a/x")
    rid = srv.rid("/a/x")
    assert srv.delete("/a/x").status_code == 204
    assert srv.rid("/b/y") == rid  # "/b/y continues to identify R" (the RFC says /y/b)
    # DELETE /a where /a/.../x and /b/.../y reach the same collection C.
    srv.mkcol("/a/m")
    srv.mkcol("/a/m/C")
    srv.put("/a/m/C/inside", b"i")
    srv.mkcol("/b/n")
    srv.bind_ok("/b/n/", "C", "/a/m/C/")
    members = srv.members("/b/n/C/")
    assert srv.delete("/a/").status_code == 204
    assert srv.members("/b/n/C/") == members


@pytest.mark.parametrize("kind", ["leaf", "collection"])
def test_E8_simple_move(srv, kind):
    srv.mkcol("/c")
    if kind == "leaf":
        srv.put("/c/uri-1", b"R")
    else:
        srv.mkcol("/c/uri-1")
        srv.put("/c/uri-1/member", b"m")
    srv.bind_ok("/c/", "uri-2", "/c/uri-1")
    srv.bind_ok("/c/", "uri-3", "/c/uri-1")
    rid = srv.rid("/c/uri-1")
    assert srv.move("/c/uri-3", "/c/uri-x").status_code == 201
    assert srv.members("/c/") == {"uri-1": rid, "uri-2": rid, "uri-x": rid}
    if kind == "collection":
        assert srv.get("/c/uri-3/member").status_code == 404
        assert srv.get("/c/uri-x/member").content == b"m"


def test_E9_move_causing_a_bind_loop(make_srv):
    srv = make_srv()
    srv.mkcol("/CollW")
    srv.mkcol("/CollX")
    srv.bind_ok("/CollW/", "CollY", "/CollX/")
    c1, c2 = srv.rid("/CollW/"), srv.rid("/CollX/")
    r = srv.request("MOVE", "/CollW", {"Host": "example.com", "Destination": "/CollX/CollZ"})
    assert r.status_code == 201
    assert srv.members("/") == {"CollX": c2}
    assert srv.members("/CollX/") == {"CollZ": c1}
    assert srv.members("/CollX/CollZ/") == {"CollY": c2}  # loop C2 -> C1 -> C2
    tree = srv.paths("/")
    assert tree["/CollX/CollZ/CollY/"].is_208
    # A loop-refusing server fails this MOVE.
    refusing = make_srv(allow_loops=False)
    refusing.mkcol("/CollW")
    refusing.mkcol("/CollX")
    refusing.bind_ok("/CollW/", "CollY", "/CollX/")
    r = refusing.request("MOVE", "/CollW", {"Destination": "/CollX/CollZ"})
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert set(refusing.members("/")) == {"CollW", "CollX"}


def test_E10_parent_set(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.bind_ok("/CollX/", "y.gif", "/CollX/x.gif")
    srv.bind_ok("/", "CollY", "/CollX/")
    entries = srv.parents("/CollX/x.gif")
    assert sorted(s for _, s in entries) == ["x.gif", "y.gif"]
    hrefs = {h for h, _ in entries}
    assert len(hrefs) == 1  # C1 listed under one of its URIs only
    assert hrefs.pop().rstrip("/") in ("/CollX", "/CollY")


def test_E11_bind(srv):
    srv.mkcol("/CollX")
    srv.mkcol("/CollY")
    srv.put("/CollX/foo.html", b"<p>foo</p>")
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:bind xmlns:D="DAV:">\n'
        b"   <D:segment>bar.html</D:segment>\n"
        b"   <D:href>http://www.example.com/CollX/foo.html</D:href>\n"
        b"</D:bind>\n"
    )
    r = srv.request("BIND", "/CollY", {"Content-Type": fx.XML_CT}, body)
    assert r.status_code == 201
    assert r.headers["location"] == "http://www.example.com/CollY/bar.html"
    assert srv.rid("/CollY/bar.html") == srv.rid("/CollX/foo.html")


def test_E12_unbind(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/foo.html", b"<p>foo</p>")
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:unbind xmlns:D="DAV:">\n   <D:segment>foo.html</D:segment>\n</D:unbind>\n'
    )
    r = srv.request("UNBIND", "/CollX", {"Content-Type": fx.XML_CT}, body)
    assert r.status_code in (200, 204)
    assert srv.get("/CollX/foo.html").status_code == 404


def test_E13_rebind(srv):
    srv.mkcol("/CollX")
    srv.mkcol("/CollY")
    srv.put("/CollY/bar.html", b"<p>bar</p>")
    rid = srv.rid("/CollY/bar.html")
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:rebind xmlns:D="DAV:">\n'
        b"   <D:segment>foo.html</D:segment>\n"
        b"   <D:href>http://www.example.com/CollY/bar.html</D:href>\n"
        b"</D:rebind>\n"
    )
    r = srv.request("REBIND", "/CollX", {"Content-Type": fx.XML_CT}, body)
    assert r.status_code == 201  # the marshalling rule, not the example's 200
    assert srv.rid("/CollX/foo.html") == rid
    assert srv.get("/CollY/bar.html").status_code == 404


def test_E14_rebind_with_locks_and_loops(srv):
    srv.mkcol("/CollW")
    srv.mkcol("/CollW/CollX")
    srv.mkcol("/CollW/CollY")
    srv.put("/CollW/CollY/y.gif", b"R2")
    srv.bind_ok("/CollW/CollY/", "CollZ", "/CollW/")
    c1, c2, c3 = srv.rid("/CollW/"), srv.rid("/CollW/CollX/"), srv.rid("/CollW/CollY/")
    r2 = srv.rid("/CollW/CollY/y.gif")
    l1 = srv.lock("/CollW/")
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:rebind xmlns:D="DAV:">\n'
        b"   <D:segment>CollA</D:segment>\n"
        b"   <D:href>/CollW/CollY/CollZ</D:href>\n"
        b"</D:rebind>\n"
    )
    hdrs = {"Content-Type": fx.XML_CT, "If": f"(<{l1}>)"}
    r = srv.request("REBIND", "/CollW/CollX", hdrs, body)
    assert r.status_code == 201
    assert srv.members("/CollW/") == {"CollX": c2, "CollY": c3}
    assert srv.members("/CollW/CollX/") == {"CollA": c1}
    assert srv.members("/CollW/CollY/") == {"y.gif": r2}
    disc = srv.one("/CollW/", "lockdiscovery").prop("lockdiscovery")
    (active,) = disc.findall(D + "activelock")
    assert active.findtext(f"{D}locktoken/{D}href") == l1
    assert active.findtext(D + "depth") == "infinity"
    assert srv.request("PUT", "/CollW/CollY/y.gif", {}, b"x").status_code == 423


def test_E15_propfind_by_a_bind_aware_client(srv):
    fx.e15_state(srv)
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:propfind xmlns:D="DAV:">\n'
        b"  <D:prop>\n    <D:displayname/>\n    <D:resource-id/>\n  </D:prop>\n"
        b"</D:propfind>\n"
    )
    r = srv.request(
        "PROPFIND", "/Coll/",
        {"Depth": "infinity", "DAV": "bind", "Content-Type": fx.XML_CT}, body,
    )  # fmt: skip
    assert r.status_code == 207
    assert r.headers["content-type"].startswith("application/xml")
    resps = fx.parse_multistatus(r.content)
    assert len(resps) == 3
    by_path = {x.path: x for x in resps}
    bar_href = "/Coll/Bar/" if "/Coll/Bar/" in by_path else "/Coll/Bar"  # either form
    assert set(by_path) == {"/Coll/", "/Coll/Foo", bar_href}
    coll = by_path["/Coll/"]
    foo = by_path["/Coll/Foo"]
    bar = by_path[bar_href]
    for x, name, status in ((coll, "Loop Demo", 200), (foo, "Bird Inventory", 200),
                            (bar, "Loop Demo", 208)):  # fmt: skip
        assert x.status is None
        (ps,) = x.propstats  # one propstat: both properties found
        assert ps.status == status
        assert set(ps.props) == {D + "displayname", D + "resource-id"}
        assert ps.props[D + "displayname"].text == name
    assert bar.rid == coll.rid != foo.rid
    assert fx.UUID_RE.match(coll.rid)


def test_E16_propfind_by_a_non_bind_aware_client(srv):
    fx.e15_state(srv)
    body = (
        b'<?xml version="1.0" encoding="utf-8" ?>\n'
        b'<D:propfind xmlns:D="DAV:">\n  <D:prop> <D:displayname/> </D:prop>\n</D:propfind>\n'
    )
    r = srv.request("PROPFIND", "/Coll/", {"Depth": "infinity", "Content-Type": fx.XML_CT}, body)
    assert r.status_code == 508
    assert r.reason_phrase == "Loop Detected"
    assert b"multistatus" not in r.content


def test_E17_locking_and_multiple_bindings(srv):
    srv.mkcol("/CollX")
    srv.mkcol("/CollY")
    srv.put("/CollX/test", b"R")
    srv.bind_ok("/CollY/", "test", "/CollX/test")
    r = srv.request("LOCK", "/CollX/test", {"Depth": "0", "Content-Type": fx.XML_CT}, fx.lockinfo())
    assert r.status_code == 200
    token = r.headers["lock-token"].strip("<>")
    root = fx.ET.fromstring(r.content).findtext(f".//{D}lockroot/{D}href")
    assert root is not None and root.rstrip("/").endswith("/CollX/test")
    # Token needed: changing R through either URL; unmapping /CollX/test.
    assert srv.request("PUT", "/CollY/test", {}, b"x").status_code == 423
    assert srv.proppatch("/CollX/test", fx.displayname_patch("t")).status_code == 423
    assert srv.unbind("/CollX/", "test").status_code == 423
    assert srv.delete("/CollX/test").status_code == 423
    assert srv.move("/CollX/test", "/elsewhere").status_code == 423
    # Not needed: unmapping /CollY/test, in any way.
    assert srv.move("/CollY/test", "/moved").status_code == 201
    assert srv.rebind("/CollY/", "test", "/moved").status_code == 201
    assert srv.unbind("/CollY/", "test").status_code == 204
    srv.bind_ok("/CollY/", "test", "/CollX/test")
    assert srv.unbind("/", "CollY").status_code == 204
    # UNLOCK may name any URI of R.
    srv.mkcol("/CollY")
    srv.bind_ok("/CollY/", "test", "/CollX/test")
    assert srv.request("UNLOCK", "/CollY/test", {"Lock-Token": f"<{token}>"}).status_code == 204
    assert srv.request("PUT", "/CollY/test", {}, b"x").status_code == 204
