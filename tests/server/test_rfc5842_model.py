"""RFC 5842 §2–§3, §8, §10–§13: the binding model, resource identity, properties, discovery.

Spec rows (docs/protocol-decisions.md §4): B-2-*, B-2.1-1, B-2.1.1-2, B-2.2-1, B-2.6-1,
B-2.7-*, B-2.8-1, B-3-1, B-3.1-*, B-3.2-*, B-8.1-*, B-8-2, B-10-*, B-11-1, B-12-1,
B-12-3, B-12-4, B-13-1.  Each test name carries the row it checks.

Rows with no observable behaviour in davbind today, tested only for the part one can see:
- B-10-1/B-10-2/B-10-3: there is no ACL method, no DAV:acl and no per-user privilege;
  the observable parts are that nothing path-dependent exists (DAV:acl is absent through
  every binding), that the resource's properties travel with BIND/REBIND, and that the
  one authorisation switch there is (anonymous writes off) refuses BIND/UNBIND/REBIND.
- B-11-1: versioning is out of scope; the observable part is that versioning methods are
  refused and not advertised.
- B-12-1: cross-server bindings are never supported, so the privacy note is moot; checked
  through the refusal.
- B-12-4: without per-collection read privileges every parent is visible; the filter has
  nothing to hide, so the test checks that parent-set lists every binding.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import rfc5842_fixtures as fx

D = fx.D
UUID4 = fx.UUID_RE


@pytest.fixture
def srv(tmp_path):
    with fx.open_srv(tmp_path) as s:
        yield s


# --------------------------------------------------------------------------- §2 model


def test_B_2_1_every_creation_adds_one_binding_and_bind_is_indistinguishable(srv):
    srv.mkcol("/c")  # MKCOL
    srv.put("/c/f", b"put")  # PUT
    assert srv.copy("/c/f", "/c/g").status_code == 201  # COPY
    for url in ("/c/", "/c/f", "/c/g"):
        assert len(srv.parents(url)) == 1, url
    # BIND adds a second binding; after removing the *first* one, the BIND-made binding
    # behaves exactly like an original one (no primary binding).
    srv.mkcol("/d")
    rid = srv.rid("/c/f")
    assert srv.bind("/d/", "f", "/c/f").status_code == 201
    assert sorted(srv.parents("/c/f")) == [("/c/", "f"), ("/d/", "f")]
    assert srv.delete("/c/f").status_code == 204
    assert srv.rid("/d/f") == rid
    assert srv.get("/d/f").content == b"put"
    srv.put("/d/f", b"updated")
    assert srv.move("/d/f", "/c/f").status_code == 201
    assert srv.rid("/c/f") == rid
    assert srv.parents("/c/f") == [("/c/", "f")]


def test_B_2_2_removing_one_binding_leaves_the_others(srv):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/x", b"R")
    srv.bind_ok("/b/", "y", "/a/x")
    srv.bind_ok("/b/", "z", "/a/x")
    rid = srv.rid("/a/x")
    assert srv.delete("/a/x").status_code == 204
    assert srv.get("/a/x").status_code == 404
    assert srv.members("/b/") == {"y": rid, "z": rid}
    assert srv.move("/b/y", "/a/moved").status_code == 201
    assert srv.members("/b/") == {"z": rid}
    assert srv.rid("/a/moved") == rid


def test_B_2_3_storage_kept_while_a_binding_remains(srv):
    content = b"only copy of these bytes"
    srv.mkcol("/a")
    srv.put("/a/x", content)
    srv.bind_ok("/", "alias", "/a/x")
    assert len(srv.stored()) == 1
    assert srv.delete("/a/").status_code == 204
    assert srv.get("/alias").content == content
    assert len(srv.stored()) == 1
    assert srv.delete("/alias").status_code == 204
    assert srv.stored() == []


def test_B_2_4_binding_integrity_across_unrelated_changes(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/c")
    srv.put("/a/c/f", b"f")
    srv.mkcol("/b")
    srv.bind_ok("/b/", "c2", "/a/c/")
    rid_c = srv.rid("/a/c/")
    rid_f = srv.rid("/a/c/f")
    # Moves, copies, renames and deletes of other bindings never retarget /b/c2.
    assert srv.move("/a/", "/a2/").status_code == 201
    assert srv.copy("/a2/c/", "/copy/").status_code == 201
    assert srv.rebind("/", "a3", "/a2").status_code == 201
    srv.put("/a3/c/g", b"g")
    assert srv.delete("/a3/").status_code == 204
    assert srv.rid("/b/c2/") == rid_c
    assert srv.members("/b/c2/") == {"f": rid_f, "g": srv.rid("/b/c2/g")}
    assert srv.rid("/copy/") != rid_c


def test_B_2_5_no_property_inherited_from_the_access_path(srv):
    fx.e1_state(srv)
    r = srv.proppatch("/CollX/", fx.dead_patch("colour", "red"))
    assert r.status_code == 207 and " 200 " in r.text
    # The collection's property is its own: members do not inherit it by path.
    member = srv.one("/CollX/x.gif", "{urn:x-test}colour")
    assert member.prop_status("{urn:x-test}colour") == 404
    # A member's property is the same through every path to it.
    r = srv.proppatch("/CollY/x.gif", fx.dead_patch("colour", "blue"))
    assert r.status_code == 207 and " 200 " in r.text
    for url in ("/CollX/x.gif", "/CollY/x.gif"):
        el = srv.one(url, "{urn:x-test}colour").prop("{urn:x-test}colour")
        assert el is not None and el.text == "blue", url
    # ... and the collection's own property is the same through both of its paths.
    for url in ("/CollX/", "/CollY/"):
        el = srv.one(url, "{urn:x-test}colour").prop("{urn:x-test}colour")
        assert el is not None and el.text == "red", url


def test_B_2_1_1_binding_a_collection_adds_mappings_but_no_member_bindings(srv):
    fx.e1_state(srv)
    for url in ("/CollX/x.gif", "/CollY/x.gif"):
        assert srv.parents(url) == [("/CollX/", "x.gif")], url
    assert sorted(srv.parents("/CollX/")) == [("/", "CollX"), ("/", "CollY")]


def test_B_2_1_1_2_loops_optional_cycle_allowed_when_refused(make_srv):
    refusing = make_srv(allow_loops=False)
    refusing.mkcol("/a")
    refusing.mkcol("/a/b")
    r = refusing.bind("/a/b/", "up", "/a/")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert refusing.members("/a/b/") == {}
    allowing = make_srv()  # the default configuration supports loops
    allowing.mkcol("/a")
    allowing.mkcol("/a/b")
    assert allowing.bind("/a/b/", "up", "/a/").status_code == 201


def test_B_2_2_1_every_mapping_of_the_collection_reaches_the_new_member(srv):
    # RFC 5842 §2.2: C mapped by /A/1/ and /A/one/; BIND foo.html -> R into C.
    srv.mkcol("/A")
    srv.mkcol("/A/1")
    srv.bind_ok("/A/", "one", "/A/1/")
    srv.mkcol("/store")
    srv.put("/store/r.html", b"<p>R</p>")
    rid = srv.rid("/store/r.html")
    srv.bind_ok("/A/1/", "foo.html", "/store/r.html")
    assert srv.rid("/A/1/foo.html") == rid
    assert srv.rid("/A/one/foo.html") == rid
    # A binding of C into C itself: infinitely many URI mappings.
    srv.bind_ok("/A/1/", "myself", "/A/1/")
    for depth in (1, 2, 5, 20):
        url = "/A/1/" + "myself/" * depth + "foo.html"
        assert srv.rid(url) == rid, url
        assert srv.get(url).content == b"<p>R</p>"
    assert srv.rid("/A/one/myself/myself/") == srv.rid("/A/1/")


def test_B_2_6_1_dead_props_and_validators_independent_of_path(srv):
    fx.e1_state(srv)
    srv.set_displayname("/CollY/y.jpg", "Photo")
    names = ("displayname", "getetag", "getlastmodified", "getcontentlength", "resource-id")
    a = srv.one("/CollX/y.jpg", *names)
    b = srv.one("/CollY/y.jpg", *names)
    for name in names:
        ea, eb = a.prop(name), b.prop(name)
        assert ea is not None and eb is not None, name
        assert fx.ET.tostring(ea) == fx.ET.tostring(eb), name
    assert srv.get("/CollX/y.jpg").headers["etag"] == srv.get("/CollY/y.jpg").headers["etag"]


# --------------------------------------------------------------------------- identity


def test_B_2_7_1_every_resource_has_a_resource_id(srv):
    fx.e1_state(srv)
    srv.bind_ok("/CollX/", "loop", "/CollX/")
    for resp in srv.paths("/").values():
        assert resp.rid, resp.href


def test_B_2_7_2_same_id_through_every_binding_distinct_across_resources(srv):
    fx.e1_state(srv)
    srv.put("/CollX/same-content.gif", b"GIF89a-R1")  # same bytes, other resource
    tree = srv.paths("/", bind_aware=False)  # a diamond: enumerated under both paths
    assert tree["/CollX/x.gif"].rid == tree["/CollY/x.gif"].rid
    assert tree["/CollX/"].rid == tree["/CollY/"].rid
    resources = {
        "/": tree["/"].rid,
        "C1": tree["/CollX/"].rid,
        "R1": tree["/CollX/x.gif"].rid,
        "R2": tree["/CollX/y.jpg"].rid,
        "R3": tree["/CollX/same-content.gif"].rid,
    }
    assert len(set(resources.values())) == len(resources)


def test_B_2_7_3_id_never_changes_and_is_never_reused(srv):
    seen: set[str] = set()
    for _ in range(5):
        srv.put("/f", b"same bytes every time")
        rid = srv.rid("/f")
        srv.put("/f", b"updated")
        assert srv.rid("/f") == rid  # never changes while the resource lives
        assert rid not in seen  # a new resource at the same URL never gets an old id
        seen.add(rid)
        assert srv.delete("/f").status_code == 204
    srv.mkcol("/c")
    assert srv.rid("/c/") not in seen


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("put", id="B-2.7-4-put-unmapped"),
        pytest.param("mkcol", id="B-2.7-4-mkcol"),
        pytest.param("copy", id="B-2.7-4-copy-new-target"),
        pytest.param("lock", id="B-2.7-4-lock-unmapped"),
    ],
)
def test_B_2_7_4_creation_mints_a_new_id(srv, how):
    srv.put("/src", b"source")
    before = {r.rid for r in srv.paths("/").values()}
    if how == "put":
        srv.put("/new", b"x")
    elif how == "mkcol":
        srv.mkcol("/new")
    elif how == "copy":
        assert srv.copy("/src", "/new").status_code == 201
    else:
        r = srv.request("LOCK", "/new", {"Content-Type": fx.XML_CT, "Depth": "0"}, fx.lockinfo())
        assert r.status_code == 201, r.text
    new = srv.rid("/new")
    assert UUID4.match(new)
    assert new not in before


@pytest.mark.parametrize(
    "how",
    [
        pytest.param("put", id="B-2.7-5-put-update"),
        pytest.param("copy", id="B-2.7-5-copy-update"),
        pytest.param("proppatch", id="B-2.7-5-proppatch"),
        pytest.param("move", id="B-2.7-5-move"),
        pytest.param("rebind", id="B-2.7-5-rebind"),
        pytest.param("bind", id="B-2.7-5-bind"),
    ],
)
def test_B_2_7_5_changes_keep_the_id(srv, how):
    srv.mkcol("/d")
    srv.put("/f", b"one")
    srv.put("/other", b"two")
    rid = srv.rid("/f")
    url = "/f"
    if how == "put":
        srv.put("/f", b"changed")
    elif how == "copy":
        assert srv.copy("/other", "/f").status_code == 204
    elif how == "proppatch":
        srv.set_displayname("/f", "renamed")
    elif how == "move":
        assert srv.move("/f", "/d/f").status_code == 201
        url = "/d/f"
    elif how == "rebind":
        assert srv.rebind("/d/", "g", "/f").status_code == 201
        url = "/d/g"
    else:
        srv.bind_ok("/d/", "h", "/f")
        url = "/d/h"
    assert srv.rid(url) == rid


def test_B_2_8_1_parent_set_lists_every_binding(srv):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/x", b"R")
    srv.bind_ok("/a/", "x2", "/a/x")
    srv.bind_ok("/b/", "y", "/a/x")
    expected = [("/a/", "x"), ("/a/", "x2"), ("/b/", "y")]
    for url in ("/a/x", "/a/x2", "/b/y"):
        assert sorted(srv.parents(url)) == expected, url
    assert srv.unbind("/a/", "x2").status_code == 204
    assert sorted(srv.parents("/b/y")) == [("/a/", "x"), ("/b/", "y")]


# --------------------------------------------------------------------------- §3 properties


def test_B_3_1_allprop_omits_resource_id_and_parent_set(srv):
    srv.put("/f", b"x")
    r = srv.propfind("/f", "0", fx.ALLPROP)
    assert r.status_code == 207
    (resp,) = fx.parse_multistatus(r.content)
    names = {n for ps in resp.propstats for n in ps.props}
    assert D + "getetag" in names
    assert D + "resource-id" not in names
    assert D + "parent-set" not in names


def test_B_3_1_allprop_include_and_named_prop_return_them(srv):
    srv.put("/f", b"x")
    body = (
        b'<D:propfind xmlns:D="DAV:"><D:allprop/>'
        b"<D:include><D:resource-id/><D:parent-set/></D:include></D:propfind>"
    )
    r = srv.propfind("/f", "0", body)
    (resp,) = fx.parse_multistatus(r.content)
    assert resp.prop("getetag") is not None
    assert resp.rid == srv.rid("/f")
    assert fx.parent_set(resp.prop("parent-set")) == [("/", "f")]


def test_B_3_1_propname_lists_both(srv):
    srv.mkcol("/c")
    for url in ("/", "/c/"):
        (resp,) = fx.parse_multistatus(srv.propfind(url, "0", fx.PROPNAME).content)
        names = {n for ps in resp.propstats for n in ps.props}
        assert {D + "resource-id", D + "parent-set"} <= names, url


def test_B_3_1_1_resource_id_is_an_href_with_a_urn_uuid_v4(srv):
    srv.mkcol("/c")
    srv.put("/c/f", b"x")
    for url in ("/", "/c/", "/c/f"):
        el = srv.one(url, "resource-id").prop("resource-id")
        assert el is not None
        children = list(el)
        assert [c.tag for c in children] == [D + "href"]
        assert UUID4.match((children[0].text or "").strip()), url


@pytest.mark.parametrize("prop", ["resource-id", "parent-set"])
@pytest.mark.parametrize("op", ["set", "remove"])
def test_B_3_1_2_protected_live_properties(srv, prop, op):
    srv.put("/f", b"x")
    rid = srv.rid("/f")
    value = "<D:href>urn:uuid:00000000-0000-4000-8000-000000000000</D:href>"
    inner = f"<D:{prop}>{value}</D:{prop}>" if op == "set" else f"<D:{prop}/>"
    body = (
        f'<D:propertyupdate xmlns:D="DAV:"><D:{op}><D:prop>{inner}</D:prop></D:{op}>'
        "</D:propertyupdate>"
    ).encode()
    r = srv.proppatch("/f", body)
    assert r.status_code == 207
    (resp,) = fx.parse_multistatus(r.content)
    (ps,) = resp.propstats
    assert ps.status == 403
    assert ps.error == ["cannot-modify-protected-property"]
    assert srv.rid("/f") == rid


def test_B_3_2_1_parent_set_structure_and_empty_on_root(srv):
    srv.mkcol("/c")
    srv.put("/c/f", b"x")
    el = srv.one("/c/f", "parent-set").prop("parent-set")
    assert el is not None
    (parent,) = list(el)
    assert parent.tag == D + "parent"
    assert [c.tag for c in parent] == [D + "href", D + "segment"]
    assert fx.parent_set(el) == [("/c/", "f")]
    root = srv.one("/", "parent-set").prop("parent-set")
    assert root is not None and list(root) == []


def test_B_3_2_2_one_entry_per_binding_one_href_per_parent(srv):
    # E10 state: Root{CollX->C1, CollY->C1}; C1{x.gif->R1, y.gif->R1}.
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.bind_ok("/CollX/", "y.gif", "/CollX/x.gif")
    srv.bind_ok("/", "CollY", "/CollX/")
    srv.bind_ok("/", "CollZ", "/CollX/")
    for url in ("/CollX/x.gif", "/CollY/y.gif", "/CollZ/x.gif"):
        entries = srv.parents(url)
        assert len(entries) == 2, (url, entries)  # two bindings, not 2 x 3 mappings
        hrefs = {h for h, _ in entries}
        assert hrefs == {"/CollX/"}, url  # one (canonical, A-22) href for C1
        assert sorted(s for _, s in entries) == ["x.gif", "y.gif"]


def test_B_3_2_3_hrefs_and_segments_percent_encoded(srv):
    srv.mkcol("/a%20dir")
    srv.put("/a%20dir/r%C3%A9sum%C3%A9%20v1.txt", b"cv")
    srv.mkcol("/b")
    # Accepted both encoded and (leniently) raw in a BIND body.
    srv.bind_ok("/b/", "copy%20one.txt", "/a%20dir/r%C3%A9sum%C3%A9%20v1.txt")
    srv.bind_ok("/b/", "copy two.txt", "/a%20dir/r%C3%A9sum%C3%A9%20v1.txt")
    entries = sorted(srv.parents("/b/copy%20one.txt"))
    assert entries == [
        ("/a%20dir/", "r%C3%A9sum%C3%A9%20v1.txt"),
        ("/b/", "copy%20one.txt"),
        ("/b/", "copy%20two.txt"),
    ]


# --------------------------------------------------------------------------- §8 discovery


@pytest.mark.parametrize("url", ["/", "/c/", "/c/f", "/c/loop/f", "/unmapped"])
def test_B_8_1_1_options_advertises_bind_on_any_resource(srv, url):
    srv.mkcol("/c")
    srv.put("/c/f", b"x")
    srv.bind_ok("/c/", "loop", "/c/")
    r = srv.request("OPTIONS", url)
    assert r.status_code == 200
    classes = [c.strip() for c in r.headers["dav"].split(",")]
    assert "bind" in classes
    assert "1" in classes


def test_B_8_1_2_advertised_bind_features_all_present(srv):
    """What "bind" promises (MUST/REQUIRED rows): resource-id everywhere, the three
    methods on collections, 208 for a bind-aware client, 508 otherwise."""
    assert "bind" in srv.request("OPTIONS", "/").headers["dav"]
    srv.mkcol("/c")
    srv.put("/c/f", b"x")
    assert srv.bind("/c/", "g", "/c/f").status_code == 201
    assert srv.rebind("/c/", "h", "/c/g").status_code == 201
    assert srv.unbind("/c/", "h").status_code == 204
    srv.bind_ok("/c/", "loop", "/c/")
    tree = srv.paths("/", bind_aware=True)
    assert all(resp.rid for resp in tree.values())
    assert tree["/c/loop/"].is_208
    assert srv.propfind("/", "infinity", fx.prop_body("resourcetype")).status_code == 508


@pytest.mark.parametrize(
    ("setup", "url", "listed"),
    [
        pytest.param("coll", "/c/", True, id="B-8-2-collection"),
        pytest.param("coll", "/", True, id="B-8-2-root"),
        pytest.param("file", "/f", False, id="B-8-2-non-collection"),
        pytest.param("none", "/missing", False, id="B-8-2-unmapped"),
    ],
)
def test_B_8_2_allow_lists_binding_methods_on_collections_only(srv, setup, url, listed):
    if setup == "coll":
        srv.mkcol("/c")
    if setup == "file":
        srv.put("/f", b"x")
    allow = {m.strip() for m in srv.request("OPTIONS", url).headers["allow"].split(",")}
    assert ({"BIND", "UNBIND", "REBIND"} <= allow) is listed
    assert not ({"BIND", "UNBIND", "REBIND"} & allow) or listed


# --------------------------------------------------------------------------- §10–§13


def test_B_10_1_access_properties_are_per_resource(srv):
    # No RFC 3744 ACL support: nothing path-dependent to see, and it is not advertised.
    fx.e1_state(srv)
    assert "access-control" not in srv.request("OPTIONS", "/").headers["dav"]
    statuses = {
        url: srv.one(url, "acl", "current-user-privilege-set").prop_status("acl")
        for url in ("/CollX/x.gif", "/CollY/x.gif")
    }
    assert set(statuses.values()) == {404}


@pytest.mark.parametrize("method", ["BIND", "REBIND"])
def test_B_10_2_properties_move_with_the_resource_on_bind_and_rebind(srv, method):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/f", b"x")
    r = srv.proppatch("/a/f", fx.dead_patch("owner-note", "mine"))
    assert r.status_code == 207 and " 200 " in r.text
    if method == "BIND":
        srv.bind_ok("/b/", "f", "/a/f")
    else:
        assert srv.rebind("/b/", "f", "/a/f").status_code == 201
    el = srv.one("/b/f", "{urn:x-test}owner-note").prop("{urn:x-test}owner-note")
    assert el is not None and el.text == "mine"


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("BIND", "/c/", fx.bind_body("g", "/c/f")),
        ("UNBIND", "/c/", fx.unbind_body("f")),
        ("REBIND", "/c/", fx.rebind_body("g", "/c/f")),
    ],
)
def test_B_10_3_binding_methods_need_write_access(make_srv, method, url, body):
    srv = make_srv()
    srv.mkcol("/c")
    srv.put("/c/f", b"x")
    rid = srv.rid("/c/f")
    readonly = fx.Srv(Path(srv.settings.data_dir), allow_anonymous_write=False)
    try:
        r = readonly.request(method, url, {"Content-Type": fx.XML_CT}, body)
        assert r.status_code == 403
        assert readonly.members("/c/") == {"f": rid}
    finally:
        readonly.close()


@pytest.mark.parametrize("method", ["CHECKIN", "CHECKOUT", "UNCHECKOUT", "UPDATE"])
def test_B_11_1_versioning_out_of_scope(srv, method):
    srv.mkcol("/ws1")
    r = srv.request(method, "/ws1/")
    assert r.status_code in (405, 501)
    classes = {c.strip() for c in srv.request("OPTIONS", "/").headers["dav"].split(",")}
    assert "version-control" not in classes


def test_B_12_1_cross_server_bindings_unsupported(srv):
    srv.mkcol("/c")
    r = srv.bind("/c/", "x", "http://attacker.example.net/collect")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cross-server-binding"]


def test_B_12_3_bindings_do_not_duplicate_bytes(srv):
    srv.mkcol("/a")
    srv.put("/a/big", b"x" * 100_000)
    assert len(srv.blob_files()) == 1
    for i in range(5):
        srv.bind_ok("/", f"alias{i}", "/a/big")
    srv.bind_ok("/", "tree", "/a/")
    assert len(srv.blob_files()) == 1
    total = sum(p.stat().st_size for p in srv.blob_files())
    assert total == 100_000


def test_B_12_4_parent_set_shows_every_parent_visible_to_the_client(srv):
    fx.e1_state(srv)
    srv.mkcol("/private")
    srv.bind_ok("/private/", "x.gif", "/CollX/x.gif")
    assert sorted(srv.parents("/CollY/x.gif")) == [("/CollX/", "x.gif"), ("/private/", "x.gif")]


def test_B_13_1_utf8_segments_and_percent_encoded_hrefs(srv):
    srv.mkcol("/%E6%97%A5%E6%9C%AC")  # "日本"
    srv.put("/%E6%97%A5%E6%9C%AC/%C3%BCber.txt", b"u")
    srv.mkcol("/b")
    r = srv.bind("/b/", "gr\u00fc\u00dfe", "/%E6%97%A5%E6%9C%AC/%C3%BCber.txt")  # raw UTF-8
    assert r.status_code == 201
    assert r.headers["location"] == f"{fx.BASE}/b/gr%C3%BC%C3%9Fe"
    hrefs = [resp.href for resp in srv.responses("/", "infinity", bind_aware=True)]
    assert "/b/gr%C3%BC%C3%9Fe" in hrefs
    assert "/%E6%97%A5%E6%9C%AC/%C3%BCber.txt" in hrefs
    assert all(h.isascii() for h in hrefs)
    assert srv.get("/b/gr%C3%BC%C3%9Fe").content == b"u"
    assert ("/b/", "gr%C3%BC%C3%9Fe") in srv.parents("/b/gr%C3%BC%C3%9Fe")
