"""BIND (RFC 5842 §4): behaviour, marshalling and every precondition with its status.

Spec rows: B-4-1 … B-4-8, B-4-P1 … B-4-P9, B-4-X1, B-12-5 and the checking order of
docs/protocol-decisions.md §4.5 (1 body, 2 Request-URI, 3 cross-server, 4 source, 5 name,
6 binding-allowed,
8 can-overwrite, 9 cycle-allowed, 10 locks).  Status codes per decision A-1, A-8, A-9.
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
        s.mkcol("/CollX")
        s.mkcol("/CollY")
        s.put("/CollX/foo.html", b"<p>foo</p>")
        s.put("/CollY/old.html", b"<p>old</p>")
        yield s


# --------------------------------------------------------------------------- behaviour


def test_B_4_1_bind_adds_a_binding_to_the_request_uri_collection(srv):
    rid = srv.rid("/CollX/foo.html")
    r = srv.bind("/CollY/", "bar.html", "http://www.example.com/CollX/foo.html")
    assert r.status_code == 201
    assert srv.rid("/CollY/bar.html") == rid
    assert srv.get("/CollY/bar.html").content == b"<p>foo</p>"
    assert sorted(srv.parents("/CollY/bar.html")) == [
        ("/CollX/", "foo.html"),
        ("/CollY/", "bar.html"),
    ]


def test_B_4_1_bind_of_a_collection(srv):
    rid = srv.rid("/CollX/")
    assert srv.bind("/CollY/", "x", "/CollX/").status_code == 201
    assert srv.rid("/CollY/x/") == rid
    assert srv.rid("/CollY/x/foo.html") == srv.rid("/CollX/foo.html")


def test_B_4_2_bind_fails_when_integrity_cannot_be_guaranteed(srv):
    before = fx.state(srv)
    r = srv.bind("/CollY/", "remote", "http://elsewhere.example.org/CollX/foo.html")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cross-server-binding"]
    assert fx.state(srv) == before


def test_B_4_3_existing_segment_is_replaced_by_default(srv):
    old_rid = srv.rid("/CollY/old.html")
    blobs_before = len(srv.stored())
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html")
    assert r.status_code == 204
    assert srv.rid("/CollY/old.html") == srv.rid("/CollX/foo.html")
    assert old_rid not in set(fx.state(srv).values())
    assert len(srv.stored()) == blobs_before - 1  # the old target was reclaimed


def test_B_4_3_replaced_target_survives_through_its_other_binding(srv):
    srv.bind_ok("/", "keep.html", "/CollY/old.html")
    old_rid = srv.rid("/CollY/old.html")
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html", overwrite="T")
    assert r.status_code == 204
    assert srv.rid("/keep.html") == old_rid
    assert srv.get("/keep.html").content == b"<p>old</p>"
    assert srv.parents("/keep.html") == [("/", "keep.html")]


def test_B_4_4_failed_bind_restores_the_previous_state(make_srv):
    # A replacing BIND that fails after the change (cycle check) must not lose the
    # replaced resource, although the change had made it unreachable for a moment.
    srv = make_srv(allow_loops=False)
    srv.mkcol("/a")
    srv.mkcol("/a/b")
    srv.put("/a/b/victim", b"keep me")
    before = fx.state(srv)
    blobs = srv.stored()
    r = srv.bind("/a/b/", "victim", "/a/")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(srv) == before
    assert srv.get("/a/b/victim").content == b"keep me"
    assert srv.stored() == blobs


def test_B_4_5_bind_is_idempotent(srv):
    first = srv.bind("/CollY/", "bar.html", "/CollX/foo.html")
    after_first = fx.state(srv)
    second = srv.bind("/CollY/", "bar.html", "/CollX/foo.html")
    assert (first.status_code, second.status_code) == (201, 204)
    assert fx.state(srv) == after_first


BAD_BODIES = {
    "not-well-formed": b'<D:bind xmlns:D="DAV:"><D:segment>x</D:segment>',
    "empty-body": b"",
    "missing-segment": b'<D:bind xmlns:D="DAV:"><D:href>/CollX/foo.html</D:href></D:bind>',
    "missing-href": b'<D:bind xmlns:D="DAV:"><D:segment>x</D:segment></D:bind>',
    "wrong-root": b'<D:rebind xmlns:D="DAV:"><D:segment>x</D:segment>'
    b"<D:href>/CollX/foo.html</D:href></D:rebind>",
    "no-dav-namespace": b"<bind><segment>x</segment><href>/CollX/foo.html</href></bind>",
    "two-segments": b'<D:bind xmlns:D="DAV:"><D:segment>x</D:segment><D:segment>y</D:segment>'
    b"<D:href>/CollX/foo.html</D:href></D:bind>",
}


@pytest.mark.parametrize("body", [pytest.param(v, id=f"B-4-6-{k}") for k, v in BAD_BODIES.items()])
def test_B_4_6_body_must_be_dav_bind_else_400(srv, body):
    before = fx.state(srv)
    r = srv.request("BIND", "/CollY/", {"Content-Type": fx.XML_CT}, body)
    assert r.status_code == 400
    assert fx.state(srv) == before


def test_B_4_6_child_order_and_unknown_elements_are_free(srv):
    body = (
        b'<D:bind xmlns:D="DAV:" xmlns:z="urn:z"><z:note>ignored</z:note>'
        b"<D:href>/CollX/foo.html</D:href><D:segment>bar.html</D:segment></D:bind>"
    )
    r = srv.request("BIND", "/CollY/", {"Content-Type": "text/xml"}, body)
    assert r.status_code == 201
    assert srv.rid("/CollY/bar.html") == srv.rid("/CollX/foo.html")


def test_B_4_7_created_201_with_location_replaced_204(srv):
    r = srv.bind("/CollY/", "bar.html", "/CollX/foo.html")
    assert r.status_code == 201
    assert r.headers["location"] == "http://www.example.com/CollY/bar.html"
    r = srv.bind("/CollY/", "sub", "/CollX/")
    assert r.status_code == 201
    assert r.headers["location"].rstrip("/") == "http://www.example.com/CollY/sub"
    r = srv.bind("/CollY/", "bar.html", "/CollY/old.html")
    assert r.status_code == 204


def test_B_4_8_success_body_empty_or_bind_response(srv):
    for seg in ("bar.html", "bar.html"):  # 201, then 204
        r = srv.bind("/CollY/", seg, "/CollX/foo.html")
        assert r.status_code in (200, 201, 204)
        if r.content.strip():
            assert fx.ET.fromstring(r.content).tag == fx.D + "bind-response"


# --------------------------------------------------------------------------- preconditions


def test_B_4_P1_bind_into_collection_409_for_non_collection(srv):
    before = fx.state(srv)
    r = srv.bind("/CollX/foo.html", "x", "/CollY/old.html")
    assert r.status_code == 409
    assert fx.error_names(r) == ["bind-into-collection"]
    assert fx.state(srv) == before


def test_B_4_P1_unmapped_request_uri_404(srv):
    r = srv.bind("/nowhere/", "x", "/CollX/foo.html")
    assert r.status_code == 404


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("/CollX/missing.html", id="B-4-P2-missing-member"),
        pytest.param("/nowhere/foo.html", id="B-4-P2-missing-parent"),
        pytest.param("/CollX/foo.html/below", id="B-4-P2-through-non-collection"),
        pytest.param("http://www.example.com/CollX/missing.html", id="B-4-P2-absolute-url"),
    ],
)
def test_B_4_P2_bind_source_exists_409(srv, href):
    before = fx.state(srv)
    r = srv.bind("/CollY/", "x", href)
    assert r.status_code == 409
    assert fx.error_names(r) == ["bind-source-exists"]
    assert fx.state(srv) == before


@pytest.mark.parametrize("href", ["/", "http://www.example.com/"])
def test_B_4_P3_binding_allowed_403_for_the_root(srv, href):
    before = fx.state(srv)
    r = srv.bind("/CollY/", "root", href)
    assert r.status_code == 403
    assert fx.error_names(r) == ["binding-allowed"]
    assert fx.state(srv) == before


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("http://other.example.org/CollX/foo.html", id="B-4-P4-other-host"),
        pytest.param("http://www.example.com:8081/CollX/foo.html", id="B-4-P4-other-port"),
        pytest.param("https://www.example.com/CollX/foo.html", id="B-4-P4-other-scheme"),
        pytest.param("http://other.example.org/no/such/thing", id="B-4-P4-before-source-exists"),
    ],
)
def test_B_4_P4_cross_server_binding_403(srv, href):
    before = fx.state(srv)
    r = srv.bind("/CollY/", "x", href)
    assert r.status_code == 403
    assert fx.error_names(r) == ["cross-server-binding"]
    assert fx.state(srv) == before


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("http://www.example.com/CollX/foo.html", id="B-4-X1-same-authority"),
        pytest.param("http://WWW.EXAMPLE.COM/CollX/foo.html", id="B-4-X1-host-case"),
        pytest.param("http://www.example.com:80/CollX/foo.html", id="B-4-X1-default-port"),
        pytest.param("/CollX/foo.html", id="B-4-X1-absolute-path"),
    ],
)
def test_B_4_X1_hrefs_on_this_server_are_accepted(srv, href):
    r = srv.bind("/CollY/", "x", href)
    assert r.status_code == 201, r.text
    assert srv.rid("/CollY/x") == srv.rid("/CollX/foo.html")


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param(".", id="B-4-P5-dot"),
        pytest.param("..", id="B-4-P5-dotdot"),
        pytest.param("a/b", id="B-4-P5-slash"),
        pytest.param("a%2Fb", id="B-4-P5-encoded-slash"),
        pytest.param("a%00b", id="B-4-P5-nul"),
        pytest.param("a%01b", id="B-4-P5-control"),
        pytest.param("%FF%FE", id="B-4-P5-not-utf8"),
        pytest.param("x" * 256, id="B-4-P5-too-long"),
    ],
)
def test_B_4_P5_name_allowed_403(srv, segment):
    before = fx.state(srv)
    r = srv.bind("/CollY/", segment, "/CollX/foo.html")
    assert r.status_code == 403
    assert fx.error_names(r) == ["name-allowed"]
    assert fx.state(srv) == before


def test_B_4_P5_name_allowed_403_for_an_empty_segment(srv):
    body = (
        b'<D:bind xmlns:D="DAV:"><D:segment></D:segment><D:href>/CollX/foo.html</D:href></D:bind>'
    )
    r = srv.request("BIND", "/CollY/", {"Content-Type": fx.XML_CT}, body)
    assert r.status_code == 403
    assert fx.error_names(r) == ["name-allowed"]


def test_B_4_P5_longest_allowed_segment(srv):
    assert srv.bind("/CollY/", "x" * 255, "/CollX/foo.html").status_code == 201


def test_B_4_P6_can_overwrite_412(srv):
    before = fx.state(srv)
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html", overwrite="F")
    assert r.status_code == 412
    assert fx.error_names(r) == ["can-overwrite"]
    assert fx.state(srv) == before
    # Overwrite: F is no obstacle when the segment is free.
    assert srv.bind("/CollY/", "new.html", "/CollX/foo.html", overwrite="F").status_code == 201


@pytest.mark.parametrize(
    ("coll", "href"),
    [
        pytest.param("/a/", "/a/", id="B-4-P7-into-itself"),
        pytest.param("/a/b/", "/a/", id="B-4-P7-into-a-member"),
        pytest.param("/a/b/c/", "/a/b/", id="B-4-P7-into-a-deep-member"),
        pytest.param("/other/", "/a/", id="B-4-P7-via-existing-binding"),
    ],
)
def test_B_4_P7_cycle_allowed_403_when_loops_disabled(make_srv, coll, href):
    refusing = make_srv(allow_loops=False)
    allowing = make_srv()
    for srv in (refusing, allowing):
        srv.mkcol("/a")
        srv.mkcol("/a/b")
        srv.mkcol("/a/b/c")
        srv.mkcol("/x")
        # /other is a second binding of /a/b/c: binding /a into it closes a loop too.
        srv.bind_ok("/", "other", "/a/b/c/")
    before = fx.state(refusing)
    r = refusing.bind(coll, "loop", href)
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(refusing) == before
    # The default configuration supports loops (B-4-P7).
    assert allowing.bind(coll, "loop", href).status_code == 201
    # A non-looping binding of a collection is fine either way.
    assert refusing.bind("/x/", "a", "/a/").status_code == 201


def test_B_4_P8_locked_update_allowed_423(srv):
    token = srv.lock("/CollY/", depth="0")
    before = fx.state(srv)
    r = srv.bind("/CollY/", "bar.html", "/CollX/foo.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {"lock-token-submitted", "locked-update-allowed"}
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollY"]
    assert fx.state(srv) == before
    r = srv.bind("/CollY/", "bar.html", "/CollX/foo.html", If=f"(<{token}>)")
    assert r.status_code == 201


def test_B_4_P8_depth_infinity_lock_on_an_ancestor(srv):
    srv.mkcol("/CollY/sub")
    token = srv.lock("/CollY/")
    r = srv.bind("/CollY/sub/", "bar.html", "/CollX/foo.html")
    assert r.status_code == 423
    assert "locked-update-allowed" in fx.error_names(r)
    r = srv.bind("/CollY/sub/", "bar.html", "/CollX/foo.html", If=f"(<{token}>)")
    assert r.status_code == 201


def test_B_4_P9_locked_overwrite_allowed_423(srv):
    token = srv.lock("/CollY/old.html", depth="0")
    before = fx.state(srv)
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {"lock-token-submitted", "locked-overwrite-allowed"}
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollY/old.html"]
    assert fx.state(srv) == before
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html", If=f"</CollY/old.html> (<{token}>)")
    assert r.status_code == 204
    # replacing the lock-root binding deletes the lock.
    lockdisc = srv.one("/CollY/old.html", "lockdiscovery").prop("lockdiscovery")
    assert lockdisc is not None and list(lockdisc) == []
    assert srv.request("PUT", "/CollY/old.html", {}, b"free").status_code == 204


def test_B_12_5_bindings_per_resource_are_capped(srv, monkeypatch):
    from davbind.server import bindings

    monkeypatch.setattr(bindings, "MAX_BINDINGS_PER_RESOURCE", 3)
    assert srv.bind("/CollY/", "b2", "/CollX/foo.html").status_code == 201
    assert srv.bind("/CollY/", "b3", "/CollX/foo.html").status_code == 201
    r = srv.bind("/CollY/", "b4", "/CollX/foo.html")
    assert r.status_code == 403
    assert fx.error_names(r) == ["binding-allowed"]
    assert len(srv.parents("/CollX/foo.html")) == 3


# --------------------------------------------------------------------------- checking order


@pytest.mark.parametrize(
    ("coll", "segment", "href", "overwrite", "status", "condition"),
    [
        pytest.param(
            "/CollX/foo.html", "..", "http://other.example.org/x", None, 409,
            "bind-into-collection", id="B-4-order-2-before-3",
        ),
        pytest.param(
            "/CollY/", "..", "http://other.example.org/missing", None, 403,
            "cross-server-binding", id="B-4-order-3-before-4",
        ),
        pytest.param(
            "/CollY/", "..", "/CollX/missing", None, 409, "bind-source-exists",
            id="B-4-order-4-before-5",
        ),
        pytest.param(
            "/CollY/", "..", "/", None, 403, "name-allowed", id="B-4-order-5-before-6",
        ),
        pytest.param(
            "/CollY/", "old.html", "/", "F", 403, "binding-allowed",
            id="B-4-order-6-before-8",
        ),
    ],
)  # fmt: skip
def test_B_4_checking_order(srv, coll, segment, href, overwrite, status, condition):
    r = srv.bind(coll, segment, href, overwrite=overwrite)
    assert r.status_code == status
    assert fx.error_names(r) == [condition]


def test_B_4_order_8_can_overwrite_before_10_locks(srv):
    srv.lock("/CollY/", depth="0")
    r = srv.bind("/CollY/", "old.html", "/CollX/foo.html", overwrite="F")
    assert r.status_code == 412
    assert fx.error_names(r) == ["can-overwrite"]


def test_B_4_order_9_cycle_allowed_before_10_locks(make_srv):
    srv = make_srv(allow_loops=False)
    srv.mkcol("/a")
    srv.lock("/a/", depth="0")
    r = srv.bind("/a/", "self", "/a/")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
