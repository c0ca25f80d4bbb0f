"""Every shipped scenario loads, serves each of its expectations over HTTP, and is consistent.

The rule kept here: each scenario is driven through a real :class:`MockServer` with
httpx by the requests in ``CASES`` (one or more per expectation); afterwards every
expectation has been met at least once and nothing was unexpected.  Each body is parsed
(incrementally, so the huge one too) and checked against RFC 4918 §14 structure, and a
resource-id must mean the same resource under every href of the scenario.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import pytest

from davbind.mock import MockServer, find_scenario, shipped_names

D = "{DAV:}"
STATUS = re.compile(r"^HTTP/1\.1 (\d{3}) \S")
BIND = {"Depth": "infinity", "DAV": "bind"}
INF = {"Depth": "infinity"}
ONE = {"Depth": "1"}
Case = tuple[str, str, dict[str, str], int]
OPTIONS: Case = ("OPTIONS", "/", {}, 200)

CASES: dict[str, list[Case]] = {
    "propstat-208": [("PROPFIND", "/Coll/", BIND, 207), OPTIONS],
    "bare-208": [("PROPFIND", "/Coll/", {"Depth": "infinity", "DAV": "1, 3, bind"}, 207),
                 OPTIONS],
    "duplicate-hrefs": [("PROPFIND", "/docs/", ONE, 207), OPTIONS],
    "no-propstat": [("PROPFIND", "/plain/", ONE, 207), OPTIONS],
    "loop-508-top": [("PROPFIND", "/Coll/", BIND, 207), ("PROPFIND", "/Coll/", INF, 508),
                     ("PROPFIND", "/Coll/", ONE, 207), ("PROPFIND", "/Coll/Bar/", ONE, 207),
                     ("PROPFIND", "/Coll/Bar/Bar/", ONE, 207), OPTIONS],
    "loop-508-midstream": [("PROPFIND", "/Loop/", INF, 207), OPTIONS],
    "finite-depth-403": [("PROPFIND", "/data/", INF, 403),
                         ("PROPFIND", "/data/photos/", INF, 403),
                         ("PROPFIND", "/data/", ONE, 207),
                         ("PROPFIND", "/data/empty/", ONE, 207),
                         ("PROPFIND", "/data/photos/", ONE, 207),
                         ("PROPFIND", "/data/photos/trips/", ONE, 207), OPTIONS],
    "huge-multistatus": [("PROPFIND", "/big/", ONE, 207), OPTIONS],
    "hrefs-relative-absolute": [("PROPFIND", "/mixed/", ONE, 207),
                                ("PROPFIND", "/mixed/sub/", ONE, 207), OPTIONS],
    "odd-percent-encoding": [("PROPFIND", "/enc/", ONE, 207),
                             ("PROPFIND", "/enc/%7ejoe/", ONE, 207),
                             ("PROPFIND", "/enc/caf%c3%a9.txt", {"Depth": "0"}, 207), OPTIONS],
    "namespace-prefixes": [("PROPFIND", "/ns/", ONE, 207), ("PROPFIND", "/ns/sub/", ONE, 207),
                           OPTIONS],
    "truncated-infinity": [("PROPFIND", "/deep/", INF, 207), ("PROPFIND", "/deep/", ONE, 207),
                           ("PROPFIND", "/deep/sub/", ONE, 207),
                           ("PROPFIND", "/deep/sub/sub2/", ONE, 207), OPTIONS],
}


@dataclass
class Resp:
    """One ``DAV:response`` reduced to what the checks need."""

    href: str  # resolved against the request URL: path, percent-decoded
    raw_href: str
    status: int | None  # response-level status
    propstats: list[int] = field(default_factory=list)
    resource_id: str | None = None
    collection: bool | None = None
    props: dict[str, str] = field(default_factory=dict)


def _status(text: str | None) -> int:
    m = STATUS.match((text or "").strip())
    assert m, f"not a status line: {text!r}"
    return int(m.group(1))


def _key(url: str, href: str) -> str:
    href = href.strip()
    plain = href.startswith("/") and not href.startswith("//") and "/." not in href
    path = unquote(href if plain else urlsplit(urljoin(url, href)).path)
    return path if path == "/" else path.rstrip("/")


def _response(url: str, el: ET.Element) -> Resp:
    hrefs = el.findall(D + "href")
    assert len(hrefs) == 1, "one href per response in these scenarios"
    raw = (hrefs[0].text or "").strip()
    status_el = el.find(D + "status")
    propstats = el.findall(D + "propstat")
    assert (status_el is None) != (not propstats), "status xor propstat (RFC 4918 §14.24)"
    resp = Resp(_key(url, raw), raw, _status(status_el.text) if status_el is not None else None)
    for ps in propstats:
        prop = ps.find(D + "prop")
        assert prop is not None, "propstat without prop"
        resp.propstats.append(_status(ps.findtext(D + "status")))
        for child in prop:
            resp.props[child.tag] = "".join(child.itertext()).strip()
            if child.tag == D + "resource-id":
                resp.resource_id = (child.findtext(D + "href") or "").strip()
            if child.tag == D + "resourcetype":
                resp.collection = child.find(D + "collection") is not None
    return resp


def fetch(m: MockServer, method: str, path: str, headers: dict[str, str]
          ) -> tuple[httpx.Response, list[Resp], ET.Element | None]:
    """Send one request; parse a 207 incrementally into ``Resp`` values."""
    url = m.url + path
    responses: list[Resp] = []
    parser: ET.XMLPullParser[ET.Element] = ET.XMLPullParser(events=("end",))
    root: ET.Element | None = None  # the last element to end
    with httpx.stream(method, url, headers=headers, timeout=60) as r:
        if "xml" not in r.headers.get("content-type", ""):
            r.read()
            return r, responses, None
        for chunk in r.iter_bytes():
            parser.feed(chunk)
            for event in parser.read_events():
                el = event[-1]
                assert isinstance(el, ET.Element)
                root = el
                if el.tag == D + "response":
                    responses.append(_response(url, el))
                    el.clear()
    parser.close()
    return r, responses, root


@pytest.mark.parametrize("name", sorted(CASES))
def test_shipped_scenario_serves_every_expectation(name: str) -> None:
    scenario = find_scenario(name)
    assert scenario.description and scenario.name == name
    by_id: dict[str, set[bool]] = {}
    by_href: dict[str, str] = {}
    with MockServer(scenario) as m:
        for method, path, headers, status in CASES[name]:
            r, responses, root = fetch(m, method, path, headers)
            assert r.status_code == status, (method, path, r.text[:300])
            if status == 207:
                assert root is not None and root.tag == D + "multistatus"
                assert responses
                if name == "huge-multistatus":  # parsed incrementally, all of it
                    assert r.headers.get("transfer-encoding") == "chunked"
                    assert len(responses) == 100_001
                keys = [x.raw_href for x in responses]
                if name != "duplicate-hrefs":  # RFC 4918 §14.24, broken on purpose there
                    assert len(keys) == len(set(keys))
            elif r.headers.get("content-length") != "0" and method != "OPTIONS":
                assert root is not None and root.tag == D + "error"
            for x in responses:
                if x.resource_id is None:
                    continue
                assert by_href.setdefault(x.href, x.resource_id) == x.resource_id, x.href
                kinds = by_id.setdefault(x.resource_id, set())
                if x.collection is not None:
                    kinds.add(x.collection)
                    assert len(kinds) == 1, f"{x.resource_id} is a file and a collection"
        for e in scenario.expectations:
            assert m.hits(e.index) >= 1, f"{name}: {e.label} never hit"
        assert m.unmet == () and m.unexpected == (), m.report().render()


def test_cases_cover_every_shipped_scenario() -> None:
    assert set(CASES) == set(shipped_names())
    assert len(shipped_names()) == 12


def test_package_data_is_declared_for_every_shipped_file() -> None:
    folder = Path(find_scenario("propstat-208").source).parent
    suffixes = {p.suffix for p in folder.iterdir() if p.is_file()}
    assert suffixes <= {".toml", ".xml", ".md"}  # the patterns in pyproject.toml


def test_propstat_208_is_the_rfc_example() -> None:
    with MockServer("propstat-208") as m:
        host = {"Host": "www.example.com", **BIND}
        r, responses, _ = fetch(m, "PROPFIND", "/Coll/", host)
    assert r.headers["content-type"] == 'application/xml; charset="utf-8"'
    assert [x.raw_href for x in responses] == ["http://www.example.com/Coll/",
                                               "http://www.example.com/Coll/Foo",
                                               "http://www.example.com/Coll/Bar"]
    assert [(x.status, x.propstats) for x in responses] == [(None, [200]), (None, [200]),
                                                            (None, [208])]
    coll, foo, bar = responses
    assert bar.resource_id == coll.resource_id == "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8"
    assert foo.resource_id == "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf9"
    assert bar.props[D + "displayname"] == "Loop Demo"


def test_bare_208_has_no_propstat() -> None:
    with MockServer("bare-208") as m:
        _, responses, _ = fetch(m, "PROPFIND", "/Coll/", BIND)
    bare = [(x.href, x.propstats) for x in responses if x.status == 208]
    assert bare == [("/Coll/Bar", []), ("/Coll/Sub/Back", [])]
    assert [x.href for x in responses if x.status is None] == [
        "/Coll", "/Coll/Foo", "/Coll/Sub", "/Coll/Sub/Baz"]


def test_loop_508_top_and_the_endless_depth_1_walk() -> None:
    with MockServer("loop-508-top") as m:
        r, _, _ = fetch(m, "PROPFIND", "/Coll/", INF)
        assert (r.status_code, r.reason_phrase, r.content) == (508, "Loop Detected", b"")
        _, responses, _ = fetch(m, "PROPFIND", "/Coll/Bar/Bar/", ONE)
        assert [x.href for x in responses] == ["/Coll/Bar/Bar", "/Coll/Bar/Bar/Bar",
                                               "/Coll/Bar/Bar/Foo"]
        assert {x.propstats[0] for x in responses} == {200}  # never 208 at Depth 1
        r, _, _ = fetch(m, "PROPFIND", "/Coll/", {"Depth": "infinity", "DAV": "1, BIND"})
        assert r.status_code == 207


def test_loop_508_midstream_ends_with_the_508_response() -> None:
    with MockServer("loop-508-midstream") as m:
        r, responses, _ = fetch(m, "PROPFIND", "/Loop/", INF)
    assert r.headers.get("transfer-encoding") == "chunked"
    assert [x.status for x in responses] == [None, None, None, None, 508]
    assert responses[-1].href == "/Loop/b/up"


def test_finite_depth_403_carries_the_precondition() -> None:
    with MockServer("finite-depth-403") as m:
        r, _, root = fetch(m, "PROPFIND", "/data/", INF)
        assert r.status_code == 403 and root is not None
        assert root.find(D + "propfind-finite-depth") is not None
        r, _, _ = fetch(m, "PROPFIND", "/data/", INF)
        assert r.status_code == 500  # a retry of infinity was not expected
        assert len(m.unexpected) == 1


def test_no_propstat_statuses() -> None:
    with MockServer("no-propstat") as m:
        _, responses, _ = fetch(m, "PROPFIND", "/plain/", ONE)
    got = [(x.href, x.status, x.propstats) for x in responses]
    assert got == [("/plain", None, [200]), ("/plain/a.txt", 200, []), ("/plain/b.txt", 299, []),
                   ("/plain/c.txt", None, [200]), ("/plain/d.txt", None, [299])]


def test_hrefs_resolve_to_one_tree() -> None:
    with MockServer("hrefs-relative-absolute") as m:
        _, top, _ = fetch(m, "PROPFIND", "/mixed/", ONE)
        _, sub, _ = fetch(m, "PROPFIND", "/mixed/sub/", ONE)
    assert [x.href for x in top + sub] == [
        "/mixed", "/mixed/a.txt", "/mixed/b.txt", "/mixed/c.txt", "/mixed/sub",
        "/mixed/sub", "/mixed/sub/d.txt", "/mixed/sub/e.txt", "/mixed/sub/f.txt"]
    assert len({x.raw_href.startswith("http") for x in top}) == 2  # mixed forms on purpose


def test_odd_percent_encoding_spellings_agree() -> None:
    with MockServer("odd-percent-encoding") as m:
        _, top, _ = fetch(m, "PROPFIND", "/enc/", ONE)
        _, joe, _ = fetch(m, "PROPFIND", "/enc/%7Ejoe", ONE)
        _, cafe, _ = fetch(m, "PROPFIND", "/enc/café.txt",
                           {"Depth": "0"})
    assert [x.href for x in top] == ["/enc", "/enc/~joe", "/enc/café.txt", "/enc/naïve.txt",
                                     "/enc/a+b c.txt"]
    assert [x.href for x in joe] == ["/enc/~joe", "/enc/~joe/résumé.pdf"]
    assert top[1].resource_id == joe[0].resource_id
    assert cafe[0].raw_href == "/enc/café.txt" and cafe[0].resource_id == top[2].resource_id


def test_namespace_prefixes_resolve_to_dav() -> None:
    with MockServer("namespace-prefixes") as m:
        _, top, root = fetch(m, "PROPFIND", "/ns/", ONE)
        assert root is not None and root.tag == D + "multistatus"
        _, sub, _ = fetch(m, "PROPFIND", "/ns/sub/", ONE)
    assert [x.href for x in top + sub] == ["/ns", "/ns/photo.jpg", "/ns/sub", "/ns/sub",
                                           "/ns/sub/report.pdf"]
    assert top[1].props["{urn:example:props}color"] == "blue"
    report = sub[1]
    assert report.props[D + "displayname"] == "report.pdf"
    assert report.props["{urn:example:not-dav}displayname"] == "decoy"


def test_truncated_infinity_equals_depth_1() -> None:
    with MockServer("truncated-infinity") as m:
        _, infinity, _ = fetch(m, "PROPFIND", "/deep/", INF)
        _, one, _ = fetch(m, "PROPFIND", "/deep/", ONE)
        _, sub, _ = fetch(m, "PROPFIND", "/deep/sub/", ONE)
        r, _, _ = fetch(m, "MKCOL", "/deep/new/", {})
        assert r.status_code == 404  # lenient
        assert m.report().ok
    assert [x.href for x in infinity] == [x.href for x in one]
    assert "/deep/sub/b.txt" in [x.href for x in sub]
    assert "/deep/sub/b.txt" not in [x.href for x in infinity]
