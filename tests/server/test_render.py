"""The one PROPFIND renderer (server/render.py, server/liveprops.py): its fast paths
give exactly the text of the general ones.

``row_fragments`` and ``allprop_text`` render every row property at once; each must
equal what the live-property registry renders one by one.  ``http_date`` and
``iso_date`` must equal the standard library's formatting.  A plain allprop run of
members must equal the per-member path (``Renderer.props`` + ``xml_response``)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

import pytest

from davbind.protocol.xmlbody import parse_propfind
from davbind.server.liveprops import (
    REGISTRY,
    ROW_ALLPROP,
    ROW_NAMES,
    LockView,
    PropContext,
    allprop_text,
    http_date,
    iso_date,
    row_fragments,
)
from davbind.server.render import Renderer, xml_response
from davbind.storage.model import DeadProp, Resource
from davbind.storage.open import open_blobs, open_metadata

STAMPS = [0.0, 1.0, 59.999, 86399.5, 86400.0, 951782400.0, 1700000000.25, 4102444799.0]
STAMPS += [random.Random(7).uniform(0, 4e9) for _ in range(300)]


@pytest.mark.parametrize("stamp", STAMPS)
def test_dates_match_the_standard_library(stamp: float) -> None:
    assert http_date(stamp) == formatdate(stamp, usegmt=True)
    assert iso_date(stamp) == datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _resource(coll: bool, ctype: str | None, stamp: float) -> Resource:
    return Resource(
        key=42, rid="urn:uuid:0b4a7c1e-0000-4000-8000-00000000002a", is_collection=coll,
        digest=None if coll else "ab" * 32, size=0 if coll else 1234, content_type=ctype,
        version=7, created=stamp, modified=stamp + 3600.5, cgen=3,
    )


RESOURCES = [
    _resource(True, None, 1700000000.0),
    _resource(False, "text/plain; charset=utf-8", 0.0),
    _resource(False, None, 951782400.0),
    _resource(False, 'application/x-odd; name="a&b<c>"', 4102444799.0),
    _resource(False, "image/svg+xml", 86399.0),
]


@pytest.mark.parametrize("resource", RESOURCES)
def test_row_fragments_equal_the_registry(resource: Resource) -> None:
    ctx = PropContext(None, resource, ())  # type: ignore[arg-type]  # row props need no txn
    row = row_fragments(resource)
    assert len(row) == len(ROW_NAMES)
    for name, text in zip(ROW_NAMES, row, strict=True):
        assert text == (REGISTRY[name].render(ctx) or ""), name
    assert allprop_text(resource) == "".join(row[:ROW_ALLPROP])
    from davbind.server.liveprops import ROW_RENDERERS

    assert set(ROW_RENDERERS) == set(ROW_NAMES)
    for name, text in zip(ROW_NAMES, row, strict=True):
        assert ROW_RENDERERS[name](resource) == text, name


def _store_with_members(tmp: Path):  # type: ignore[no-untyped-def]
    blobs = open_blobs(f"file://{tmp / 'blobs'}")
    store = open_metadata(f"sqlite://{tmp / 'meta.sqlite3'}", blobs)
    with store.write() as txn:
        coll = txn.create(txn.root.key, "d", collection=True)
        for i in range(40):
            digest, size = txn.store_inline(b"%d" % i)
            ctype = ["text/plain", None, "a/b; q=\"<&>\""][i % 3]
            r = txn.create(coll.key, f"m {i:02d}é", collection=False, digest=digest, size=size,
                           content_type=ctype)  # fmt: skip
            if i % 7 == 0:
                txn.set_dead_prop(r.key, DeadProp("{urn:x}n", f'<n xmlns="urn:x">{i}</n>'))
        txn.create(coll.key, "sub", collection=True)
    return store, coll


def _both_paths(store: Any, coll: Resource, spec: Any, minimal: bool,
                ) -> tuple[list[str], list[str]]:  # fmt: skip
    """The XML responses of ``coll``'s members from ``Renderer.run`` (the fast paths) and
    from the per-member path (``props`` + ``xml_response``); closes ``store``."""
    try:
        with store.read() as txn:
            members = [pair for batch in txn.members(coll.key) for pair in batch]
            r = Renderer(txn, spec, locks=LockView(txn), minimal=minimal, as_json=False)
            fast = r.run(("d",), members)
            slow = [
                xml_response(r.hrefs(("d", seg), res.is_collection),
                             r.props(res, ("d", seg), None), 200, minimal)
                for seg, res in members
            ]
    finally:
        store.close()
    return fast, slow


@pytest.mark.parametrize("minimal", [False, True])
def test_allprop_run_equals_the_per_member_path(tmp_path: Path, minimal: bool) -> None:
    store, coll = _store_with_members(tmp_path)
    spec = parse_propfind(b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')
    fast, slow = _both_paths(store, coll, spec, minimal)
    assert fast == slow
    assert sum('<n xmlns="urn:x">' in part for part in fast) == 6
    assert any("&amp;" in part and "&lt;" in part for part in fast)


@pytest.mark.parametrize("resource", RESOURCES)
def test_json_allprop_values_equal_the_row_values(resource: Resource) -> None:
    from davbind.server.propfind_json import allprop_values, row_values

    row = dict(zip(ROW_NAMES[:ROW_ALLPROP], row_values(resource)[:ROW_ALLPROP], strict=True))
    assert allprop_values(resource) == {k: v for k, v in row.items() if v is not None}
    size = row["{DAV:}getcontentlength"]
    assert size is None if resource.is_collection else size == resource.size


def test_json_allprop_run_equals_the_per_member_path(tmp_path: Path) -> None:
    import json

    store, coll = _store_with_members(tmp_path)
    spec = parse_propfind(b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>')
    try:
        with store.read() as txn:
            members = [pair for batch in txn.members(coll.key) for pair in batch]
            r = Renderer(txn, spec, locks=LockView(txn), minimal=False, as_json=True)
            (fast,) = r.run(("d",), members)
            slow = [r.one(("d", seg), res, 200) for seg, res in members]
    finally:
        store.close()
    assert json.loads(f"[{fast}]") == [json.loads(s) for s in slow]
    assert fast == ",".join(slow)
    notes = [e["props"].get("{urn:x}n") for e in json.loads(f"[{fast}]")]
    assert sum(n is not None for n in notes) == 6


ODD_VALUES = [
    [("{DAV:}displayname", 'a "q" \\ é\u2028\x7f'), ("{DAV:}getcontentlength", 0),
     ("{DAV:}resourcetype", []), ("{urn:x}n", {"text": "t", "xml": '<n xmlns="urn:x">t</n>'})],
    [("{DAV:}resourcetype", ["collection"]), ("{DAV:}lockdiscovery", [{"scope": "shared",
      "owner": None, "timeout": 5}]), ("{DAV:}parent-set", [{"href": "/", "segment": "a%20b"}])],
    [],
]  # fmt: skip


@pytest.mark.parametrize("found", ODD_VALUES)
@pytest.mark.parametrize("status", [200, 208])
def test_entry_text_is_what_the_encoder_gives(found: list[tuple[str, object]],
                                              status: int) -> None:  # fmt: skip
    from davbind.server.propfind_json import ENCODER, SUPPORTEDLOCK, entry_text

    found = [*found, ("{DAV:}supportedlock", SUPPORTEDLOCK)]
    res = RESOURCES[status % 2]
    first = "/wh\u00e9re/" if status == 208 else None
    missing = ["{DAV:}getcontenttype"] if found[0][0] != "{DAV:}resourcetype" else []
    expected: dict[str, object] = {
        "href": '/d/"x"', "status": status, "resource_id": res.rid,
        "collection": res.is_collection, "props": dict(found),
    }  # fmt: skip
    if missing:
        expected["missing"] = missing
    if first:
        expected["first_reported_at"] = first
    text = entry_text('/d/"x"', res, found, missing, status, first)
    assert text == ENCODER.encode(expected)


NAMED = [
    b"<D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/>"
    b"<D:displayname/><D:resource-id/>",  # what sync clients ask
    b'<D:getcontenttype/><D:creationdate/><x:n xmlns:x="urn:x"/><x:none xmlns:x="urn:x"/>'
    b"<D:lockdiscovery/><D:supportedlock/><D:parent-set/>",
]


@pytest.mark.parametrize("minimal", [False, True])
@pytest.mark.parametrize("names", NAMED)
def test_named_run_equals_the_per_member_path(tmp_path: Path, names: bytes,
                                              minimal: bool) -> None:  # fmt: skip
    store, coll = _store_with_members(tmp_path)
    with store.write() as txn:  # one member names itself
        member = txn.lookup(coll.key, "m 03é")
        assert member is not None
        own = '<D:displayname xmlns:D="DAV:">own</D:displayname>'
        txn.set_dead_prop(member.key, DeadProp("{DAV:}displayname", own))
    body = b'<D:propfind xmlns:D="DAV:"><D:prop>' + names + b"</D:prop></D:propfind>"
    fast, slow = _both_paths(store, coll, parse_propfind(body), minimal)
    assert fast == slow
    if b"displayname" in names:
        assert sum(">own</D:displayname>" in part for part in fast) == 1
    else:
        assert sum('<n xmlns="urn:x">' in part for part in fast) == 6


@pytest.mark.parametrize("resource", RESOURCES)
def test_json_row_values_equal_row_values(resource: Resource) -> None:
    from davbind.server.propfind_json import ROW_VALUES, row_values

    assert set(ROW_VALUES) == set(ROW_NAMES)
    for name, value in zip(ROW_NAMES, row_values(resource), strict=True):
        assert ROW_VALUES[name](resource) == value, name


@pytest.mark.parametrize("minimal", [False, True])
@pytest.mark.parametrize("names", NAMED)
def test_json_named_run_equals_the_per_member_path(tmp_path: Path, names: bytes,
                                                   minimal: bool) -> None:  # fmt: skip
    import json

    store, coll = _store_with_members(tmp_path)
    with store.write() as txn:
        member = txn.lookup(coll.key, "m 03é")
        assert member is not None
        own = '<D:displayname xmlns:D="DAV:">own</D:displayname>'
        txn.set_dead_prop(member.key, DeadProp("{DAV:}displayname", own))
    body = b'<D:propfind xmlns:D="DAV:"><D:prop>' + names + b"</D:prop></D:propfind>"
    try:
        with store.read() as txn:
            members = [pair for batch in txn.members(coll.key) for pair in batch]
            r = Renderer(txn, parse_propfind(body), locks=LockView(txn), minimal=minimal,
                         as_json=True)  # fmt: skip
            (fast,) = r.run(("d",), members)
            slow = [r.one(("d", seg), res, 200) for seg, res in members]
    finally:
        store.close()
    assert fast == ",".join(slow)
    entries = json.loads(f"[{fast}]")
    assert len(entries) == len(members)
    if b"displayname" in names:
        assert sum(e["props"].get("{DAV:}displayname") == "own" for e in entries) == 1
