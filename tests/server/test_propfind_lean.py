"""The lean listing path (``propfind._lean``: allprop, no lock anywhere) must produce the
very bytes of the general path (``collect`` + ``xml_response``), whatever the tree:
names that need escaping, dead properties, stale and missing render caches, shared
collections (208) and loops, Depth 1 and infinity, ``depth-noroot``.
"""

from __future__ import annotations

from typing import Any

import pytest

from davbind.server import propfind

ALLPROP = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
NAMED = (
    b'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:resourcetype/>'
    b"<D:getcontentlength/><D:getetag/><D:displayname/><Z:colour/><Z:nowhere/>"
    b"<D:resource-id/><D:supportedlock/><D:getcontenttype/></D:prop></D:propfind>"
)
PROPPATCH = (
    b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
    b"<Z:colour>r&amp;d &lt;x&gt;</Z:colour><Z:empty/></D:prop></D:set></D:propertyupdate>"
)

VARIANTS = [
    ("/", {"Depth": "1"}),
    ("/", {"Depth": "infinity", "DAV": "bind"}),
    ("/a/", {"Depth": "1"}),
    ("/a/", {"Depth": "infinity", "DAV": "bind"}),
    ("/a/", {"Depth": "infinity", "DAV": "bind", "Prefer": "depth-noroot"}),
    ("/a/", {"Depth": "1", "Prefer": "return=minimal"}),
    ("/a/%C3%A9t%C3%A9%20%26%20co/", {"Depth": "1"}),
    ("/a/plain.txt", {"Depth": "0"}),
]


def build_tree(dav: Any) -> None:
    dav.mkcol("/a/")
    dav.mkcol("/a/%C3%A9t%C3%A9%20%26%20co/")
    dav.mkcol("/shared/")
    dav.put("/a/plain.txt", b"hello")
    dav.put("/a/%C3%A9t%C3%A9%20%26%20co/%3Cangle%3E%20%27q%27.txt", b"x" * 10)
    dav.put("/shared/inner.bin", b"\x00" * 3)
    dav.request("PROPPATCH", "/a/plain.txt", content=PROPPATCH)
    dav.request("PROPPATCH", "/shared/", content=PROPPATCH)
    bind = b'<D:bind xmlns:D="DAV:"><D:segment>%s</D:segment><D:href>%s</D:href></D:bind>'
    assert dav.request("BIND", "/a/", content=bind % (b"s1", b"/shared/")).status_code == 201
    assert dav.request("BIND", "/a/", content=bind % (b"up", b"/a/")).status_code == 201


@pytest.mark.parametrize("body", [ALLPROP, NAMED], ids=["allprop", "named"])
@pytest.mark.parametrize(("url", "headers"), VARIANTS)
def test_lean_and_general_paths_give_the_same_bytes(
    dav: Any, both_paths: Any, url: str, headers: dict[str, str], body: bytes
) -> None:
    build_tree(dav)
    # first listing: render caches are built (and written back) on the way
    lean, general = both_paths(dav, url, headers, body)
    assert lean == general
    # second: every member comes from its stored render cache
    lean, general = both_paths(dav, url, headers, body)
    assert lean == general
    # a change makes one member's cache stale
    dav.put("/a/plain.txt", b"changed")
    lean, general = both_paths(dav, url, headers, body)
    assert lean == general
    assert lean.count(b"<D:response>") >= 1


def test_the_lean_path_is_taken_and_the_general_one_when_locks_exist(
    dav: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    build_tree(dav)
    calls: list[int] = []
    real = propfind.collect

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(propfind, "collect", counting)
    for body in (ALLPROP, NAMED):
        dav.request("PROPFIND", "/a/", headers={"Depth": "1"}, content=body)
        assert len(calls) == 1, "members of a lock-free listing went the general way"
        calls.clear()
    live = NAMED.replace(b"<D:displayname/>", b"<D:lockdiscovery/>")
    answer = dav.request("PROPFIND", "/a/", headers={"Depth": "1"}, content=live)
    assert len(calls) == answer.content.count(b"<D:response>") > 1  # not in the cache
    calls.clear()
    assert dav.lock("/a/plain.txt").startswith("urn:uuid:")
    answer = dav.request("PROPFIND", "/a/", headers={"Depth": "1"}, content=ALLPROP)
    assert len(calls) == answer.content.count(b"<D:response>") > 1
    assert b"<D:activelock>" in answer.content
