"""The client against the shipped mock scenarios (``davbind.mock``), through the mock.

Each row starts the scenario's :class:`MockServer`, drives the real :class:`Client` the
way a user would (``walk``, ``ls``, ``propfind``, ``iter_propfind``), sending the
requests the scenario's ``[[expect]]`` tables ask for, and asserts the client's
interpretation of the answers.  Afterwards nothing may be unmet and nothing unexpected
may have arrived, except where a row names the one request it knowingly adds (a walk's
Depth-1 fall-back, or the Depth-infinity attempt that precedes it): so the test proves
the client sent what the scenario expected.

Sending a Depth-infinity PROPFIND *without* ``DAV: bind`` (the client always adds it,
RFC 5842 §8.2) goes through :class:`NoBindHeader`, a transport that strips the header
on the wire, as a proxy or an older client would.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from davbind.client import Client, DAVClientError, Entry, Listing, LoopDetected, StatusError
from davbind.mock import MockServer, find_scenario

DAV = "{DAV:}"
RFC_C = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf8"  # RFC 5842 §7.1.1 collection C
RFC_R = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf9"  # RFC 5842 §7.1.1 resource R
MIB = 1024 * 1024


class NoBindHeader(httpx.BaseTransport):
    """Forwards every request without its ``DAV`` header (a client that is not bind-aware)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if "DAV" in request.headers:
            del request.headers["DAV"]
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def project(listing: Listing) -> list[tuple[str, str | None, tuple[str, ...], int | None, bool]]:
    return [(e.href, e.resource_id, e.aliases, e.status, e.collection) for e in listing]


def hrefs(listing: Listing) -> list[str]:
    return [e.href for e in listing]


def entry(listing: Listing, href: str) -> Entry:
    found = listing.get(href)
    assert found is not None, f"{href} not in {hrefs(listing)}"
    return found


# --------------------------------------------------------------------------- drivers
# Each takes the running mock and a Client on it, sends the scenario's requests and
# asserts what the client made of the answers.


def propstat_208(m: MockServer, client: Client) -> None:
    listing = client.walk("/Coll/")
    assert m.hits(1) == 1  # the Depth-infinity PROPFIND carried DAV: bind
    assert project(listing) == [
        ("/Coll/", RFC_C, ("/Coll/Bar/",), 200, True),  # Bar: another binding of C
        ("/Coll/Foo", RFC_R, (), 200, False),
    ]
    assert entry(listing, "/Coll/Bar") is entry(listing, "/Coll/")
    assert entry(listing, "/Coll/").displayname == "Loop Demo"
    assert entry(listing, "/Coll/Foo").displayname == "Bird Inventory"
    assert listing.note == ""
    kinds = {n.name: n.kind for n in listing.tree().children}
    assert kinds == {"Bar": "loop", "Foo": "resource"}


def bare_208(m: MockServer, client: Client) -> None:
    listing = client.walk("/Coll/")
    assert m.hits(1) == 1
    assert hrefs(listing) == ["/Coll/", "/Coll/Foo", "/Coll/Sub/", "/Coll/Sub/Baz"]
    # Reported, not an error and not a new resource; with no resource-id or properties
    # the client cannot tell which entry they repeat, so they stay unresolved aliases.
    assert listing.unresolved == ("/Coll/Bar", "/Coll/Sub/Back")
    for href in listing.unresolved:
        assert listing.get(href) is None
        assert not [e for e in listing if e.href.startswith(href)]  # not descended into
    assert all(not e.aliases for e in listing)
    assert entry(listing, "/Coll/Sub/Baz").size == 42


def duplicate_hrefs(m: MockServer, client: Client) -> None:
    listing = client.ls("/docs/")
    assert sorted(hrefs(listing)) == ["/docs/", "/docs/notes/", "/docs/readme.md",
                                      "/docs/report.txt"]  # fmt: skip
    assert len({e.resource_id for e in listing}) == 4
    assert entry(listing, "/docs/notes") is entry(listing, "/docs/notes/")
    assert entry(listing, "/docs/notes/").aliases == ()
    assert sum(e.size or 0 for e in listing.members()) == 1200 + 310  # report.txt once


def no_propstat(m: MockServer, client: Client) -> None:
    listing = client.ls("/plain/")
    assert hrefs(listing) == [
        "/plain/", "/plain/a.txt", "/plain/b.txt", "/plain/c.txt", "/plain/d.txt",
    ]  # fmt: skip
    a = entry(listing, "/plain/a.txt")
    assert a.status == 200 and not a.props and a.resource_id is None
    assert entry(listing, "/plain/b.txt").status == 299  # kept, not dropped
    assert entry(listing, "/plain/c.txt").size == 17
    assert entry(listing, "/plain/d.txt").size == 99  # a 299 propstat is a 2xx one


def loop_508_top(m: MockServer, client: Client) -> None:
    listing = client.walk("/Coll/")  # DAV: bind -> the 208 form
    assert m.hits(1) == 1
    assert project(listing) == [
        ("/Coll/", RFC_C, ("/Coll/Bar/",), 200, True),
        ("/Coll/Foo", RFC_R, (), 200, False),
    ]
    with Client(m.url, transport=NoBindHeader()) as plain, pytest.raises(LoopDetected) as caught:
        plain.propfind("/Coll/", "infinity")
    assert caught.value.status == 508
    assert m.hits(2) == 1  # the bare 508 answer for the request without DAV: bind


def loop_508_top_fallback(m: MockServer, client: Client) -> None:
    """Without DAV: bind the 508 makes ``walk`` fall back to Depth 1 over an endless
    /Coll/Bar/Bar/… chain, which only resource-ids can stop."""
    with Client(m.url, transport=NoBindHeader()) as plain:
        listing = plain.walk("/Coll/")
    assert m.hits(2) == 1
    assert m.hits(3) == 1  # one Depth-1 PROPFIND: /Coll/Bar/ is C again, not entered
    assert project(listing) == [
        ("/Coll/", RFC_C, ("/Coll/Bar/",), 200, True),
        ("/Coll/Foo", RFC_R, (), 200, False),
    ]
    assert "508" in listing.note and "Depth: 1" in listing.note
    client.walk("/Coll/")  # and the bind-aware request, which the scenario requires too
    assert m.hits(1) == 1


def loop_508_midstream_walk(m: MockServer, client: Client) -> None:
    """508 inside the 207: ``walk`` does not return the four entries as the tree; it
    takes the answer as cut short and falls back to Depth 1, which this mock refuses
    (strict: 500), so the walk fails as a whole."""
    with pytest.raises(StatusError) as caught:
        client.walk("/Loop/")
    assert caught.value.status == 500
    assert m.hits(1) == 1


def loop_508_midstream_propfind(m: MockServer, client: Client) -> None:
    """A single raw PROPFIND keeps the 508 response in the listing, marked 508."""
    listing = client.propfind("/Loop/", "infinity")
    loop = entry(listing, "/Loop/b/up")
    assert loop.status == 508 and not loop.props
    assert [e.href for e in listing if e.status == 200] == [
        "/Loop/", "/Loop/a.txt", "/Loop/b/", "/Loop/b/c.txt",
    ]  # fmt: skip


def finite_depth_403(m: MockServer, client: Client) -> None:
    listing = client.walk("/data/")
    assert hrefs(listing) == [
        "/data/", "/data/empty/", "/data/notes.txt", "/data/photos/", "/data/photos/cat.jpg",
        "/data/photos/trips/", "/data/photos/trips/map.png",
    ]  # fmt: skip
    assert all(e.status == 200 and not e.aliases for e in listing)
    assert len({e.resource_id for e in listing}) == 7
    assert "403" in listing.note and "propfind-finite-depth" in listing.note
    assert "Depth: 1 (4 requests)" in listing.note
    assert m.hits(1) == 1 and m.hits(2) == 0  # infinity asked once, never below /data/
    assert [m.hits(i) for i in (3, 4, 5, 6)] == [1, 1, 1, 1]


def huge_multistatus(m: MockServer, client: Client) -> None:
    """100,001 responses parsed while they arrive, in bounded memory.  The mock runs in
    this process, so the peak also counts its buffers: an upper bound for the client."""
    count = 0
    first = last = ""
    tracemalloc.start()
    try:
        for response in client.iter_propfind("/big/", "1"):
            if not count:
                first = response.href
            last = response.href
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_001
    assert (first, last) == ("/big/", "/big/file-099999.txt")
    assert peak < 8 * MIB, f"peak {peak / MIB:.1f} MiB"


MIXED = ["/mixed/", "/mixed/a.txt", "/mixed/b.txt", "/mixed/c.txt", "/mixed/sub/"]
MIXED_SUB = ["/mixed/sub/", "/mixed/sub/d.txt", "/mixed/sub/e.txt", "/mixed/sub/f.txt"]


def hrefs_relative_absolute(m: MockServer, client: Client) -> None:
    top = client.ls("/mixed/")
    sub = client.ls("/mixed/sub/")
    assert hrefs(top) == MIXED
    assert hrefs(sub) == MIXED_SUB
    assert [e.size for e in top.members()] == [1, 2, 3, None]
    assert [e.size for e in sub.members()] == [4, 5, 6]
    assert entry(top, "/mixed/sub/").resource_id == entry(sub, "/mixed/sub/").resource_id


def hrefs_relative_absolute_walk(m: MockServer, client: Client) -> None:
    """The same tree by ``walk``: its Depth-infinity attempt is refused (strict: 500),
    the Depth-1 fall-back must resolve each listing's relative hrefs against the URL of
    *that* request (RFC 3986 §5), not against the walk's root."""
    listing = client.walk("/mixed/")
    assert "Depth: 1 (2 requests)" in listing.note
    assert hrefs(listing) == MIXED + MIXED_SUB[1:]


def odd_percent_encoding(m: MockServer, client: Client) -> None:
    enc = client.ls("/enc/")
    joe = client.ls("/enc/~joe/")
    cafe = client.propfind("/enc/café.txt", "0")
    # /enc (as reported) is the target itself, not a parent of /enc/.
    assert enc.target == "/enc/" and len(enc) == 5 and len(enc.members()) == 4
    assert entry(enc, "/enc") is entry(enc, "/enc/") is enc.root
    assert entry(enc, "/enc/%7Ejoe/") is entry(enc, "/enc/~joe")
    assert entry(enc, "/enc/café.txt") is entry(enc, "/enc/caf%c3%a9.txt")
    assert entry(enc, "/enc/na%C3%AFve.txt").name == "naïve.txt"
    assert entry(enc, "/enc/a+b%20c.txt").name == "a+b c.txt"  # "+" stays a plus
    assert joe.target == "/enc/~joe/" and len(joe) == 2
    assert entry(joe, "/enc/~joe/résumé.pdf").size == 4096
    assert cafe.root is not None and cafe.root.size == 11
    # One href per resource across the three answers, whatever spelling each used.
    by_rid: dict[str | None, set[str]] = {}
    for listing in (enc, joe, cafe):
        for e in listing:
            by_rid.setdefault(e.resource_id, set()).update(e.hrefs)
    assert all(len(spellings) == 1 for spellings in by_rid.values()), by_rid
    assert by_rid["urn:uuid:e7c0de00-5e9a-4f00-8a11-000000000002"] == {"/enc/~joe/"}
    assert m.hits(2) == 1 and m.hits(3) == 1


def namespace_prefixes(m: MockServer, client: Client) -> None:
    top = client.ls("/ns/")
    sub = client.ls("/ns/sub/")
    assert project(top) == [
        ("/ns/", "urn:uuid:a5a5a5a5-0000-4000-8000-00000000000a", (), 200, True),
        ("/ns/photo.jpg", "urn:uuid:a5a5a5a5-0000-4000-8000-00000000000b", (), 200, False),
        ("/ns/sub/", "urn:uuid:a5a5a5a5-0000-4000-8000-00000000000c", (), 200, True),
    ]
    assert project(sub) == [
        ("/ns/sub/", "urn:uuid:a5a5a5a5-0000-4000-8000-00000000000c", (), 200, True),
        ("/ns/sub/report.pdf", "urn:uuid:a5a5a5a5-0000-4000-8000-00000000000d", (), 200, False),
    ]
    photo = entry(top, "/ns/photo.jpg")
    assert (photo.displayname, photo.size) == ("photo.jpg", 2500)  # b: prefix for DAV:
    report = entry(sub, "/ns/sub/report.pdf")
    assert (report.displayname, report.size) == ("report.pdf", 77000)  # not the decoy
    assert report.text("{urn:example:not-dav}displayname") in (None, "decoy")


def namespace_prefixes_allprop(m: MockServer, client: Client) -> None:
    """allprop (``props=None``) keeps the dead property x:color."""
    top = client.propfind("/ns/", "1", None)
    assert entry(top, "/ns/photo.jpg").text("{urn:example:props}color") == "blue"
    sub = client.propfind("/ns/sub/", "1", None)
    assert entry(sub, "/ns/sub/report.pdf").displayname == "report.pdf"


def truncated_infinity(m: MockServer, client: Client) -> None:
    """A silent downgrade (207, Depth-1 content) cannot be told from a tree whose
    /deep/sub/ is empty: ``walk`` falls back only on a refusal or a 507/508 response
    (``messages.cut_short``), so it lists what the server gave, without a note."""
    listing = client.walk("/deep/")
    assert hrefs(listing) == ["/deep/", "/deep/a.txt", "/deep/sub/"]
    assert listing.note == ""
    assert entry(listing, "/deep/a.txt").size == 10
    assert m.hits(1) == 1 and m.hits(2) == m.hits(3) == m.hits(4) == 0


# --------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Case:
    scenario: str
    drive: Callable[[MockServer, Client], None]
    # (method, path, Depth) of requests the row knowingly adds beyond the scenario
    unexpected: tuple[tuple[str, str, str], ...] = ()


CASES = [
    pytest.param(Case("propstat-208", propstat_208), id="propstat-208"),
    pytest.param(Case("bare-208", bare_208), id="bare-208"),
    pytest.param(Case("duplicate-hrefs", duplicate_hrefs), id="duplicate-hrefs"),
    pytest.param(Case("no-propstat", no_propstat), id="no-propstat"),
    pytest.param(Case("loop-508-top", loop_508_top), id="loop-508-top"),
    pytest.param(Case("loop-508-top", loop_508_top_fallback), id="loop-508-top-fallback"),
    pytest.param(
        Case("loop-508-midstream", loop_508_midstream_walk, (("PROPFIND", "/Loop/", "1"),)),
        id="loop-508-midstream-walk",
    ),
    pytest.param(
        Case("loop-508-midstream", loop_508_midstream_propfind), id="loop-508-midstream-propfind"
    ),
    pytest.param(Case("finite-depth-403", finite_depth_403), id="finite-depth-403"),
    pytest.param(Case("huge-multistatus", huge_multistatus), id="huge-multistatus"),
    pytest.param(
        Case("hrefs-relative-absolute", hrefs_relative_absolute), id="hrefs-relative-absolute"
    ),
    pytest.param(
        Case(
            "hrefs-relative-absolute",
            hrefs_relative_absolute_walk,
            (("PROPFIND", "/mixed/", "infinity"),),
        ),
        id="hrefs-relative-absolute-walk",
    ),
    pytest.param(Case("odd-percent-encoding", odd_percent_encoding), id="odd-percent-encoding"),
    pytest.param(Case("namespace-prefixes", namespace_prefixes), id="namespace-prefixes"),
    pytest.param(
        Case("namespace-prefixes", namespace_prefixes_allprop), id="namespace-prefixes-allprop"
    ),
    pytest.param(Case("truncated-infinity", truncated_infinity), id="truncated-infinity"),
]


@pytest.mark.parametrize("case", CASES)
def test_client_against_scenario(case: Case) -> None:
    with MockServer(find_scenario(case.scenario)) as m, Client(m.url) as client:
        case.drive(m, client)
        report = m.report()
        unexpected = [u.target for u in m.unexpected]
        reasons = [u.reason for u in m.unexpected]
    assert report.unmet == (), report.render()
    assert [u.split("?")[0] for u in unexpected] == [path for _, path, _ in case.unexpected], (
        report.render()
    )
    for (_, _, depth), reason in zip(case.unexpected, reasons, strict=True):
        assert f"depth: '{depth}'" in reason, reason
    if not case.unexpected:
        assert report.ok, report.render()


def test_every_shipped_scenario_has_a_row() -> None:
    from davbind.mock import shipped_names

    covered = {p.values[0].scenario for p in CASES}  # type: ignore[union-attr]
    assert covered == set(shipped_names())


def test_no_bind_transport_strips_only_the_dav_header() -> None:
    """The helper itself: the scenario tells the two requests apart by that header."""
    with MockServer(find_scenario("loop-508-top")) as m:
        with Client(m.url, transport=NoBindHeader()) as plain, pytest.raises(DAVClientError):
            plain.propfind("/Coll/", "infinity")
        assert m.hits(1) == 0 and m.hits(2) == 1
