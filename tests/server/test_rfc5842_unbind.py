"""UNBIND (RFC 5842 §5): one binding removed, reclamation by reachability, preconditions.

Spec rows: B-5-1 … B-5-4, B-5-P1 … B-5-P4; reclamation of unreachable cycles (A-27).
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
        s.bind_ok("/CollY/", "bar.html", "/CollX/foo.html")
        yield s


def test_B_5_1_unbind_removes_exactly_that_binding(srv):
    rid = srv.rid("/CollX/foo.html")
    r = srv.unbind("/CollX/", "foo.html")
    assert r.status_code == 204
    assert srv.get("/CollX/foo.html").status_code == 404
    assert srv.rid("/CollY/bar.html") == rid
    assert srv.parents("/CollY/bar.html") == [("/CollY/", "bar.html")]


def test_B_5_1_unbind_of_a_collection_binding_keeps_its_other_paths(srv):
    srv.bind_ok("/", "alias", "/CollX/")
    members = srv.members("/CollX/")
    assert srv.unbind("/", "CollX").status_code == 204
    assert srv.members("/alias/") == members
    assert srv.get("/alias/foo.html").content == b"<p>foo</p>"


def test_B_5_2_no_reclamation_while_a_mapping_remains(srv):
    assert srv.unbind("/CollX/", "foo.html").status_code == 204
    assert len(srv.stored()) == 1
    assert srv.get("/CollY/bar.html").content == b"<p>foo</p>"
    assert srv.unbind("/CollY/", "bar.html").status_code == 204
    assert srv.stored() == []


def test_B_5_2_unreachable_cycle_is_reclaimed(srv):
    # /cyc{inner{back->cyc, data}}: a cycle whose only path from the root is /cyc.
    srv.mkcol("/cyc")
    srv.mkcol("/cyc/inner")
    srv.put("/cyc/inner/data", b"cycle payload")
    srv.bind_ok("/cyc/inner/", "back", "/cyc/")
    rids = {srv.rid("/cyc/"), srv.rid("/cyc/inner/"), srv.rid("/cyc/inner/data")}
    blobs = len(srv.stored())
    assert srv.unbind("/", "cyc").status_code == 204
    assert srv.get("/cyc/").status_code == 404
    assert not rids & set(fx.state(srv).values())
    assert len(srv.stored()) == blobs - 1


def test_B_5_2_cycle_with_another_path_survives(srv):
    srv.mkcol("/cyc")
    srv.mkcol("/cyc/inner")
    srv.bind_ok("/cyc/inner/", "back", "/cyc/")
    srv.bind_ok("/CollY/", "entry", "/cyc/inner/")
    rid = srv.rid("/cyc/")
    assert srv.unbind("/", "cyc").status_code == 204
    assert srv.rid("/CollY/entry/back/") == rid


def test_B_5_3_unbind_is_idempotent_and_atomic(srv):
    first = srv.unbind("/CollX/", "foo.html")
    after = fx.state(srv)
    second = srv.unbind("/CollX/", "foo.html")
    assert first.status_code == 204
    assert second.status_code == 409  # unbind-source-exists: nothing else changes
    assert fx.state(srv) == after


def test_B_5_3_failed_unbind_changes_nothing(srv):
    srv.lock("/CollX/", depth="0")
    before = fx.state(srv)
    assert srv.unbind("/CollX/", "foo.html").status_code == 423
    assert fx.state(srv) == before


def test_B_5_4_success_is_200_or_204_with_no_or_unbind_response_body(srv):
    r = srv.unbind("/CollX/", "foo.html")
    assert r.status_code in (200, 204)
    if r.content.strip():
        assert fx.ET.fromstring(r.content).tag == fx.D + "unbind-response"


def test_B_5_P1_unbind_from_collection_409_for_non_collection(srv):
    before = fx.state(srv)
    r = srv.unbind("/CollX/foo.html", "x")
    assert r.status_code == 409
    assert fx.error_names(r) == ["unbind-from-collection"]
    assert fx.state(srv) == before


def test_B_5_P1_unmapped_request_uri_404(srv):
    assert srv.unbind("/nowhere/", "foo.html").status_code == 404


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param("missing.html", id="B-5-P2-no-such-binding"),
        pytest.param("FOO.HTML", id="B-5-P2-case-sensitive"),
        pytest.param("..", id="B-5-P2-invalid-name"),
    ],
)
def test_B_5_P2_unbind_source_exists_409(srv, segment):
    before = fx.state(srv)
    r = srv.unbind("/CollX/", segment)
    assert r.status_code == 409
    assert fx.error_names(r) == ["unbind-source-exists"]
    assert fx.state(srv) == before


def test_B_5_P2_bad_body_400(srv):
    r = srv.request("UNBIND", "/CollX/", {"Content-Type": fx.XML_CT}, b"<D:unbind xmlns:D='DAV:'/>")
    assert r.status_code == 400


def test_B_5_P3_locked_update_allowed_423(srv):
    token = srv.lock("/CollX/", depth="0")
    r = srv.unbind("/CollX/", "foo.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {"lock-token-submitted", "locked-update-allowed"}
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX"]
    assert srv.unbind("/CollX/", "foo.html", If=f"(<{token}>)").status_code == 204


def test_B_5_P4_protected_url_deletion_allowed_423(srv):
    token = srv.lock("/CollX/foo.html", depth="0")
    r = srv.unbind("/CollX/", "foo.html")
    assert r.status_code == 423
    assert set(fx.error_names(r)) == {"lock-token-submitted", "protected-url-deletion-allowed"}
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX/foo.html"]
    # The other binding of the same (locked) resource is not protected (RFC 5842 §9).
    assert srv.unbind("/CollY/", "bar.html").status_code == 204
    # With the token (tagged: the lock is on the member, not on the Request-URI) it goes,
    # and so does the lock (postcondition DAV:lock-deleted).
    srv.bind_ok("/CollY/", "bar.html", "/CollX/foo.html")
    r = srv.unbind("/CollX/", "foo.html", If=f"</CollX/foo.html> (<{token}>)")
    assert r.status_code == 204
    lockdisc = srv.one("/CollY/bar.html", "lockdiscovery").prop("lockdiscovery")
    assert lockdisc is not None and list(lockdisc) == []


def test_B_5_P4_lock_root_below_the_unbound_binding(srv):
    srv.mkcol("/CollX/sub")
    srv.put("/CollX/sub/deep", b"d")
    token = srv.lock("/CollX/sub/deep", depth="0")
    r = srv.unbind("/", "CollX")
    assert r.status_code == 423
    assert "protected-url-deletion-allowed" in fx.error_names(r)
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX/sub/deep"]
    r = srv.unbind("/", "CollX", If=f"</CollX/sub/deep> (<{token}>)")
    assert r.status_code == 204
