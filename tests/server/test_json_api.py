"""The JSON side of the server (decision D-3): the served schemas, problem documents for
every error status, typed locks and parent-set, propname, depth-noroot with 208, and the
displayname rule (D-1).  The ``conftest`` validates every JSON body against the schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from davbind.server.json_schema import SCHEMAS, text

D = "{DAV:}"
BASE = "http://testserver"
JSON = {"Accept": "application/json"}
DOCS = Path(__file__).resolve().parents[2] / "docs" / "json-schema"
ALL = (
    '<D:propfind xmlns:D="DAV:"><D:allprop/><D:include><D:parent-set/><D:resource-id/>'
    "</D:include></D:propfind>"
)


def _bind(dav: Any, coll: str, segment: str, target: str, **headers: str) -> Any:
    body = (f'<D:bind xmlns:D="DAV:"><D:segment>{segment}</D:segment>'
            f"<D:href>{target}</D:href></D:bind>")  # fmt: skip
    return dav.request("BIND", coll, headers=headers, content=body)


def _entries(dav: Any, url: str, depth: str, body: str = ALL, **headers: str) -> list[Any]:
    r = dav.propfind(url, body, depth, **JSON, **headers)
    assert r.status_code == 207, r.text
    return list(json.loads(r.content)["responses"])


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_schemas_are_served_and_documented(dav: Any, name: str) -> None:
    r = dav.request("GET", f"/.well-known/davbind/schema/{name}")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/schema+json"
    jsonschema.Draft202012Validator.check_schema(r.json())
    assert r.text == text(name) == (DOCS / name).read_text(encoding="utf-8")
    assert dav.request("HEAD", f"/.well-known/davbind/schema/{name}").status_code == 200


def test_unknown_schema_is_a_problem_document(dav: Any) -> None:
    r = dav.request("GET", "/.well-known/davbind/schema/nope.json", headers=JSON)
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "listing.json" in r.json()["detail"]


def _errors(dav: Any) -> list[tuple[int, Any]]:
    """One request per error status the server emits, each asking for JSON."""
    dav.mkcol("/a/")
    dav.put("/a/f", b"data")
    dav.mkcol("/a/b/")
    assert _bind(dav, "/a/b/", "up", "/a/").status_code == 201  # a loop: /a/b/up/ = /a/
    token = dav.lock("/a/f")
    loop = dav.propfind("/a/", "", "infinity", **JSON)
    return [  # the second 409 (UNLOCK) is last: the condition test reads that one
        (400, dav.propfind("/a/", "<not xml", "0", **JSON)),
        (403, dav.request("MOVE", "/a/f", headers={**JSON, "Destination": f"{BASE}/a/f"})),
        (404, dav.request("GET", "/nowhere", headers=JSON)),
        (405, dav.request("MKCOL", "/a/", headers=JSON)),
        (409, dav.request("PUT", "/no/such/f", headers=JSON, content=b"x")),
        (412, dav.request("PUT", "/a/g", headers={**JSON, "If-Match": '"nope"'}, content=b"x")),
        (415, dav.request("MKCOL", "/m/", headers={**JSON, "Content-Type": "text/plain"},
                          content=b"x")),
        (416, dav.request("GET", "/a/f", headers={**JSON, "Range": "bytes=99-"})),
        (423, dav.request("PUT", "/a/f", headers=JSON, content=b"y")),
        (508, loop),
        (409, dav.request("UNLOCK", "/a/", headers={**JSON, "Lock-Token": f"<{token}>"})),
    ]


def test_every_error_status_is_a_problem_document(dav: Any) -> None:
    for status, r in _errors(dav):
        assert r.status_code == status, (status, r.text)
        assert r.headers["content-type"] == "application/problem+json", status
        doc = r.json()
        assert doc["status"] == status and doc["type"] == "about:blank"
        assert doc["title"] and doc["detail"]


def test_conditions_and_the_loop_binding(dav: Any) -> None:
    found = {s: r.json() for s, r in _errors(dav)}
    assert found[423]["dav:precondition"] == "lock-token-submitted"
    assert found[423]["dav:hrefs"] == ["/a/f"]
    assert found[409]["dav:precondition"] == "lock-token-matches-request-uri"
    assert found[508]["dav:loop-binding"] == "/a/b/up/"  # the binding back to /a/
    assert "dav:precondition" not in found[404]


def test_xml_errors_are_unchanged_without_json(dav: Any) -> None:
    dav.mkcol("/a/")
    assert _bind(dav, "/a/", "me", "/a/").status_code == 201
    r = dav.propfind("/a/", "", "infinity")
    assert r.status_code == 508
    assert r.headers["content-type"].startswith("application/xml")
    assert b"/a/me" not in r.content
    q0 = dav.request("GET", "/none", headers={"Accept": "application/json;q=0, */*"})
    assert q0.headers["content-type"].startswith("text/plain")


def test_locks_and_parent_set_are_typed(dav: Any) -> None:
    dav.mkcol("/c/")
    dav.put("/c/f", b"x")
    assert _bind(dav, "/", "alias", "/c/f").status_code == 201
    token = dav.lock("/c/", depth="infinity")
    (entry,) = _entries(dav, "/c/f", "0")
    (lock,) = entry["props"][D + "lockdiscovery"]
    assert lock["scope"] == "exclusive" and lock["depth"] == "infinity"
    assert lock["token"] == token and lock["root"] == "/c/"
    assert 0 < lock["timeout"] <= 3600 * 24 * 366
    assert lock["owner"]["text"] == "tester" and "owner" in lock["owner"]["xml"]
    assert entry["props"][D + "supportedlock"][1] == {"scope": "shared", "type": "write"}
    assert sorted(map(tuple, (p.values() for p in entry["props"][D + "parent-set"]))) == [
        ("/", "alias"), ("/c/", "f")]
    assert entry["props"][D + "resource-id"] == entry["resource_id"]


def test_propname_and_minimal(dav: Any) -> None:
    dav.put("/f", b"x")
    body = '<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
    (_root, f) = _entries(dav, "/", "1", body)
    assert D + "displayname" in f["propnames"] and D + "getcontentlength" in f["propnames"]
    named = '<D:propfind xmlns:D="DAV:"><D:prop><D:getcontentlength/></D:prop></D:propfind>'
    full = _entries(dav, "/", "1", named)
    assert full[0]["missing"] == [D + "getcontentlength"] and full[0]["props"] == {}
    minimal = _entries(dav, "/", "1", named, Prefer="return=minimal")
    assert "missing" not in minimal[0] and minimal[1]["props"] == {D + "getcontentlength": 1}


def test_noroot_208_names_the_target(dav: Any) -> None:
    dav.mkcol("/c/")
    assert _bind(dav, "/c/", "again", "/c/").status_code == 201
    got = _entries(dav, "/c/", "infinity", Prefer="depth-noroot", DAV="bind")
    assert [(e["href"], e["status"], e.get("first_reported_at")) for e in got] == [
        ("/c/again/", 208, "/c/")]


def test_displayname_is_the_segment_used_unless_set(dav: Any) -> None:
    dav.mkcol("/c/")
    dav.put("/c/f%20one", b"x")
    assert _bind(dav, "/", "other", "/c/f%20one").status_code == 201
    names = {e["href"]: e["props"][D + "displayname"] for e in _entries(dav, "/", "infinity")}
    assert names == {"/": "", "/c/": "c", "/c/f%20one": "f one", "/other": "other"}
    patch = ('<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><D:displayname>Mine'
             "</D:displayname></D:prop></D:set></D:propertyupdate>")  # fmt: skip
    assert dav.request("PROPPATCH", "/other", content=patch).status_code == 207
    names = {e["href"]: e["props"][D + "displayname"] for e in _entries(dav, "/", "infinity")}
    assert names["/other"] == names["/c/f%20one"] == "Mine"
    unset = patch.replace("D:set", "D:remove")
    assert dav.request("PROPPATCH", "/other", content=unset).status_code == 207
    xml = dav.props("/other", (D + "displayname",))["/other"][D + "displayname"]
    assert xml[0] == 200 and xml[1].text == "other"
