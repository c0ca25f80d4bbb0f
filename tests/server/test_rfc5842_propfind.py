"""PROPFIND over bindings (RFC 5842 §7, §8.2, §12.2, §14): 208, 508, Vary, the response cap.

Spec rows: B-7.1-1 … B-7.1-8, B-7.2-1, B-7.2-2, B-8.2-1, B-12-2, B-14-1, decisions A-2,
A-13, A-14, A-20, A-23 and the Depth-infinity algorithm of docs/protocol-decisions.md §4.8.
"""

from __future__ import annotations

import sys
from pathlib import Path
from urllib.parse import quote

import pytest

sys.path.insert(0, str(Path(__file__).parent))
import rfc5842_fixtures as fx

NAMES = ("resourcetype", "resource-id", "displayname")


@pytest.fixture
def srv(tmp_path):
    with fx.open_srv(tmp_path) as s:
        yield s


def loop_state(srv: fx.Srv) -> None:
    """/top{a->C, b->C, f}; C{leaf, sub{deep}, up->C}: a diamond and a loop."""
    srv.mkcol("/top")
    srv.put("/top/f", b"f")
    srv.mkcol("/top/a")
    srv.put("/top/a/leaf", b"leaf")
    srv.mkcol("/top/a/sub")
    srv.put("/top/a/sub/deep", b"deep")
    srv.bind_ok("/top/", "b", "/top/a/")
    srv.bind_ok("/top/a/", "up", "/top/a/")


def diamond_state(srv: fx.Srv) -> None:
    """/d{x->S, y->S}; S{f, g, inner{h}}: a shared collection, no loop."""
    srv.mkcol("/d")
    srv.mkcol("/d/x")
    srv.put("/d/x/f", b"f")
    srv.put("/d/x/g", b"g")
    srv.mkcol("/d/x/inner")
    srv.put("/d/x/inner/h", b"h")
    srv.bind_ok("/d/", "y", "/d/x/")


def listing(srv: fx.Srv, url: str, depth: str = "infinity", **kw) -> list[fx.Resp]:
    return srv.responses(url, depth, NAMES, **kw)


# --------------------------------------------------------------------------- 208


def test_B_7_1_1_one_200_per_collection_208_for_the_rest_without_descendants(srv):
    loop_state(srv)
    resps = listing(srv, "/top/", bind_aware=True)
    paths = [r.path for r in resps]
    assert len(paths) == len(set(paths))
    ok_collections = [r.rid for r in resps if r.prop("resourcetype") is not None
                      and len(r.prop("resourcetype")) and not r.is_208]  # fmt: skip
    assert len(ok_collections) == len(set(ok_collections))  # each collection once with 200
    reported = {r.path.rstrip("/"): r for r in resps}
    assert reported["/top/a"].statuses() == {200}
    assert reported["/top/b"].is_208
    assert reported["/top/a/up"].is_208
    for r in resps:
        if r.is_208:  # nothing listed below a 208
            prefix = r.path.rstrip("/") + "/"
            below = [p for p in paths if p.startswith(prefix) and p != prefix]
            assert below == [], (r.path, below)
    assert sorted(p.rstrip("/") for p in paths) == [
        "/top", "/top/a", "/top/a/leaf", "/top/a/sub", "/top/a/sub/deep", "/top/a/up",
        "/top/b", "/top/f",
    ]  # fmt: skip


def test_B_7_1_1_only_bindings_inside_the_request_scope_count(srv):
    diamond_state(srv)
    # /d/x and /d/y are two bindings to S, but only one is inside /d/x/'s scope.
    resps = listing(srv, "/d/x/", bind_aware=True)
    assert all(r.statuses() == {200} for r in resps)
    assert {r.path for r in resps} == {"/d/x/", "/d/x/f", "/d/x/g", "/d/x/inner/", "/d/x/inner/h"}


@pytest.mark.parametrize("depth", ["0", "1"])
@pytest.mark.parametrize("shape", ["loop", "diamond", "self"])
def test_B_7_1_2_depth_0_and_1_never_carry_208(srv, depth, shape):
    if shape == "loop":
        loop_state(srv)
        url = "/top/a/"  # has member up -> itself
    elif shape == "diamond":
        diamond_state(srv)
        url = "/d/"  # members x and y are the same collection
    else:
        srv.mkcol("/s")
        srv.bind_ok("/s/", "me", "/s/")
        srv.bind_ok("/s/", "me-too", "/s/")
        url = "/s/"
    resps = listing(srv, url, depth, bind_aware=True)
    assert resps and all(r.statuses() == {200} for r in resps)
    assert len(resps) == (1 if depth == "0" else len(srv.members(url)) + 1)


def test_B_7_1_2_depth_1_shows_duplicates_with_equal_resource_ids(srv):
    diamond_state(srv)
    resps = {r.path: r for r in listing(srv, "/d/", "1", bind_aware=True)}
    assert resps["/d/x/"].rid == resps["/d/y/"].rid
    assert resps["/d/x/"].statuses() == resps["/d/y/"].statuses() == {200}


def test_B_7_1_3_a_leaf_is_reported_at_each_url_with_200(srv):
    srv.mkcol("/c")
    srv.put("/c/a", b"x")
    srv.bind_ok("/c/", "b", "/c/a")
    srv.mkcol("/c/sub")
    srv.bind_ok("/c/sub/", "c", "/c/a")
    resps = {r.path: r for r in listing(srv, "/c/", bind_aware=True)}
    rid = resps["/c/a"].rid
    for path in ("/c/a", "/c/b", "/c/sub/c"):
        assert resps[path].statuses() == {200}, path
        assert resps[path].rid == rid


@pytest.mark.parametrize(
    "dav",
    [
        pytest.param(None, id="B-7.1-4-no-header"),
        pytest.param("1, 2", id="B-7.1-4-other-classes"),
        pytest.param("<http://example.com/ns/bind>", id="B-7.1-4-coded-url"),
        pytest.param("bindings", id="B-7.1-4-longer-token"),
        pytest.param("unbind", id="B-7.1-4-other-token"),
    ],
)
def test_B_7_1_4_no_208_without_the_bind_token(srv, dav):
    diamond_state(srv)
    headers = {} if dav is None else {"DAV": dav}
    resps = listing(srv, "/d/", **headers)
    assert all(r.statuses() == {200} for r in resps)
    paths = {r.path for r in resps}
    # the shared collection is enumerated under each of its paths.
    for base in ("/d/x/", "/d/y/"):
        assert {base, base + "f", base + "g", base + "inner/", base + "inner/h"} <= paths
    assert len(resps) == 11


def test_B_7_1_5_loop_without_bind_token_is_a_top_level_508(srv):
    loop_state(srv)
    r = srv.propfind("/top/", "infinity", fx.prop_body(*NAMES))
    assert r.status_code == 508
    assert fx.ET.fromstring(r.content).tag == fx.D + "error"  # no multistatus at all
    assert b"multistatus" not in r.content
    # A loop out of scope does not matter; a diamond is no loop.
    assert srv.propfind("/top/a/sub/", "infinity", fx.prop_body(*NAMES)).status_code == 207


def test_B_7_1_5_loop_not_through_the_target_still_508(srv):
    srv.mkcol("/t")
    srv.mkcol("/t/u")
    srv.mkcol("/t/u/v")
    srv.bind_ok("/t/u/v/", "back", "/t/u/")  # loop u -> v -> u below /t
    assert srv.propfind("/t/", "infinity", fx.prop_body("resourcetype")).status_code == 508
    assert srv.propfind("/t/", "1", fx.prop_body("resourcetype")).status_code == 207


def test_B_7_1_5_mid_stream_508_if_the_pre_scan_missed_a_loop(srv, monkeypatch):
    """A-20 fallback: a loop met while streaming ends the multistatus with a 508 response."""
    from davbind.protocol.walk import Scan
    from davbind.server import propfind

    loop_state(srv)
    monkeypatch.setattr(propfind, "scan", lambda *a, **k: Scan(False, 1, 1))
    r = srv.propfind("/top/", "infinity", fx.prop_body("resourcetype"))
    assert r.status_code == 207
    resps = fx.parse_multistatus(r.content)
    last = resps[-1]
    assert last.status == 508
    assert last.propstats == []
    assert last.path == "/top/a/up/"
    assert all(x.statuses() == {200} for x in resps[:-1])


def test_B_7_1_6_208_in_propstat_with_the_property_values(srv):
    fx.e15_state(srv)
    resps = {r.path.rstrip("/"): r for r in listing(srv, "/Coll/", bind_aware=True)}
    bar = resps["/Coll/Bar"]
    assert bar.status is None  # not the response-level form
    (ps,) = [p for p in bar.propstats if p.status == 208]
    assert {D_local(n) for n in ps.props} == {"resourcetype", "resource-id", "displayname"}
    assert bar.prop("displayname").text == "Loop Demo"


def test_B_7_1_6_missing_properties_of_a_208_go_to_a_404_propstat(srv):
    fx.e15_state(srv)
    body = fx.prop_body("resource-id", "{urn:x-test}absent")
    r = srv.propfind("/Coll/", "infinity", body, bind_aware=True)
    bar = {x.path.rstrip("/"): x for x in fx.parse_multistatus(r.content)}["/Coll/Bar"]
    assert sorted(ps.status for ps in bar.propstats) == [208, 404]
    assert bar.prop_status("{urn:x-test}absent") == 404
    assert bar.prop_status("resource-id") == 208


def test_B_7_1_6_208_kept_when_no_requested_property_exists(srv):
    fx.e15_state(srv)
    r = srv.propfind("/Coll/", "infinity", fx.prop_body("{urn:x-test}absent"), bind_aware=True)
    bar = {x.path.rstrip("/"): x for x in fx.parse_multistatus(r.content)}["/Coll/Bar"]
    assert bar.is_208, fx.ET.tostring(fx.ET.fromstring(r.content))


def test_B_7_1_6_208_kept_with_prefer_return_minimal(srv):
    fx.e15_state(srv)
    r = srv.propfind(
        "/Coll/", "infinity", fx.prop_body("{urn:x-test}absent"), bind_aware=True,
        Prefer="return=minimal",
    )  # fmt: skip
    bar = {x.path.rstrip("/"): x for x in fx.parse_multistatus(r.content)}["/Coll/Bar"]
    assert bar.is_208


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(fx.prop_body("resource-id"), id="B-7.1-7-prop"),
        pytest.param(
            b'<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:resource-id/></D:include>'
            b"</D:propfind>",
            id="B-7.1-7-allprop-include",
        ),
    ],
)
def test_B_7_1_7_208_responses_carry_resource_id_when_requested(srv, body):
    loop_state(srv)
    r = srv.propfind("/top/", "infinity", body, bind_aware=True)
    resps = fx.parse_multistatus(r.content)
    by_rid: dict[str, list[fx.Resp]] = {}
    for x in resps:
        assert x.rid, x.path
        by_rid.setdefault(x.rid, []).append(x)
    for x in resps:
        if x.is_208:
            assert x.prop_status("resource-id") == 208
            # The 200 response of the same resource is in the same multistatus.
            assert any(not y.is_208 for y in by_rid[x.rid])


def test_B_7_1_8_first_binding_in_traversal_order_gets_200(srv):
    srv.mkcol("/o")
    srv.mkcol("/o/m")
    srv.put("/o/m/f", b"f")
    srv.bind_ok("/o/", "a-first", "/o/m/")
    srv.bind_ok("/o/", "z-last", "/o/m/")
    resps = listing(srv, "/o/", bind_aware=True)
    order = [(r.path, 208 if r.is_208 else 200) for r in resps]
    assert order == [
        ("/o/", 200),
        ("/o/a-first/", 200),
        ("/o/a-first/f", 200),
        ("/o/m/", 208),
        ("/o/z-last/", 208),
    ]


def test_B_7_1_8_depth_first_pre_order_code_point_order(srv):
    srv.mkcol("/p")
    for seg in ("b", "B", "a", "\u00e9"):
        srv.mkcol(f"/p/{quote(seg)}")
        srv.put(f"/p/{quote(seg)}/1", b"1")
    paths = [r.path for r in listing(srv, "/p/", bind_aware=True)]
    assert paths == [
        "/p/", "/p/B/", "/p/B/1", "/p/a/", "/p/a/1", "/p/b/", "/p/b/1", "/p/\u00e9/",
        "/p/\u00e9/1",
    ]  # fmt: skip


def test_depth_noroot_root_still_counts_as_seen(srv):
    fx.e15_state(srv)
    r = srv.propfind(
        "/Coll/", "infinity", fx.prop_body("resource-id"), bind_aware=True,
        Prefer="depth-noroot",
    )  # fmt: skip
    resps = {x.path.rstrip("/"): x for x in fx.parse_multistatus(r.content)}
    assert "/Coll" not in resps
    assert resps["/Coll/Bar"].is_208
    assert set(resps) == {"/Coll/Bar", "/Coll/Foo"}


# --------------------------------------------------------------------------- 508


def test_B_7_2_1_loop_detected_means_the_whole_request_failed(srv):
    fx.e15_state(srv)
    r = srv.propfind("/Coll/", "infinity", fx.prop_body("displayname"))
    assert r.status_code == 508
    assert r.reason_phrase == "Loop Detected"
    assert fx.error_names(r) == []  # a bare <D:error>, no multistatus, no responses


def test_B_2_1_1_1_loops_detected_in_depth_infinity_propfind(srv):
    loop_state(srv)
    srv.bind_ok("/top/a/sub/", "back-to-top", "/top/")  # a second loop, through the target
    aware = listing(srv, "/top/", bind_aware=True)
    assert len(aware) == 9  # finite: every binding once
    assert sum(r.is_208 for r in aware) == 3
    plain = srv.propfind("/top/", "infinity", fx.prop_body("resourcetype"))
    assert plain.status_code == 508


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param("propfind-bind", id="B-7.2-2-propfind-bind-aware"),
        pytest.param("copy", id="B-7.2-2-copy"),
        pytest.param("lock", id="B-7.2-2-lock"),
        pytest.param("delete", id="B-7.2-2-delete"),
        pytest.param("move", id="B-7.2-2-move"),
    ],
)
def test_B_7_2_2_depth_infinity_requests_terminate_over_loops(srv, request_):
    loop_state(srv)
    if request_ == "propfind-bind":
        r = srv.propfind("/top/", "infinity", fx.prop_body("resourcetype"), bind_aware=True)
        assert r.status_code == 207
    elif request_ == "copy":
        r = srv.copy("/top/", "/copy/", Depth="infinity")
        assert r.status_code == 201
        assert srv.rid("/copy/a/up/") == srv.rid("/copy/a/")
        assert srv.rid("/copy/b/") == srv.rid("/copy/a/")
    elif request_ == "lock":
        r = srv.request("LOCK", "/top/", {"Depth": "infinity", "Content-Type": fx.XML_CT},
                        fx.lockinfo())  # fmt: skip
        assert r.status_code == 200
        put = srv.request("PUT", "/top/a/up/up/up/leaf", {}, b"x")
        assert put.status_code == 423  # every resource of the loop is covered once
    elif request_ == "delete":
        assert srv.delete("/top/").status_code == 204
        assert srv.stored() == []
    else:
        assert srv.move("/top/", "/moved/").status_code == 201
        assert srv.rid("/moved/a/up/up/") == srv.rid("/moved/b/")


# --------------------------------------------------------------------------- DAV header


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(["bind"], id="B-8.2-1-bind"),
        pytest.param(["Bind"], id="B-8.2-1-capitalised"),
        pytest.param(["1, Bind"], id="B-8.2-1-list"),
        pytest.param([" 1 ,BIND , 2 "], id="B-8.2-1-spaces-upper"),
        pytest.param(["1", "bind"], id="B-8.2-1-two-lines"),
        pytest.param(["<http://example.com/a,b>, bind"], id="B-8.2-1-coded-url-with-comma"),
    ],
)
def test_B_8_2_1_dav_request_header_parsing(srv, lines):
    fx.e15_state(srv)
    headers = [("Depth", "infinity"), ("Content-Type", fx.XML_CT)]
    headers += [("DAV", line) for line in lines]
    r = srv.request("PROPFIND", "/Coll/", headers, fx.prop_body("resource-id"))
    assert r.status_code == 207
    assert any(x.is_208 for x in fx.parse_multistatus(r.content))


# --------------------------------------------------------------------------- caching


@pytest.mark.parametrize("depth", ["0", "1", "infinity"])
@pytest.mark.parametrize("bind_aware", [True, False])
def test_vary_contains_dav(srv, depth, bind_aware):
    diamond_state(srv)
    r = srv.propfind("/d/", depth, fx.prop_body("resourcetype"), bind_aware=bind_aware)
    assert r.status_code == 207
    vary = {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
    assert "dav" in vary


def test_vary_contains_dav_on_508(srv):
    fx.e15_state(srv)
    r = srv.propfind("/Coll/", "infinity", fx.prop_body("resourcetype"))
    assert r.status_code == 508
    vary = {v.strip().lower() for v in r.headers.get("vary", "").split(",")}
    assert "dav" in vary


# --------------------------------------------------------------------------- the cap


def test_B_12_2_response_cap_403_finite_depth_before_anything_is_sent(make_srv):
    srv = make_srv(max_propfind_responses=8)
    diamond_state(srv)  # bind-aware: 7 responses; plain: 11 (S listed twice)
    ok = srv.propfind("/d/", "infinity", fx.prop_body("resourcetype"), bind_aware=True)
    assert ok.status_code == 207
    assert len(fx.parse_multistatus(ok.content)) == 7
    r = srv.propfind("/d/", "infinity", fx.prop_body("resourcetype"))
    assert r.status_code == 403
    assert fx.error_names(r) == ["propfind-finite-depth"]
    assert b"multistatus" not in r.content
    # Depth 1 is not capped by the Depth-infinity limit; a smaller scope passes.
    assert srv.propfind("/d/", "1", fx.prop_body("resourcetype")).status_code == 207
    assert srv.propfind("/d/x/", "infinity", fx.prop_body("resourcetype")).status_code == 207


def test_B_12_2_cap_applies_to_bind_aware_clients_too(make_srv):
    srv = make_srv(max_propfind_responses=3)
    loop_state(srv)
    r = srv.propfind("/top/", "infinity", fx.prop_body("resourcetype"), bind_aware=True)
    assert r.status_code == 403
    assert fx.error_names(r) == ["propfind-finite-depth"]
    # Without DAV: bind the loop is reported first (508), whatever the cap.
    assert srv.propfind("/top/", "infinity", fx.prop_body("resourcetype")).status_code == 508


def test_B_12_2_missing_depth_means_infinity(srv):
    fx.e15_state(srv)
    assert srv.propfind("/Coll/", None, fx.prop_body("resourcetype")).status_code == 508
    r = srv.propfind("/Coll/", None, fx.prop_body("resourcetype"), bind_aware=True)
    assert r.status_code == 207


# --------------------------------------------------------------------------- status lines


def test_B_14_1_status_lines_of_208_and_508(srv):
    fx.e15_state(srv)
    r = srv.propfind("/Coll/", "infinity", fx.prop_body("resource-id"), bind_aware=True)
    lines = [el.text for el in fx.ET.fromstring(r.content).iter(fx.D + "status")]
    assert "HTTP/1.1 208 Already Reported" in lines
    r = srv.propfind("/Coll/", "infinity", fx.prop_body("resource-id"))
    assert (r.status_code, r.reason_phrase) == (508, "Loop Detected")


def D_local(clark: str) -> str:
    return clark[len(fx.D) :] if clark.startswith(fx.D) else clark
