"""COPY and MOVE (RFC 4918 §9.8, §9.9; RFC 5842 §2.3, §2.5, §3.1; decision A-3, A-15)."""

from __future__ import annotations

import pytest

D = "{DAV:}"
Z = "{urn:z}"
RID = D + "resource-id"


def _rid(dav, url):
    props = dav.props(url, (RID,))
    (entry,) = props.values()
    status, el = entry[RID]
    assert status == 200
    return el.findtext(D + "href")


def _set_prop(dav, url, value):
    body = (
        '<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
        f"<Z:colour>{value}</Z:colour></D:prop></D:set></D:propertyupdate>"
    )
    r = dav.request("PROPPATCH", url, headers={"Content-Type": "application/xml"}, content=body)
    assert r.status_code == 207


def _colour(dav, url):
    (entry,) = dav.props(url, (Z + "colour",)).values()
    status, el = entry[Z + "colour"]
    return el.text if status == 200 else None


def _hrefs(dav, url="/"):
    return sorted(dav.props(url, (D + "getetag",), depth="infinity"))


def _tree(dav):
    dav.mkcol("/src")
    dav.put("/src/a", b"A")
    dav.mkcol("/src/sub")
    dav.put("/src/sub/b", b"B")
    _set_prop(dav, "/src/", "blue")
    _set_prop(dav, "/src/a", "red")
    dav.mkcol("/dst")


# --------------------------------------------------------------------------- COPY


@pytest.mark.parametrize("destination", ["/dst/a2", "http://testserver/dst/a2"])
def test_copy_file_new(dav, destination):
    _tree(dav)
    r = dav.request("COPY", "/src/a", headers={"Destination": destination})
    assert r.status_code == 201
    assert r.headers["location"] == "/dst/a2"
    assert dav.request("GET", "/dst/a2").content == b"A"
    assert dav.request("GET", "/src/a").content == b"A"
    assert _colour(dav, "/dst/a2") == "red"  # dead properties are copied
    assert _rid(dav, "/dst/a2") != _rid(dav, "/src/a")  # a copy is a new resource


@pytest.mark.parametrize("overwrite", [None, "T", "t"])
def test_copy_file_overwrites(dav, overwrite):
    _tree(dav)
    dav.put("/dst/a", b"old")
    headers = {"Destination": "/dst/a"}
    if overwrite:
        headers["Overwrite"] = overwrite
    r = dav.request("COPY", "/src/a", headers=headers)
    assert r.status_code == 204
    assert dav.request("GET", "/dst/a").content == b"A"
    assert _colour(dav, "/dst/a") == "red"


def test_copy_collection_infinity(dav):
    _tree(dav)
    r = dav.request("COPY", "/src/", headers={"Destination": "/dst/copy/"})
    assert r.status_code == 201
    assert _hrefs(dav, "/dst/copy/") == [
        "/dst/copy/", "/dst/copy/a", "/dst/copy/sub/", "/dst/copy/sub/b",
    ]
    assert dav.request("GET", "/dst/copy/sub/b").content == b"B"
    assert _colour(dav, "/dst/copy/") == "blue"
    for rel in ("", "a", "sub/", "sub/b"):
        assert _rid(dav, "/dst/copy/" + rel) != _rid(dav, "/src/" + rel)
    assert _hrefs(dav, "/src/") == ["/src/", "/src/a", "/src/sub/", "/src/sub/b"]


def test_copy_collection_depth_0_makes_empty_collection(dav):
    _tree(dav)
    r = dav.request("COPY", "/src/", headers={"Destination": "/dst/empty", "Depth": "0"})
    assert r.status_code == 201
    assert _hrefs(dav, "/dst/empty/") == ["/dst/empty/"]
    assert _colour(dav, "/dst/empty/") == "blue"  # its own properties are copied
    assert _hrefs(dav, "/src/") == ["/src/", "/src/a", "/src/sub/", "/src/sub/b"]


def test_copy_collection_replaces_membership(dav):
    _tree(dav)
    dav.mkcol("/dst/c")
    dav.put("/dst/c/extra", b"E")
    dav.put("/dst/c/a", b"old")
    r = dav.request("COPY", "/src/", headers={"Destination": "/dst/c/"})
    assert r.status_code == 204
    assert _hrefs(dav, "/dst/c/") == ["/dst/c/", "/dst/c/a", "/dst/c/sub/", "/dst/c/sub/b"]
    assert dav.request("GET", "/dst/c/a").content == b"A"


def test_copy_collection_over_file(dav):
    _tree(dav)
    dav.put("/dst/x", b"file")
    r = dav.request("COPY", "/src/", headers={"Destination": "/dst/x"})
    assert r.status_code == 204
    assert _hrefs(dav, "/dst/x/") == ["/dst/x/", "/dst/x/a", "/dst/x/sub/", "/dst/x/sub/b"]


def test_copy_into_own_subtree_terminates(dav):
    _tree(dav)
    r = dav.request("COPY", "/src/", headers={"Destination": "/src/sub/inner"})
    assert r.status_code == 201
    assert _hrefs(dav, "/src/sub/inner/") == [
        "/src/sub/inner/", "/src/sub/inner/a", "/src/sub/inner/sub/", "/src/sub/inner/sub/b",
    ]


# --------------------------------------------------------------------------- MOVE


@pytest.mark.parametrize("destination", ["/dst/moved", "http://testserver/dst/moved"])
def test_move_file_keeps_identity(dav, destination):
    _tree(dav)
    rid = _rid(dav, "/src/a")
    r = dav.request("MOVE", "/src/a", headers={"Destination": destination})
    assert r.status_code == 201
    assert r.headers["location"] == "/dst/moved"
    assert dav.request("GET", "/src/a").status_code == 404
    assert dav.request("GET", "/dst/moved").content == b"A"
    assert _rid(dav, "/dst/moved") == rid
    assert _colour(dav, "/dst/moved") == "red"


def test_move_collection_keeps_identities(dav):
    _tree(dav)
    rids = {rel: _rid(dav, "/src/" + rel) for rel in ("", "a", "sub/", "sub/b")}
    r = dav.request("MOVE", "/src/", headers={"Destination": "/dst/m/"})
    assert r.status_code == 201
    assert _hrefs(dav) == ["/", "/dst/", "/dst/m/", "/dst/m/a", "/dst/m/sub/", "/dst/m/sub/b"]
    for rel, rid in rids.items():
        assert _rid(dav, "/dst/m/" + rel) == rid


def test_move_overwrites(dav):
    _tree(dav)
    dav.put("/dst/a", b"old")
    old_rid = _rid(dav, "/dst/a")
    rid = _rid(dav, "/src/a")
    r = dav.request("MOVE", "/src/a", headers={"Destination": "/dst/a", "Overwrite": "T"})
    assert r.status_code == 204
    assert dav.request("GET", "/dst/a").content == b"A"
    assert _rid(dav, "/dst/a") == rid != old_rid
    assert dav.request("GET", "/src/a").status_code == 404


def test_move_rename_in_place(dav):
    dav.put("/f", b"x")
    r = dav.request("MOVE", "/f", headers={"Destination": "/g"})
    assert r.status_code == 201
    assert _hrefs(dav) == ["/", "/g"]


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("method", ["COPY", "MOVE"])
@pytest.mark.parametrize(
    ("source", "headers", "status"),
    [
        ("/src/a", {"Destination": "/dst/x", "Overwrite": "F"}, 412),
        ("/src/", {"Destination": "/dst/x", "Overwrite": "F"}, 412),
        ("/src/a", {"Destination": "/nope/a"}, 409),  # no parent
        ("/src/a", {"Destination": "/dst/x/a"}, 409),  # parent is a file
        ("/src/a", {"Destination": "/src/a"}, 403),  # same URL
        ("/src/", {"Destination": "/src"}, 403),  # same URL, other spelling
        ("/src/a", {"Destination": "http://testserver/src/a"}, 403),
        ("/missing", {"Destination": "/dst/m"}, 404),
        ("/src/a", {"Destination": "/"}, 403),  # the root cannot be replaced
    ],
)
def test_copy_move_refused(dav, method, source, headers, status):
    _tree(dav)
    dav.put("/dst/x", b"existing")
    before = dav.snapshot()
    r = dav.request(method, source, headers=headers)
    assert r.status_code == status, r.text
    assert dav.snapshot() == before


@pytest.mark.parametrize(
    ("destination", "status", "conditions"),
    [
        ("/src/sub/inside", 403, ["cycle-allowed"]),  # decision A-12
        ("/src/sub/", 403, ["cycle-allowed"]),
        ("/", 403, []),
    ],
)
def test_move_into_itself(dav, destination, status, conditions):
    _tree(dav)
    before = dav.snapshot()
    r = dav.request("MOVE", "/src/", headers={"Destination": destination})
    assert r.status_code == status, r.text
    assert dav.error_names(r) == conditions
    assert dav.snapshot() == before


def test_move_onto_own_parent_refused(dav):
    _tree(dav)
    before = dav.snapshot()
    r = dav.request("MOVE", "/src/sub/", headers={"Destination": "/src/"})
    assert r.status_code == 409
    assert dav.snapshot() == before


def test_copy_of_a_chain_deeper_than_the_recursion_limit(dav):
    """A chain 3,000 collections deep (Python recursion stopped a copy at ~970) with a
    file bound twice at the bottom and a loop back to the top: copied whole, with its
    structure (one file bound twice, the loop closed inside the copy)."""
    depth = 3000
    with dav.app.services.store.write() as txn:
        top = node = txn.create(txn.root_key, "chain", collection=True).key
        for _ in range(depth - 1):
            node = txn.create(node, "d", collection=True).key
        digest, size = txn.store_inline(b"bottom")
        leaf = txn.create(node, "leaf", collection=False, digest=digest, size=size).key
        txn.bind(node, "leaf2", leaf)
        txn.bind(node, "up", top)
    r = dav.request("COPY", "/chain/", headers={"Destination": "http://testserver/copy/"})
    assert r.status_code == 201, r.text
    bottom = "/copy" + "/d" * (depth - 1)
    assert dav.request("GET", bottom + "/leaf").content == b"bottom"
    with dav.app.services.store.read() as txn:
        copy = txn.lookup(txn.root_key, "copy")
        assert copy is not None and copy.key != top
        node_key = copy.key
        for _ in range(depth - 1):
            found = txn.lookup(node_key, "d")
            assert found is not None
            node_key = found.key
        members = dict(txn.children(node_key))
        assert sorted(members) == ["leaf", "leaf2", "up"]
        assert members["leaf"].key == members["leaf2"].key != leaf
        assert members["up"].key == copy.key  # the loop closes on the copy, not the source
