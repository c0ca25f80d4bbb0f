"""Locks and bindings (RFC 5842 §9; docs/protocol-decisions.md §4.9, A-9, A-10, A-19).

Spec rows: B-9-1 … B-9-8.  The lock-root is a URL: the locked *state* belongs to the
resource (every URL of it needs the token), but only the lock-root URL is protected
against being unmapped.  Tokens for a URL other than the Request-URI go in a tagged
``If`` list (RFC 4918 §10.4), as a client must send them.
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


def e17(srv: fx.Srv) -> str:
    """Root{CollX->C1, CollY->C2}; C1{test->R}; C2{test->R}; depth-0 lock via /CollX/test."""
    srv.mkcol("/CollX")
    srv.mkcol("/CollY")
    srv.put("/CollX/test", b"R")
    srv.bind_ok("/CollY/", "test", "/CollX/test")
    return srv.lock("/CollX/test", depth="0")


def lockroots(srv: fx.Srv, url: str) -> list[str]:
    """The DAV:lockroot hrefs of the active locks seen through ``url``."""
    el = srv.one(url, "lockdiscovery").prop("lockdiscovery")
    assert el is not None
    return [
        fx.no_slash((a.findtext(f"{fx.D}lockroot/{fx.D}href") or "").strip())
        for a in el.findall(fx.D + "activelock")
    ]


def test_B_9_1_lock_root_is_the_url_used(srv):
    token = e17(srv)
    assert lockroots(srv, "/CollX/test") == ["/CollX/test"]
    assert lockroots(srv, "/CollY/test") == ["/CollX/test"]
    # Aliases of the lock-root URL (another host name, same path) are protected too.
    r = srv.request(
        "UNBIND", "/CollX/", {"Host": "example.com", "Content-Type": fx.XML_CT},
        fx.unbind_body("test"),
    )  # fmt: skip
    assert r.status_code == 423
    assert token


@pytest.mark.parametrize("via", ["/CollX/test", "/CollY/test"])
@pytest.mark.parametrize("method", ["PUT", "PROPPATCH"])
def test_B_9_2_locked_state_needs_the_token_through_every_url(srv, via, method):
    token = e17(srv)
    body = b"new" if method == "PUT" else fx.displayname_patch("n")
    r = srv.request(method, via, {"Content-Type": fx.XML_CT}, body)
    assert r.status_code == 423
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/CollX/test"]
    r = srv.request(method, via, {"Content-Type": fx.XML_CT, "If": f"(<{token}>)"}, body)
    assert r.status_code in (204, 207)


def test_B_9_2_membership_of_a_locked_collection_through_another_binding(srv):
    srv.mkcol("/A")
    srv.put("/A/x", b"x")
    srv.bind_ok("/", "B", "/A/")
    srv.mkcol("/elsewhere")
    srv.put("/elsewhere/f", b"f")
    token = srv.lock("/A/", depth="0")
    for method, url, body in (
        ("PUT", "/B/new", b"n"),
        ("MKCOL", "/B/newcol", b""),
        ("DELETE", "/B/x", b""),
        ("BIND", "/B/", fx.bind_body("b", "/elsewhere/f")),
        ("UNBIND", "/B/", fx.unbind_body("x")),
    ):
        r = srv.request(method, url, {"Content-Type": fx.XML_CT}, body)
        assert r.status_code == 423, (method, url, r.text)
        assert fx.condition_hrefs(r, "lock-token-submitted") == ["/A"]
    r = srv.bind("/B/", "b", "/elsewhere/f", If=f"(<{token}>)")
    assert r.status_code == 201


def test_B_9_3_only_the_lock_root_url_is_protected(srv):
    e17(srv)
    assert srv.delete("/CollY/test").status_code == 204
    # R lives on, still locked through its lock-root URL.
    assert lockroots(srv, "/CollX/test") == ["/CollX/test"]


NEEDS_TOKEN = {
    "put-CollX": ("PUT", "/CollX/test", {}, b"x"),
    "put-CollY": ("PUT", "/CollY/test", {}, b"x"),
    "proppatch-CollY": ("PROPPATCH", "/CollY/test", {}, fx.displayname_patch("n")),
    "delete-CollX-test": ("DELETE", "/CollX/test", {}, b""),
    "delete-CollX": ("DELETE", "/CollX/", {}, b""),
    "unbind-test-from-C1": ("UNBIND", "/CollX/", {}, fx.unbind_body("test")),
    "unbind-CollX-from-root": ("UNBIND", "/", {}, fx.unbind_body("CollX")),
    "move-CollX-test": ("MOVE", "/CollX/test", {"Destination": "/moved"}, b""),
    "move-CollX": ("MOVE", "/CollX/", {"Destination": "/moved/"}, b""),
    "rebind-CollX-test": ("REBIND", "/", {}, fx.rebind_body("moved", "/CollX/test")),
}
NO_TOKEN = {
    "delete-CollY-test": ("DELETE", "/CollY/test", {}, b""),
    "delete-CollY": ("DELETE", "/CollY/", {}, b""),
    "unbind-test-from-C2": ("UNBIND", "/CollY/", {}, fx.unbind_body("test")),
    "unbind-CollY-from-root": ("UNBIND", "/", {}, fx.unbind_body("CollY")),
    "move-CollY-test": ("MOVE", "/CollY/test", {"Destination": "/moved"}, b""),
    "rebind-CollY-test": ("REBIND", "/", {}, fx.rebind_body("moved", "/CollY/test")),
    "get-CollY-test": ("GET", "/CollY/test", {}, b""),
}


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [pytest.param(*v, id=f"B-9-4-{k}") for k, v in NEEDS_TOKEN.items()],
)
def test_B_9_4_requests_that_need_the_token(srv, method, url, headers, body):
    token = e17(srv)
    hdrs = {"Content-Type": fx.XML_CT, **headers}
    before = {p: r.rid for p, r in srv.paths("/").items()}
    r = srv.request(method, url, hdrs, body)
    assert r.status_code == 423, r.text
    assert {p: r.rid for p, r in srv.paths("/").items()} == before
    tagged = {**hdrs, "If": f"</CollX/test> (<{token}>)"}
    r = srv.request(method, url, tagged, body)
    assert r.status_code in (200, 201, 204, 207), r.text


@pytest.mark.parametrize(
    ("method", "url", "headers", "body"),
    [pytest.param(*v, id=f"B-9-4-{k}") for k, v in NO_TOKEN.items()],
)
def test_B_9_4_requests_that_do_not_need_the_token(srv, method, url, headers, body):
    e17(srv)
    r = srv.request(method, url, {"Content-Type": fx.XML_CT, **headers}, body)
    assert r.status_code in (200, 201, 204), r.text
    assert lockroots(srv, "/CollX/test") == ["/CollX/test"]  # the lock is untouched


@pytest.mark.parametrize("via", ["/CollX/test", "/CollY/test"])
def test_B_9_5_unlock_through_any_url_of_the_resource(srv, via):
    token = e17(srv)
    r = srv.request("UNLOCK", via, {"Lock-Token": f"<{token}>"})
    assert r.status_code == 204
    assert lockroots(srv, "/CollX/test") == []
    assert srv.request("PUT", "/CollX/test", {}, b"free").status_code == 204


def test_B_9_5_unlock_through_an_unrelated_url_409(srv):
    token = e17(srv)
    srv.put("/other", b"o")
    r = srv.request("UNLOCK", "/other", {"Lock-Token": f"<{token}>"})
    assert r.status_code == 409
    assert fx.error_names(r) == ["lock-token-matches-request-uri"]


def test_B_9_6_depth_infinity_lock_seen_through_another_binding(srv):
    srv.mkcol("/A")
    srv.put("/A/x", b"x")
    srv.bind_ok("/", "B", "/A/")
    token = srv.lock("/A/")
    # lockdiscovery through /B shows the original lock-root.
    assert lockroots(srv, "/B/") == ["/A"]
    assert lockroots(srv, "/B/x") == ["/A"]
    # Members are locked (state) under /B too ...
    assert srv.request("PUT", "/B/x", {}, b"y").status_code == 423
    # ... a new lock through /B on a covered member conflicts ...
    r = srv.request("LOCK", "/B/x", {"Depth": "0", "Content-Type": fx.XML_CT}, fx.lockinfo())
    assert r.status_code == 423
    assert fx.error_names(r) == ["no-conflicting-lock"]
    assert fx.condition_hrefs(r, "no-conflicting-lock") == ["/A"]
    # ... but /B itself is not protected: the root is not locked, so it can go.
    assert srv.delete("/B/").status_code == 204
    assert lockroots(srv, "/A/x") == ["/A"]
    assert token


def test_B_9_7_unmapping_the_lock_root_deletes_the_lock(srv):
    token = e17(srv)
    r = srv.unbind("/CollX/", "test", If=f"</CollX/test> (<{token}>)")
    assert r.status_code == 204
    assert lockroots(srv, "/CollY/test") == []
    assert srv.request("PUT", "/CollY/test", {}, b"unlocked now").status_code == 204
    r = srv.request("UNLOCK", "/CollY/test", {"Lock-Token": f"<{token}>"})
    assert r.status_code == 409


@pytest.mark.parametrize("method", ["DELETE", "MOVE", "REBIND"])
def test_B_9_7_lock_deleted_by_every_unmapping_method(srv, method):
    token = e17(srv)
    tagged = f"</CollX/test> (<{token}>)"
    if method == "DELETE":
        r = srv.delete("/CollX/test", If=tagged)
    elif method == "MOVE":
        r = srv.move("/CollX/test", "/moved", If=tagged)
    else:
        r = srv.rebind("/", "moved", "/CollX/test", If=tagged)
    assert r.status_code in (201, 204), r.text
    assert lockroots(srv, "/CollY/test") == []


def test_B_9_8_rebind_inside_a_locked_loop_keeps_the_lock(srv):
    # E14 (RFC 5842 §6.2) with our own token.
    srv.mkcol("/CollW")
    srv.mkcol("/CollW/CollX")
    srv.mkcol("/CollW/CollY")
    srv.put("/CollW/CollY/y.gif", b"R2")
    srv.bind_ok("/CollW/CollY/", "CollZ", "/CollW/")
    token = srv.lock("/CollW/")
    r = srv.rebind("/CollW/CollX/", "CollA", "/CollW/CollY/CollZ")
    assert r.status_code == 423  # both C2 and C3 are locked by L1
    r = srv.rebind("/CollW/CollX/", "CollA", "/CollW/CollY/CollZ", If=f"(<{token}>)")
    assert r.status_code == 201
    assert lockroots(srv, "/CollW/") == ["/CollW"]
    for url in ("/CollW/CollX/", "/CollW/CollY/y.gif", "/CollW/CollX/CollA/CollY/"):
        assert lockroots(srv, url) == ["/CollW"], url
    assert srv.request("PUT", "/CollW/CollY/y.gif", {}, b"x").status_code == 423


@pytest.mark.parametrize("method", ["UNBIND", "DELETE", "MOVE"])
def test_B_9_7_lock_root_reached_through_another_path_of_the_parent(srv, method):
    srv.mkcol("/a")
    srv.put("/a/f", b"R")
    srv.bind_ok("/", "b", "/a/")  # /a/f and /b/f are one binding (C, f)
    srv.bind_ok("/", "keep", "/a/f")  # R survives the unbinding
    token = srv.lock("/b/f", depth="0")

    def unmap(**headers: str):
        if method == "UNBIND":
            return srv.unbind("/a/", "f", **headers)
        if method == "DELETE":
            return srv.delete("/a/f", **headers)
        return srv.move("/a/f", "/moved", **headers)

    r = unmap()
    assert r.status_code == 423, "unmapping the lock-root URL /b/f needs the token"
    assert fx.condition_hrefs(r, "lock-token-submitted") == ["/b/f"]
    assert unmap(If=f"</b/f> (<{token}>)").status_code in (201, 204)
    assert lockroots(srv, "/keep") == []


def test_B_9_7_copy_unmapping_a_lock_root_member_deletes_the_lock(srv):
    srv.mkcol("/src")
    srv.put("/src/f", b"f")
    srv.mkcol("/dst")
    srv.put("/dst/extra", b"e")
    srv.bind_ok("/", "keep", "/dst/extra")
    token = srv.lock("/dst/extra", depth="0")
    r = srv.copy("/src/", "/dst/", If=f"</dst/extra> (<{token}>)")
    assert r.status_code == 204
    assert set(srv.members("/dst/")) == {"f"}
    assert lockroots(srv, "/keep") == []
    assert srv.request("PUT", "/keep", {}, b"x").status_code == 204
