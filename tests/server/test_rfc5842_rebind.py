"""REBIND (RFC 5842 §6): an atomic MOVE of one binding, and every precondition.

Spec rows: B-6-1 … B-6-7, B-6-P1 … B-6-P10; REBIND onto itself (403) and into the moved
collection's own subtree (A-12).
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
        s.put("/CollY/bar.html", b"<p>bar</p>")
        s.put("/CollX/taken.html", b"<p>taken</p>")
        yield s


def test_B_6_1_rebind_moves_one_binding(srv):
    rid = srv.rid("/CollY/bar.html")
    r = srv.rebind("/CollX/", "foo.html", "http://www.example.com/CollY/bar.html")
    assert r.status_code == 201
    assert srv.rid("/CollX/foo.html") == rid
    assert srv.get("/CollY/bar.html").status_code == 404
    assert srv.parents("/CollX/foo.html") == [("/CollX/", "foo.html")]


def test_B_6_1_rename_inside_one_collection(srv):
    rid = srv.rid("/CollY/bar.html")
    assert srv.rebind("/CollY/", "baz.html", "/CollY/bar.html").status_code == 201
    assert srv.members("/CollY/") == {"baz.html": rid}


def test_B_6_2_rebind_needs_write_access_like_move(srv):
    readonly = fx.Srv(Path(srv.settings.data_dir), allow_anonymous_write=False)
    try:
        before = fx.state(srv)
        hdrs = {"Content-Type": fx.XML_CT}
        r = readonly.request("REBIND", "/CollX/", hdrs, fx.rebind_body("x", "/CollY/bar.html"))
        m = readonly.move("/CollY/bar.html", "/CollX/x")
        assert r.status_code == m.status_code == 403
        assert fx.state(srv) == before
    finally:
        readonly.close()


def test_B_6_3_failed_rebind_restores_state(srv):
    token = srv.lock("/CollY/", depth="0")
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "taken.html", "/CollY/bar.html")  # replace + unbind source
    assert r.status_code == 423
    assert fx.state(srv) == before
    assert srv.get("/CollX/taken.html").content == b"<p>taken</p>"
    # The token is for the source collection, not the Request-URI: a tagged list.
    r = srv.rebind("/CollX/", "taken.html", "/CollY/bar.html", If=f"</CollY/> (<{token}>)")
    assert r.status_code == 204


def test_B_6_3_rebind_is_idempotent(srv):
    first = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    after = fx.state(srv)
    second = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert first.status_code == 201
    assert second.status_code == 409  # rebind-source-exists; state unchanged
    assert fx.state(srv) == after


def test_B_6_4_new_binding_201_replaced_204(srv):
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert r.status_code == 201
    assert r.headers["location"] == "http://www.example.com/CollX/foo.html"
    old = srv.rid("/CollX/taken.html")
    moved = srv.rid("/CollX/foo.html")
    r = srv.rebind("/CollX/", "taken.html", "/CollX/foo.html")
    assert r.status_code == 204
    assert srv.members("/CollX/") == {"taken.html": moved}
    assert old not in set(fx.state(srv).values())


def test_B_6_5_success_body_empty_or_rebind_response(srv):
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert r.status_code in (200, 201, 204)
    if r.content.strip():
        assert fx.ET.fromstring(r.content).tag == fx.D + "rebind-response"


def test_B_6_6_rebind_keeps_resource_id_and_properties(srv):
    srv.set_displayname("/CollY/bar.html", "Bar")
    rid = srv.rid("/CollY/bar.html")
    assert srv.rebind("/CollX/", "foo.html", "/CollY/bar.html").status_code == 201
    moved = srv.one("/CollX/foo.html", "resource-id", "displayname")
    assert moved.rid == rid
    el = moved.prop("displayname")
    assert el is not None and el.text == "Bar"


def test_B_6_7_rebind_of_a_collection_keeps_the_bindings_inside(srv):
    srv.mkcol("/CollY/sub")
    srv.put("/CollY/sub/a", b"a")
    srv.bind_ok("/CollY/sub/", "b", "/CollY/bar.html")
    srv.bind_ok("/", "alias", "/CollY/sub/")
    inner = srv.members("/CollY/sub/")
    rid = srv.rid("/CollY/sub/")
    assert srv.rebind("/CollX/", "moved", "/CollY/sub").status_code == 201
    assert srv.rid("/CollX/moved/") == rid
    assert srv.members("/CollX/moved/") == inner
    assert srv.rid("/alias/") == rid
    # Still one binding to "a" (its parent named once, by its canonical href, A-22).
    assert srv.parents("/CollX/moved/a") == [("/alias/", "a")]


# --------------------------------------------------------------------------- preconditions


def test_B_6_P1_rebind_into_collection_409(srv):
    before = fx.state(srv)
    r = srv.rebind("/CollX/taken.html", "x", "/CollY/bar.html")
    assert r.status_code == 409
    assert fx.error_names(r) == ["rebind-into-collection"]
    assert fx.state(srv) == before


def test_B_6_P1_unmapped_request_uri_404(srv):
    assert srv.rebind("/nowhere/", "x", "/CollY/bar.html").status_code == 404


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("/CollY/missing.html", id="B-6-P2-missing"),
        pytest.param("/nowhere/bar.html", id="B-6-P2-missing-parent"),
        pytest.param("/", id="B-6-P2-root-has-no-binding"),
    ],
)
def test_B_6_P2_rebind_source_exists_409(srv, href):
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "x", href)
    assert r.status_code == 409
    assert fx.error_names(r) == ["rebind-source-exists"]
    assert fx.state(srv) == before


@pytest.mark.parametrize(
    "href",
    [
        pytest.param("http://other.example.org/CollY/bar.html", id="B-6-P3-other-host"),
        pytest.param("https://www.example.com/CollY/bar.html", id="B-6-P3-other-scheme"),
    ],
)
def test_B_6_P3_cross_server_binding_403(srv, href):
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "x", href)
    assert r.status_code == 403
    assert fx.error_names(r) == ["cross-server-binding"]
    assert fx.state(srv) == before


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("..", id="B-6-P4-dotdot"),
        pytest.param("a%2Fb", id="B-6-P4-slash"),
        pytest.param("x" * 300, id="B-6-P4-too-long"),
    ],
)
def test_B_6_P4_name_allowed_403(srv, segment):
    before = fx.state(srv)
    r = srv.rebind("/CollX/", segment, "/CollY/bar.html")
    assert r.status_code == 403
    assert fx.error_names(r) == ["name-allowed"]
    assert fx.state(srv) == before


def test_B_6_P5_can_overwrite_412(srv):
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "taken.html", "/CollY/bar.html", overwrite="F")
    assert r.status_code == 412
    assert fx.error_names(r) == ["can-overwrite"]
    assert fx.state(srv) == before
    assert srv.rebind("/CollX/", "free.html", "/CollY/bar.html", overwrite="F").status_code == 201


def test_B_6_P6_cycle_allowed_403_when_loops_disabled(make_srv):
    refusing = make_srv(allow_loops=False)
    allowing = make_srv()
    for s in (refusing, allowing):
        s.mkcol("/a")
        s.mkcol("/a/b")
        s.mkcol("/c")
        s.bind_ok("/c/", "a-again", "/a/")  # a second path to /a
    before = fx.state(refusing)
    # Moving the /c/a-again binding of /a into /a/b makes /a contain itself.
    r = refusing.rebind("/a/b/", "loop", "/c/a-again")
    assert r.status_code == 403
    assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(refusing) == before
    assert allowing.rebind("/a/b/", "loop", "/c/a-again").status_code == 201
    assert allowing.rid("/a/b/loop/") == allowing.rid("/a/")


@pytest.mark.parametrize("allow_loops", [True, False])
def test_B_6_P6_into_own_subtree_is_refused_always(make_srv, allow_loops):
    # the moved collection would be left with no path from the root.
    srv = make_srv(allow_loops=allow_loops)
    srv.mkcol("/a")
    srv.mkcol("/a/b")
    srv.put("/a/b/f", b"f")
    before = fx.state(srv)
    for coll in ("/a/", "/a/b/"):
        r = srv.rebind(coll, "inner", "/a")
        assert r.status_code == 403
        assert fx.error_names(r) == ["cycle-allowed"]
    assert fx.state(srv) == before


def test_B_6_rebind_onto_itself_403(srv):
    before = fx.state(srv)
    r = srv.rebind("/CollY/", "bar.html", "/CollY/bar.html")
    assert r.status_code == 403
    assert fx.state(srv) == before


def test_B_6_P7_locked_update_allowed_423(srv):
    token = srv.lock("/CollX/", depth="0")
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {"lock-token-submitted", "locked-update-allowed"}
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX"]
    assert fx.state(srv) == before
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html", If=f"(<{token}>)")
    assert r.status_code == 201


def test_B_6_P8_protected_url_modification_allowed_423(srv):
    token = srv.lock("/CollX/taken.html", depth="0")
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "taken.html", "/CollY/bar.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {
        "lock-token-submitted",
        "protected-url-modification-allowed",
    }
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX/taken.html"]
    assert fx.state(srv) == before
    r = srv.rebind(
        "/CollX/", "taken.html", "/CollY/bar.html", If=f"</CollX/taken.html> (<{token}>)"
    )
    assert r.status_code == 204


def test_B_6_P9_locked_source_collection_update_allowed_423(srv):
    token = srv.lock("/CollY/", depth="0")
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {
        "lock-token-submitted",
        "locked-source-collection-update-allowed",
    }
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollY"]
    assert fx.state(srv) == before
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html", If=f"</CollY/> (<{token}>)")
    assert r.status_code == 201


def test_B_6_P10_protected_source_url_deletion_allowed_423(srv):
    token = srv.lock("/CollY/bar.html", depth="0")
    before = fx.state(srv)
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {
        "lock-token-submitted",
        "protected-source-url-deletion-allowed",
    }
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollY/bar.html"]
    assert fx.state(srv) == before
    r = srv.rebind("/CollX/", "foo.html", "/CollY/bar.html", If=f"</CollY/bar.html> (<{token}>)")
    assert r.status_code == 201
    # DAV:lock-deleted: the lock rooted at the removed URL is gone.
    lockdisc = srv.one("/CollX/foo.html", "lockdiscovery").prop("lockdiscovery")
    assert lockdisc is not None and list(lockdisc) == []


def test_B_6_rebind_replacing_an_ancestor_of_the_href(srv):
    srv.mkcol("/a")
    srv.mkcol("/a/sub")
    srv.put("/a/sub/x", b"X")
    rid = srv.rid("/a/sub/x")
    before = fx.state(srv)
    r = srv.rebind("/", "a", "/a/sub/x")  # Overwrite defaults to T
    assert r.status_code != 404, "404 is only for an unmapped Request-URI (A-8)"
    assert r.status_code in (204, 403, 409), r.text
    if r.status_code == 204:
        assert srv.rid("/a") == rid
        assert srv.get("/a").content == b"X"
    else:
        assert fx.state(srv) == before
