"""LOCK and UNLOCK, and what write locks protect (RFC 4918 §6, §7, §9.10, §9.11, §10.4;
RFC 5842 §9: the lock root is the URL the lock was taken through)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET

import pytest

D = "{DAV:}"
LOCKINFO = (
    '<?xml version="1.0" encoding="utf-8"?>'
    '<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope>'
    "<D:locktype><D:write/></D:locktype>"
    '<D:owner><D:href>mailto:ann@example.com</D:href><x:n xmlns:x="urn:x">Ann</x:n></D:owner>'
    "</D:lockinfo>"
)


def _lock(dav, url, scope="exclusive", depth="infinity", **headers):
    hdrs = {"Depth": depth, "Content-Type": "application/xml"}
    hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
    return dav.request("LOCK", url, headers=hdrs, content=LOCKINFO.format(scope=scope))


def _token(r):
    value = r.headers["lock-token"]
    assert value.startswith("<urn:uuid:") and value.endswith(">"), value
    return value[1:-1]


def _activelocks(dav, url):
    (entry,) = dav.props(url, (D + "lockdiscovery",)).values()
    status, el = entry[D + "lockdiscovery"]
    assert status == 200
    return el.findall(D + "activelock")


def _summary(active):
    return {
        "token": active.findtext(f"{D}locktoken/{D}href"),
        "root": active.findtext(f"{D}lockroot/{D}href"),
        "depth": active.findtext(D + "depth"),
        "scope": active.find(D + "lockscope")[0].tag,
        "timeout": active.findtext(D + "timeout"),
    }


def _paths(hrefs):
    """Hrefs without a trailing slash (see test_collection_lock_root_href_has_slash)."""
    return [h.rstrip("/") or "/" for h in hrefs]


def _if(token, tag=None):
    """An untagged list applies to the Request-URI; a token locking another resource
    (the destination, a locked parent or member) goes in a list tagged with its URL."""
    if tag is None:
        return {"If": f"(<{token}>)"}
    return {"If": f"<http://testserver{tag}> (<{token}>)"}


# --------------------------------------------------------------------------- LOCK itself


def test_lock_response(dav):
    dav.put("/f", b"x")
    r = _lock(dav, "/f", depth="0", Timeout="Second-600")
    assert r.status_code == 200
    token = _token(r)
    root = ET.fromstring(r.content)
    assert root.tag == D + "prop"
    (active,) = root.findall(f"{D}lockdiscovery/{D}activelock")
    s = _summary(active)
    assert s["token"] == token
    assert s["root"] == "/f"
    assert s["depth"] == "0"
    assert s["scope"] == D + "exclusive"
    assert s["timeout"] in ("Second-600", "Second-599")
    owner = active.find(D + "owner")
    assert owner.findtext(D + "href") == "mailto:ann@example.com"
    assert owner.findtext("{urn:x}n") == "Ann"  # owner kept verbatim (§14.17)
    # the same lock shows in PROPFIND
    (shown,) = _activelocks(dav, "/f")
    assert _summary(shown)["token"] == token


@pytest.mark.parametrize(
    ("method", "url", "headers", "content", "ok", "tag"),
    [
        ("PUT", "/f", {}, b"new", 204, None),
        ("PROPPATCH", "/f", {"Content-Type": "application/xml"},
         '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>n</D:displayname>'
         "</D:prop></D:set></D:propertyupdate>", 207, None),
        ("DELETE", "/f", {}, None, 204, None),
        ("MOVE", "/f", {"Destination": "/g"}, None, 201, None),
        ("COPY", "/other", {"Destination": "/f"}, None, 204, "/f"),
        ("MOVE", "/other", {"Destination": "/f"}, None, 204, "/f"),
        ("LOCK", "/f", {"Content-Type": "application/xml"},
         LOCKINFO.format(scope="shared"), 423, None),  # a conflict: no token helps
    ],
)
def test_exclusive_lock_needs_token(dav, method, url, headers, content, ok, tag):
    dav.put("/f", b"x")
    dav.put("/other", b"other")
    token = _token(_lock(dav, "/f", depth="0"))
    before = dav.snapshot()
    r = dav.request(method, url, headers=headers, content=content)
    assert r.status_code == 423, r.text
    if method == "LOCK":
        assert dav.error_names(r) == ["no-conflicting-lock"]
        assert dav.condition_hrefs(r, "no-conflicting-lock") == ["/f"]
    else:
        assert dav.error_names(r) == ["lock-token-submitted"]
        assert dav.condition_hrefs(r, "lock-token-submitted") == ["/f"]
    assert dav.snapshot() == before
    r = dav.request(method, url, headers={**headers, **_if(token, tag)}, content=content)
    assert r.status_code == ok, r.text


def test_wrong_token_is_412_and_changes_nothing(dav):
    dav.put("/f", b"x")
    _lock(dav, "/f")
    r = dav.request("PUT", "/f", headers=_if("urn:uuid:00000000-0000-4000-8000-000000000000"),
                    content=b"new")
    assert r.status_code == 412
    assert dav.request("GET", "/f").content == b"x"


@pytest.mark.parametrize(
    ("first", "second", "status"),
    [
        ("shared", "shared", 200),
        ("shared", "exclusive", 423),
        ("exclusive", "shared", 423),
        ("exclusive", "exclusive", 423),
    ],
)
def test_lock_compatibility(dav, first, second, status):
    dav.put("/f", b"x")
    t1 = _token(_lock(dav, "/f", scope=first))
    r = _lock(dav, "/f", scope=second)
    assert r.status_code == status
    tokens = {_summary(a)["token"] for a in _activelocks(dav, "/f")}
    if status == 200:
        t2 = _token(r)
        assert t2 != t1
        assert tokens == {t1, t2}
    else:
        assert dav.error_names(r) == ["no-conflicting-lock"]
        assert tokens == {t1}


def test_shared_lock_any_holder_token_writes(dav):
    dav.put("/f", b"x")
    t1 = _token(_lock(dav, "/f", scope="shared"))
    t2 = _token(_lock(dav, "/f", scope="shared"))
    assert dav.request("PUT", "/f", content=b"a").status_code == 423
    assert dav.request("PUT", "/f", headers=_if(t2), content=b"b").status_code == 204
    assert dav.request("PUT", "/f", headers=_if(t1), content=b"c").status_code == 204


def test_infinity_lock_on_collection_blocks_members(dav):
    dav.mkcol("/c")
    dav.put("/c/old", b"x")
    token = _token(_lock(dav, "/c/"))
    before = dav.snapshot()
    for method, url, content in [
        ("PUT", "/c/new", b"n"),
        ("PUT", "/c/old", b"changed"),
        ("MKCOL", "/c/sub", None),
        ("DELETE", "/c/old", None),
    ]:
        r = dav.request(method, url, content=content)
        assert r.status_code == 423, (method, url)
        assert _paths(dav.condition_hrefs(r, "lock-token-submitted")) == ["/c"]
    assert dav.snapshot() == before
    # an unmapped URL is in the scope of its parent's locks: an untagged list with the
    # collection's token is true there (what clients send to create a member, §10.4.4)
    assert dav.request("PUT", "/c/new", headers=_if(token), content=b"n").status_code == 201
    assert dav.request("DELETE", "/c/new", headers=_if(token)).status_code == 204
    r = dav.request("PUT", "/c/new", headers=_if(token, "/c/"), content=b"n")
    assert r.status_code == 201
    # the new member is covered by the collection's lock
    (active,) = _activelocks(dav, "/c/new")
    summary = _summary(active)
    assert _paths([summary["root"]]) == ["/c"]
    assert summary | {"timeout": None, "root": None} == {
        "token": token, "root": None, "depth": "infinity",
        "scope": D + "exclusive", "timeout": None,
    }
    assert dav.request("PUT", "/c/new", content=b"again").status_code == 423


def test_collection_lock_root_href_has_slash(dav):
    dav.mkcol("/c")
    r = _lock(dav, "/c/")
    (active,) = ET.fromstring(r.content).findall(f"{D}lockdiscovery/{D}activelock")
    blocked = dav.request("PUT", "/c/new", content=b"x")
    assert blocked.status_code == 423
    assert dav.condition_hrefs(blocked, "lock-token-submitted") == ["/c/"]
    assert _summary(active)["root"] == "/c/"


def test_depth0_lock_on_collection(dav):
    dav.mkcol("/c")
    dav.put("/c/old", b"x")
    _lock(dav, "/c/", depth="0")
    # member content is not protected by a depth-0 lock (§7.4) ...
    assert dav.request("PUT", "/c/old", content=b"y").status_code == 204
    # ... but the membership is
    assert dav.request("PUT", "/c/new", content=b"n").status_code == 423
    assert dav.request("DELETE", "/c/old").status_code == 423


@pytest.mark.parametrize("depth", ["1", "bogus"])
def test_lock_bad_depth(dav, depth):
    dav.mkcol("/c")
    r = _lock(dav, "/c/", depth=depth)
    assert r.status_code == 400
    assert _activelocks(dav, "/c/") == []


# --------------------------------------------------------------------------- refresh


def test_refresh(dav):
    dav.put("/f", b"x")
    token = _token(_lock(dav, "/f", Timeout="Second-100"))
    r = dav.request("LOCK", "/f", headers={**_if(token), "Timeout": "Second-5000"})
    assert r.status_code == 200
    assert "lock-token" not in r.headers
    (active,) = ET.fromstring(r.content).findall(f"{D}lockdiscovery/{D}activelock")
    assert _summary(active)["token"] == token
    assert _summary(active)["timeout"] in ("Second-5000", "Second-4999")
    (shown,) = _activelocks(dav, "/f")
    assert _summary(shown)["timeout"] in ("Second-5000", "Second-4999")


def test_refresh_through_member_of_infinity_lock(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"x")
    token = _token(_lock(dav, "/c/"))
    r = dav.request("LOCK", "/c/f", headers=_if(token))
    assert r.status_code == 200


def test_refresh_with_unknown_token(dav):
    dav.put("/f", b"x")
    _lock(dav, "/f")
    r = dav.request("LOCK", "/f", headers=_if("urn:uuid:00000000-0000-4000-8000-000000000000"))
    assert r.status_code == 412
    assert dav.error_names(r) == ["lock-token-matches-request-uri"]


def test_expired_lock_stops_protecting(dav):
    dav.put("/f", b"x")
    _lock(dav, "/f", Timeout="Second-1")
    assert dav.request("PUT", "/f", content=b"y").status_code == 423
    time.sleep(1.3)
    assert dav.request("PUT", "/f", content=b"y").status_code == 204
    assert _activelocks(dav, "/f") == []


# --------------------------------------------------------------------------- UNLOCK


def test_unlock(dav):
    dav.put("/f", b"x")
    token = _token(_lock(dav, "/f"))
    r = dav.request("UNLOCK", "/f", headers={"Lock-Token": "<urn:uuid:nope>"})
    assert r.status_code == 409
    assert dav.error_names(r) == ["lock-token-matches-request-uri"]
    assert len(_activelocks(dav, "/f")) == 1
    r = dav.request("UNLOCK", "/f", headers={"Lock-Token": f"<{token}>"})
    assert r.status_code == 204
    assert _activelocks(dav, "/f") == []
    assert dav.request("PUT", "/f", content=b"free").status_code == 204
    again = dav.request("UNLOCK", "/f", headers={"Lock-Token": f"<{token}>"})
    assert again.status_code == 409


def test_unlock_other_resource_token(dav):
    dav.put("/f", b"x")
    dav.put("/g", b"x")
    token = _token(_lock(dav, "/f"))
    r = dav.request("UNLOCK", "/g", headers={"Lock-Token": f"<{token}>"})
    assert r.status_code == 409
    assert dav.error_names(r) == ["lock-token-matches-request-uri"]
    assert len(_activelocks(dav, "/f")) == 1


def test_unlock_through_member_of_infinity_lock(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"x")
    token = _token(_lock(dav, "/c/"))
    r = dav.request("UNLOCK", "/c/f", headers={"Lock-Token": f"<{token}>"})
    assert r.status_code == 204
    assert _activelocks(dav, "/c/") == []


# --------------------------------------------------------------------------- lock-empty


def test_lock_unmapped_url_creates_empty_resource(dav):
    r = _lock(dav, "/new.txt")
    assert r.status_code == 201
    token = _token(r)
    g = dav.request("GET", "/new.txt")
    assert g.status_code == 200
    assert g.headers["content-length"] == "0"
    assert g.content == b""
    assert "/new.txt" in dav.props("/", (D + "getetag",), depth="1")
    m = dav.request("MKCOL", "/new.txt", headers=_if(token))
    assert m.status_code == 405
    # it stays a non-collection; the lock holder can fill it
    assert dav.request("PUT", "/new.txt", content=b"data").status_code == 423
    assert dav.request("PUT", "/new.txt", headers=_if(token), content=b"data").status_code == 204
    # and it does not vanish on UNLOCK
    dav.request("UNLOCK", "/new.txt", headers={"Lock-Token": f"<{token}>"})
    assert dav.request("GET", "/new.txt").content == b"data"


def test_lock_unmapped_url_without_parent(dav):
    r = _lock(dav, "/nope/new")
    assert r.status_code == 409
    assert dav.request("GET", "/nope").status_code == 404


# --------------------------------------------------------------------------- persistence


def test_locks_survive_restart(make_dav):
    first = make_dav()
    first.mkcol("/c")
    first.put("/c/f", b"x")
    token = _token(_lock(first, "/c/f", depth="0", Timeout="Second-3600"))
    first.close()
    second = make_dav()
    (active,) = _activelocks(second, "/c/f")
    s = _summary(active)
    assert s["token"] == token
    assert s["root"] == "/c/f"
    assert s["depth"] == "0"
    assert dav_put(second, "/c/f") == 423
    assert dav_put(second, "/c/f", token) == 204


def dav_put(dav, url, token=None):
    headers = _if(token) if token else {}
    return dav.request("PUT", url, headers=headers, content=b"y").status_code


# --------------------------------------------------------------------------- unmapping


def test_delete_parent_of_locked_member(dav):
    dav.mkcol("/c")
    dav.mkcol("/c/sub")
    dav.put("/c/sub/f", b"x")
    token = _token(_lock(dav, "/c/sub/f", depth="0"))
    before = dav.snapshot()
    r = dav.request("DELETE", "/c/")
    assert r.status_code == 423
    assert dav.error_names(r) == ["lock-token-submitted"]
    assert dav.condition_hrefs(r, "lock-token-submitted") == ["/c/sub/f"]
    assert dav.snapshot() == before
    r = dav.request("DELETE", "/c/", headers=_if(token, "/c/sub/f"))
    assert r.status_code == 204
    assert dav.request("GET", "/c/sub/f").status_code == 404
    # the lock went with its root URL: the name is free for anyone
    assert dav.request("PUT", "/f", content=b"x").status_code == 201


def test_move_locked_resource_drops_lock_at_source(dav):
    dav.put("/f", b"x")
    token = _token(_lock(dav, "/f", depth="0"))
    r = dav.request("MOVE", "/f", headers={"Destination": "/g"})
    assert r.status_code == 423
    r = dav.request("MOVE", "/f", headers={"Destination": "/g", **_if(token)})
    assert r.status_code == 201
    assert _activelocks(dav, "/g") == []
    assert dav.request("PUT", "/g", content=b"y").status_code == 204
    assert dav.request("PUT", "/f", content=b"new").status_code == 201
    r = dav.request("UNLOCK", "/g", headers={"Lock-Token": f"<{token}>"})
    assert r.status_code == 409


def test_move_into_locked_collection_needs_its_token(dav):
    dav.mkcol("/c")
    dav.put("/f", b"x")
    token = _token(_lock(dav, "/c/"))
    before = dav.snapshot()
    r = dav.request("MOVE", "/f", headers={"Destination": "/c/f"})
    assert r.status_code == 423
    assert _paths(dav.condition_hrefs(r, "lock-token-submitted")) == ["/c"]
    assert dav.snapshot() == before
    r = dav.request("MOVE", "/f", headers={"Destination": "/c/f", **_if(token, "/c/")})
    assert r.status_code == 201
    (active,) = _activelocks(dav, "/c/f")  # joins the destination's lock (§7.6)
    assert _summary(active)["token"] == token


def test_copy_does_not_copy_locks(dav):
    dav.put("/f", b"x")
    _lock(dav, "/f")
    r = dav.request("COPY", "/f", headers={"Destination": "/g"})
    assert r.status_code == 201  # the source is not modified: no token needed
    assert _activelocks(dav, "/g") == []
    assert len(_activelocks(dav, "/f")) == 1


def test_infinity_lock_blocked_by_member_lock_is_207(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"x")
    _lock(dav, "/c/f", depth="0")
    r = _lock(dav, "/c/")
    assert r.status_code == 207
    assert "lock-token" not in r.headers
    root = ET.fromstring(r.content)
    statuses = {
        resp.findtext(D + "href"): int(resp.findtext(D + "status").split()[1])
        for resp in root.findall(D + "response")
    }
    assert statuses == {"/c/f": 423, "/c/": 424}  # RFC 4918 §9.10.3, example §9.10.9
    assert _activelocks(dav, "/c/") == []
    assert dav.request("PUT", "/c/new", content=b"n").status_code == 201


# --------------------------------------------------------------------------- If header


@pytest.mark.parametrize(
    ("if_header", "status"),
    [
        ("([{etag}])", 204),
        ("([W/{etag}])", 204),  # entity tags in If use the weak comparison (§10.4.4)
        ('(["wrong"])', 412),
        ("(Not [{etag}])", 412),
        ("(Not <DAV:no-lock>)", 204),  # always true (§10.4.8)
        ("(<DAV:no-lock>)", 412),
        ("(<urn:uuid:00000000-0000-4000-8000-000000000000>) (Not <DAV:no-lock>)", 204),  # OR
        ("([{etag}] <DAV:no-lock>)", 412),  # AND
        ("<http://testserver/g> ([{etag_g}])", 204),  # a tagged list about another URL
        ('<http://testserver/g> (["wrong"])', 412),
        ("</missing> (Not <DAV:no-lock>)", 204),  # an unmapped URL has no state
        ('</missing> (["x"])', 412),
    ],
)
def test_if_header_evaluation(dav, if_header, status):
    etag = dav.put("/f", b"x").headers["etag"]
    etag_g = dav.put("/g", b"g").headers["etag"]
    header = if_header.format(etag=etag, etag_g=etag_g)
    r = dav.request("PUT", "/f", headers={"If": header}, content=b"new")
    assert r.status_code == status, r.text
    assert dav.request("GET", "/f").content == (b"new" if status == 204 else b"x")


def test_timeout_is_capped(make_dav):
    dav = make_dav(lock_timeout_max=3600)
    dav.put("/f", b"x")
    r = _lock(dav, "/f", Timeout="Second-4100000000")
    assert r.status_code == 200
    (active,) = ET.fromstring(r.content).findall(f"{D}lockdiscovery/{D}activelock")
    seconds = int(_summary(active)["timeout"].removeprefix("Second-"))
    assert 3590 <= seconds <= 3600
    r = _lock(dav, "/g", Timeout="Infinite")
    (active,) = ET.fromstring(r.content).findall(f"{D}lockdiscovery/{D}activelock")
    assert _summary(active)["timeout"] in ("Second-3600", "Second-3599", "Infinite")
