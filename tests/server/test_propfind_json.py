"""The JSON rendering of PROPFIND (``Accept: application/json``, decision D-3): the same
entries, in the same order and with the same statuses (208 included) and resource ids as
the XML form, every live property typed.  Every JSON body here is also checked against
the published schema (the ``conftest`` wraps the app)."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any

import pytest

D = "{DAV:}"
NAMED = (
    '<D:propfind xmlns:D="DAV:"><D:prop><D:displayname/><D:resource-id/>'
    "<D:getcontentlength/><D:resourcetype/></D:prop></D:propfind>"
)


def _loop_demo(dav: Any) -> None:
    """RFC 5842 §7.1.1: /Coll/ holds Foo and Bar, Bar is /Coll/ itself."""
    dav.mkcol("/Coll/")
    dav.put("/Coll/Foo", b"bird inventory")
    body = (
        '<D:bind xmlns:D="DAV:"><D:segment>Bar</D:segment><D:href>/Coll/</D:href></D:bind>'
    )
    assert dav.request("BIND", "/Coll/", content=body).status_code == 201
    patch = (
        '<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop>'
        "<D:displayname>Loop Demo</D:displayname></D:prop></D:set></D:propertyupdate>"
    )
    assert dav.request("PROPPATCH", "/Coll/", content=patch).status_code == 207


def _json(dav: Any, url: str, depth: str, body: str = NAMED, **headers: str) -> Any:
    r = dav.propfind(url, body, depth, Accept="application/json", DAV="bind", **headers)
    assert r.status_code == 207, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert "DAV" in r.headers["vary"]
    return json.loads(r.content)


def _xml_entries(dav: Any, url: str, depth: str, body: str = NAMED) -> list[tuple[str, int]]:
    r = dav.propfind(url, body, depth, DAV="bind")
    root = ET.fromstring(r.content)
    out = []
    for resp in root.findall(D + "response"):
        statuses = [int((s.text or "").split()[1]) for s in resp.iter(D + "status")]
        out.append((resp.findtext(D + "href") or "", min(statuses)))
    return out


def test_json_matches_the_rfc5842_example_with_208(dav: Any) -> None:
    _loop_demo(dav)
    doc = _json(dav, "/Coll/", "infinity")
    entries = doc["responses"]
    assert [(e["href"], e["status"]) for e in entries] == [
        ("/Coll/", 200),
        ("/Coll/Bar/", 208),
        ("/Coll/Foo", 200),
    ]
    coll, bar, foo = entries
    assert bar["resource_id"] == coll["resource_id"] != foo["resource_id"]
    assert coll["resource_id"].startswith("urn:uuid:")
    assert bar["props"]["{DAV:}displayname"] == "Loop Demo"
    assert bar["props"]["{DAV:}resource-id"] == coll["resource_id"]
    assert bar["first_reported_at"] == "/Coll/"
    assert "first_reported_at" not in coll and "first_reported_at" not in foo
    assert foo["props"]["{DAV:}getcontentlength"] == 14
    assert foo["props"]["{DAV:}resourcetype"] == []
    assert coll["props"]["{DAV:}resourcetype"] == ["collection"]
    assert foo["props"]["{DAV:}displayname"] == "Foo"  # its own segment (D-1)
    assert foo["collection"] is False and coll["collection"] is True
    assert "missing" not in foo


@pytest.mark.parametrize("depth", ["0", "1", "infinity"])
@pytest.mark.parametrize("body", [NAMED, ""], ids=["named", "allprop"])
def test_json_and_xml_list_the_same_entries(dav: Any, depth: str, body: str) -> None:
    _loop_demo(dav)
    dav.mkcol("/Coll/sub/")
    dav.put("/Coll/sub/x", b"x")
    doc = _json(dav, "/Coll/", depth, body)
    assert [(e["href"], e["status"]) for e in doc["responses"]] == _xml_entries(
        dav, "/Coll/", depth, body
    )


def test_json_prefer_minimal_and_noroot(dav: Any) -> None:
    _loop_demo(dav)
    doc = _json(dav, "/Coll/", "1", Prefer="return=minimal, depth-noroot")
    hrefs = [e["href"] for e in doc["responses"]]
    assert hrefs == ["/Coll/Bar/", "/Coll/Foo"]
    assert all("missing" not in e for e in doc["responses"])


def test_json_loop_without_bind_is_still_508(dav: Any) -> None:
    _loop_demo(dav)
    r = dav.propfind("/Coll/", NAMED, "infinity", Accept="application/json")
    assert r.status_code == 508
    assert "DAV" in r.headers["vary"]


def test_json_escapes_odd_names_and_values(dav: Any) -> None:
    dav.mkcol("/q/")
    dav.put('/q/a%22b%3Cc%3E%26.txt', b"1")
    patch = (
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
        '<Z:note>say "hi" &amp; &lt;bye&gt;</Z:note></D:prop></D:set></D:propertyupdate>'
    )
    assert dav.request("PROPPATCH", '/q/a%22b%3Cc%3E%26.txt', content=patch).status_code == 207
    body = (
        '<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><Z:note/><D:displayname/></D:prop>'
        "</D:propfind>"
    )
    doc = _json(dav, "/q/", "1", body)
    (entry,) = [e for e in doc["responses"] if not e["collection"]]
    assert entry["href"] == "/q/a%22b%3Cc%3E%26.txt"
    note = entry["props"]["{urn:z}note"]
    assert note["text"] == 'say "hi" & <bye>'
    assert ET.fromstring(note["xml"]).tag == "{urn:z}note"
    assert entry["props"]["{DAV:}displayname"] == 'a"b<c>&.txt'
