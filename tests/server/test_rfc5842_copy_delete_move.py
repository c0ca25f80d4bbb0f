"""COPY, DELETE and MOVE over bindings (RFC 5842 §2.3–§2.5; decision A-3, A-4, A-6, A-12,
A-15, A-24).

Spec rows: B-2.3-1 … B-2.3-7, B-2.4-1 … B-2.4-3, B-2.5-1 … B-2.5-4.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import rfc5842_fixtures as fx


@pytest.fixture
def srv(tmp_path):
    with fx.open_srv(tmp_path) as s:
        yield s


# --------------------------------------------------------------------------- COPY


def test_B_2_3_1_copy_adds_one_binding_at_the_destination(srv):
    srv.mkcol("/src")
    srv.put("/src/f", b"f")
    srv.mkcol("/dst")
    r = srv.copy("/src/f", "/dst/g")
    assert r.status_code == 201
    assert srv.parents("/dst/g") == [("/dst/", "g")]
    assert srv.parents("/src/f") == [("/src/", "f")]
    assert srv.get("/dst/g").content == b"f"


def test_B_2_3_2_depth_0_copy_of_a_collection_copies_no_bindings(srv):
    srv.mkcol("/c")
    srv.put("/c/f", b"f")
    srv.mkcol("/c/sub")
    r = srv.proppatch("/c/", fx.dead_patch("tag", "t"))
    assert r.status_code == 207
    assert srv.copy("/c/", "/c0/", Depth="0").status_code == 201
    assert srv.members("/c0/") == {}
    assert srv.rid("/c0/") != srv.rid("/c/")
    el = srv.one("/c0/", "{urn:x-test}tag").prop("{urn:x-test}tag")
    assert el is not None and el.text == "t"
    assert set(srv.members("/c/")) == {"f", "sub"}


def test_B_2_3_3_copy_onto_an_existing_leaf_updates_it_in_place(srv):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/target", b"old")
    srv.bind_ok("/b/", "alias", "/a/target")
    srv.put("/new", b"new content")
    rid = srv.rid("/a/target")
    r = srv.copy("/new", "/a/target")
    assert r.status_code == 204
    assert srv.rid("/a/target") == srv.rid("/b/alias") == rid
    assert srv.get("/b/alias").content == b"new content"
    assert sorted(srv.parents("/b/alias")) == [("/a/", "target"), ("/b/", "alias")]


def test_B_2_3_3_copy_onto_an_existing_collection_updates_it_in_place(srv):
    srv.mkcol("/src")
    srv.put("/src/f", b"f from src")
    srv.mkcol("/dst")
    srv.put("/dst/f", b"old f")
    srv.put("/dst/extra", b"extra")
    srv.bind_ok("/", "dst-alias", "/dst/")
    rid_dst = srv.rid("/dst/")
    rid_f = srv.rid("/dst/f")
    assert srv.copy("/src/", "/dst/").status_code == 204
    assert srv.rid("/dst-alias/") == rid_dst
    # Membership equals the source's (RFC 4918 §9.8.4): extra is unbound, f updated.
    assert srv.members("/dst-alias/") == {"f": rid_f}
    assert srv.get("/dst-alias/f").content == b"f from src"


def test_B_2_3_3_kind_change_replaces_the_binding(srv):
    srv.mkcol("/src")
    srv.put("/dst", b"a file")
    srv.bind_ok("/", "keep", "/dst")
    rid_file = srv.rid("/dst")
    assert srv.copy("/src/", "/dst").status_code == 204
    assert srv.rid("/dst/") != rid_file  # a collection cannot be updated from a file
    assert srv.rid("/keep") == rid_file  # the old resource survives via its other binding


def test_B_2_3_4_several_sources_update_one_destination(srv):
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"R1")
    srv.put("/CollX/y.gif", b"R2")
    srv.mkcol("/CollY")
    srv.put("/CollY/x.gif", b"R3")
    srv.bind_ok("/CollY/", "y.gif", "/CollY/x.gif")
    r3 = srv.rid("/CollY/x.gif")
    assert srv.copy("/CollX/", "/CollY/").status_code == 204
    assert srv.members("/CollY/") == {"x.gif": r3, "y.gif": r3}
    assert srv.get("/CollY/x.gif").content in (b"R1", b"R2")


def test_B_2_3_5_two_bindings_to_one_resource_copy_to_one_new_resource(srv):
    srv.mkcol("/t")
    srv.put("/t/x.gif", b"R1")
    srv.bind_ok("/t/", "y.gif", "/t/x.gif")
    srv.mkcol("/t/s1")
    srv.mkcol("/t/s1/shared")
    srv.put("/t/s1/shared/in", b"in")
    srv.mkcol("/t/s2")
    srv.bind_ok("/t/s2/", "shared", "/t/s1/shared/")
    blobs = len(srv.stored())
    assert srv.copy("/t/", "/u/").status_code == 201
    members = srv.members("/u/")
    assert members["x.gif"] == members["y.gif"] != srv.rid("/t/x.gif")
    assert srv.rid("/u/s1/shared/") == srv.rid("/u/s2/shared/") != srv.rid("/t/s1/shared/")
    assert srv.rid("/u/s1/shared/in") == srv.rid("/u/s2/shared/in")
    assert len(srv.stored()) == blobs  # content-addressed: no new bytes


def test_B_2_3_5_loops_are_reproduced_inside_the_copy(srv):
    srv.mkcol("/L")
    srv.mkcol("/L/M")
    srv.mkcol("/L/M/N")
    srv.bind_ok("/L/M/N/", "to-L", "/L/")
    srv.bind_ok("/L/M/N/", "to-M", "/L/M/")
    srv.bind_ok("/L/", "self", "/L/")
    assert srv.copy("/L/", "/K/").status_code == 201
    k, m = srv.rid("/K/"), srv.rid("/K/M/")
    assert srv.rid("/K/M/N/to-L/") == k
    assert srv.rid("/K/M/N/to-M/") == m
    assert srv.rid("/K/self/") == k
    assert k != srv.rid("/L/") and m != srv.rid("/L/M/")


def test_B_2_3_6_bindings_to_outside_resources_are_copied_not_shared(srv):
    srv.mkcol("/src")
    srv.mkcol("/out")
    srv.put("/out/g", b"g")
    srv.bind_ok("/src/", "ext", "/out/")
    srv.bind_ok("/src/", "ext-leaf", "/out/g")
    assert srv.copy("/src/", "/dst/").status_code == 201
    assert srv.rid("/dst/ext/") != srv.rid("/out/")
    assert srv.rid("/dst/ext/g") == srv.rid("/dst/ext-leaf") != srv.rid("/out/g")
    assert srv.members("/out/") == {"g": srv.rid("/out/g")}


def test_B_2_3_6_up_link_to_an_ancestor_copies_the_ancestor(srv):
    # everything reachable is copied; the up-link lands on a copy of /p.
    srv.mkcol("/p")
    srv.put("/p/pf", b"pf")
    srv.mkcol("/p/src")
    srv.bind_ok("/p/src/", "up", "/p/")
    assert srv.copy("/p/src/", "/q/").status_code == 201
    assert srv.rid("/q/up/") != srv.rid("/p/")
    assert srv.rid("/q/up/src/") == srv.rid("/q/")
    assert srv.get("/q/up/pf").content == b"pf"


def test_B_2_3_7_every_copied_resource_gets_a_new_id(srv):
    srv.mkcol("/s")
    srv.put("/s/a", b"a")
    srv.mkcol("/s/b")
    srv.put("/s/b/c", b"c")
    srv.bind_ok("/s/b/", "loop", "/s/")
    old = {resp.rid for resp in srv.paths("/s/").values()}
    assert srv.copy("/s/", "/t/").status_code == 201
    new = {resp.rid for resp in srv.paths("/t/").values()}
    assert len(new) == len(old) == 4
    assert not old & new


def test_copy_into_its_own_subtree_terminates(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/b")
    srv.put("/a/b/f", b"f")
    assert srv.copy("/a/", "/a/b/copy/").status_code == 201
    assert srv.get("/a/b/copy/b/f").content == b"f"
    assert srv.members("/a/b/copy/b/") == {"f": srv.rid("/a/b/copy/b/f")}


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
def test_copy_move_between_two_bindings_of_one_resource_403(srv, method):
    srv.mkcol("/a")
    srv.put("/a/x", b"x")
    srv.bind_ok("/a/", "y", "/a/x")
    before = fx.state(srv)
    r = srv.request(method, "/a/x", {"Destination": "/a/y"})
    assert r.status_code == 403
    assert fx.state(srv) == before


@pytest.mark.parametrize(
    ("src", "dest", "check"),
    [
        ("/p/d/sub/x", "/p/d", "/p/d"),
        ("/p/d/sub/", "/p/d/", "/p/d/x"),
    ],
    ids=["leaf-onto-grandparent", "collection-onto-parent"],
)
def test_copy_onto_an_ancestor_of_the_source_keeps_content(srv, src, dest, check):
    srv.mkcol("/p")
    srv.mkcol("/p/d")
    srv.mkcol("/p/d/sub")
    srv.put("/p/d/sub/x", b"unique bytes of x")
    r = srv.copy(src, dest)
    assert r.status_code in (204, 403, 409)
    if r.status_code == 204:
        g = srv.get(check)
        assert g.status_code == 200
        assert g.content == b"unique bytes of x"
    else:
        assert srv.get("/p/d/sub/x").content == b"unique bytes of x"


# --------------------------------------------------------------------------- DELETE


def test_B_2_4_1_delete_removes_only_the_request_uri_binding(srv):
    srv.mkcol("/a")
    srv.mkcol("/b")
    srv.put("/a/x", b"R")
    srv.bind_ok("/b/", "y", "/a/x")
    rid = srv.rid("/a/x")
    assert srv.delete("/a/x").status_code == 204
    assert srv.get("/a/x").status_code == 404
    assert srv.rid("/b/y") == rid
    assert srv.get("/b/y").content == b"R"


def test_B_2_4_2_delete_never_changes_a_collection_reachable_elsewhere(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/deep")
    srv.mkcol("/a/deep/C")
    srv.put("/a/deep/C/x", b"x")
    srv.mkcol("/a/deep/C/inner")
    srv.put("/a/deep/C/inner/y", b"y")
    srv.mkcol("/b")
    srv.bind_ok("/b/", "y", "/a/deep/C/")
    below = {p: r.rid for p, r in srv.paths("/b/y/").items()}
    assert srv.delete("/a/").status_code == 204
    assert {p: r.rid for p, r in srv.paths("/b/y/").items()} == below
    assert srv.get("/b/y/inner/y").content == b"y"


def test_B_2_4_3_delete_is_one_atomic_unbind(srv):
    srv.mkcol("/a")
    for i in range(3):
        srv.mkcol(f"/a/s{i}")
        srv.put(f"/a/s{i}/f", b"%d" % i)
    srv.put("/a/s2/locked", b"L")
    token = srv.lock("/a/s2/locked", depth="0")
    before = fx.state(srv)
    r = srv.delete("/a/")
    assert r.status_code == 423  # one 4xx, not a 207 with partial success
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/a/s2/locked"]
    assert fx.state(srv) == before
    r = srv.delete("/a/", If=f"</a/s2/locked> (<{token}>)")
    assert r.status_code == 204
    assert srv.members("/") == {}
    assert srv.stored() == []


# --------------------------------------------------------------------------- MOVE


def test_B_2_5_1_move_leaves_other_bindings_and_member_bindings_alone(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/C")
    srv.put("/a/C/m", b"m")
    srv.bind_ok("/a/C/", "m2", "/a/C/m")
    srv.bind_ok("/", "alias", "/a/C/")
    rid = srv.rid("/a/C/")
    inner = srv.members("/a/C/")
    assert srv.move("/a/C/", "/moved/").status_code == 201
    assert srv.rid("/alias/") == srv.rid("/moved/") == rid
    assert srv.members("/moved/") == inner
    assert sorted(srv.parents("/moved/")) == [("/", "alias"), ("/", "moved")]
    assert len(srv.parents("/moved/m")) == 2


def test_B_2_5_2_move_overwrite_deletes_only_the_destination_binding(srv):
    srv.put("/src", b"src")
    srv.mkcol("/d")
    srv.put("/d/target", b"old target")
    srv.bind_ok("/", "other", "/d/target")
    old = srv.rid("/d/target")
    assert srv.move("/src", "/d/target").status_code == 204
    assert srv.rid("/other") == old  # the old destination survives elsewhere
    assert srv.get("/other").content == b"old target"
    assert srv.get("/d/target").content == b"src"
    assert srv.parents("/other") == [("/", "other")]


def test_B_2_5_2_move_overwrite_reclaims_an_unbound_destination(srv):
    srv.put("/src", b"src")
    srv.put("/target", b"target bytes")
    old = srv.rid("/target")
    assert srv.move("/src", "/target").status_code == 204
    assert old not in set(fx.state(srv).values())
    assert len(srv.stored()) == 1


def test_B_2_5_2_move_overwrite_F_412(srv):
    srv.put("/src", b"src")
    srv.put("/target", b"t")
    before = fx.state(srv)
    assert srv.move("/src", "/target", Overwrite="F").status_code == 412
    assert fx.state(srv) == before


def test_B_2_5_3_move_is_a_rebind(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/c")
    srv.put("/a/c/f", b"f")
    srv.set_displayname("/a/c/", "C")
    rid_c, rid_f = srv.rid("/a/c/"), srv.rid("/a/c/f")
    assert srv.move("/a/c/", "/z/").status_code == 201
    moved = srv.one("/z/", "resource-id", "displayname")
    assert moved.rid == rid_c
    assert moved.prop("displayname").text == "C"
    assert srv.rid("/z/f") == rid_f
    assert srv.parents("/z/") == [("/", "z")]
    assert srv.parents("/z/f") == [("/z/", "f")]


def test_B_2_5_4_move_creating_a_loop(make_srv):
    allowing = make_srv()
    refusing = make_srv(allow_loops=False)
    for s in (allowing, refusing):
        s.mkcol("/x")
        s.mkcol("/x/sub")
        s.bind_ok("/", "alias", "/x/")
    # Moving /x into its own subtree while /alias keeps it reachable is just a loop.
    assert allowing.move("/x/", "/alias/sub/x/").status_code == 201
    assert allowing.rid("/alias/sub/x/") == allowing.rid("/alias/")
    before = fx.state(refusing)
    r = refusing.move("/x/", "/alias/sub/x/")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(refusing) == before


@pytest.mark.parametrize("allow_loops", [True, False])
def test_B_2_5_4_move_into_own_subtree_without_other_path_403(make_srv, allow_loops):
    srv = make_srv(allow_loops=allow_loops)
    srv.mkcol("/x")
    srv.mkcol("/x/sub")
    srv.put("/x/sub/f", b"f")
    before = fx.state(srv)
    r = srv.move("/x/", "/x/sub/x/")
    assert r.status_code in (403, 409)
    if r.status_code == 403:
        assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(srv) == before


def test_move_onto_an_ancestor_through_another_binding(srv):
    srv.mkcol("/p")
    srv.mkcol("/p/d")
    srv.mkcol("/p/d/sub")
    srv.put("/p/d/sub/x", b"X")
    srv.bind_ok("/", "q", "/p/")
    assert srv.move("/p/d/sub/x", "/p/d").status_code == 409
    before = fx.state(srv)
    r = srv.move("/q/d/sub/x", "/p/d")
    assert r.status_code == 409, r.text
    assert fx.state(srv) == before
