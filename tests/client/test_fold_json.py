"""``fold_multistatus`` gives equal listings from davbind's XML and JSON forms (D-3).

Property-based: hypothesis builds trees of collections and files with extra bindings,
loops among them, and dead properties, on an in-process davbind; every listing shape
(Depth 1 and infinity, named and allprop, with ``DAV: bind``) is asked for in both
forms and folded."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from davbind.client.listing import fold_multistatus
from davbind.client.messages import INFO_INCLUDE, LIST_PROPS, propfind_body
from davbind.server.app import App, build_services
from davbind.server.json_schema import LISTING
from davbind.server.settings import Settings

BASE = "http://testserver"
CHECK = jsonschema.Draft202012Validator(LISTING)
NAMES = st.sampled_from(["a", "b", "c d", "é", "x&y"])


async def _run(app: App, calls: list[tuple[str, str, dict[str, str], bytes]]) -> list[Any]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
        return [await client.request(m, u, headers=h, content=b) for m, u, h, b in calls]


def _bind(coll: str, segment: str, target: str) -> tuple[str, str, dict[str, str], bytes]:
    body = (f'<D:bind xmlns:D="DAV:"><D:segment>{segment}</D:segment>'
            f"<D:href>{target}</D:href></D:bind>")  # fmt: skip
    return ("BIND", coll, {}, body.encode())


@st.composite
def trees(draw: st.DrawFn) -> list[tuple[str, str, dict[str, str], bytes]]:
    """Requests building a tree: collections, files, then bindings (loops included)."""
    colls = ["/"]
    files: list[str] = []
    calls: list[tuple[str, str, dict[str, str], bytes]] = []
    for i in range(draw(st.integers(1, 6))):
        parent = draw(st.sampled_from(colls))
        if draw(st.booleans()):
            colls.append(f"{parent}k{i}/")
            calls.append(("MKCOL", colls[-1], {}, b""))
        else:
            files.append(f"{parent}f{i}")
            calls.append(("PUT", files[-1], {"Content-Type": "text/plain"}, b"x" * i))
    for _ in range(draw(st.integers(0, 4))):
        coll = draw(st.sampled_from(colls))
        target = draw(st.sampled_from(colls + files))
        name = draw(NAMES).replace(" ", "%20").replace("é", "%C3%A9").replace("&", "%26")
        calls.append(_bind(coll, name, target))
    if draw(st.booleans()) and files:
        patch = ('<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
                 "<Z:note a='1'>n<Z:in/></Z:note><D:displayname>Shown</D:displayname>"
                 "</D:prop></D:set></D:propertyupdate>")  # fmt: skip
        calls.append(("PROPPATCH", draw(st.sampled_from(files)), {}, patch.encode()))
    return calls


@pytest.mark.parametrize("props", [LIST_PROPS, None], ids=["named", "allprop"])
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(calls=trees())
def test_xml_and_json_fold_to_equal_listings(
    tmp_path_factory: pytest.TempPathFactory, props: Any, calls: Any
) -> None:
    data = tmp_path_factory.mktemp("fold")
    app = App(build_services(Settings(data_dir=str(data), allow_loops=True).resolved()))
    try:
        asyncio.run(_run(app, calls))
        body = propfind_body(props, INFO_INCLUDE if props is None else ())
        asks = []
        for depth in ("1", "infinity"):
            for accept in ("application/xml", "application/json"):
                headers = {"Depth": depth, "DAV": "bind", "Accept": accept}
                asks.append(("PROPFIND", "/", headers, body))
        answers = asyncio.run(_run(app, asks))
    finally:
        app.services.threads.close()
        app.services.store.close()
    for xml, js in zip(answers[::2], answers[1::2], strict=True):
        assert xml.status_code == js.status_code == 207, (xml.text, js.text)
        assert js.headers["content-type"].startswith("application/json")
        CHECK.validate(json.loads(js.content))
        assert fold_multistatus(xml.content, BASE + "/") == fold_multistatus(js.content,
                                                                            BASE + "/")


def _example(tmp: Path) -> tuple[bytes, bytes]:
    """RFC 5842 §7.1.1: in /Coll/, the file Foo is reported 200 and Bar, an alias of
    /Coll/ itself, 208."""
    app = App(build_services(Settings(data_dir=str(tmp), allow_loops=True).resolved()))
    calls = [("MKCOL", "/Coll/", {}, b""), ("PUT", "/Coll/Foo", {}, b"data"),
             _bind("/Coll/", "Bar", "/Coll/")]  # fmt: skip
    try:
        asyncio.run(_run(app, calls))
        asks = [("PROPFIND", "/Coll/", {"Depth": "infinity", "DAV": "bind", "Accept": a}, b"")
                for a in ("application/xml", "application/json")]  # fmt: skip
        xml, js = asyncio.run(_run(app, asks))
    finally:
        app.services.threads.close()
        app.services.store.close()
    return xml.content, js.content


def test_the_208_example_round_trips(tmp_path: Path) -> None:
    xml, js = _example(tmp_path)
    CHECK.validate(json.loads(js))
    entries = json.loads(js)["responses"]
    assert [(e["href"], e["status"], e.get("first_reported_at")) for e in entries] == [
        ("/Coll/", 200, None), ("/Coll/Bar/", 208, "/Coll/"), ("/Coll/Foo", 200, None)]
    url = BASE + "/Coll/"
    for body in (xml, js):
        coll, foo = fold_multistatus(body, url)
        assert (coll.href, coll.aliases) == ("/Coll/", ("/Coll/Bar/",))
        assert (foo.href, foo.aliases, foo.size) == ("/Coll/Foo", (), 4)
    assert fold_multistatus(xml, url) == fold_multistatus(js, url)


def _json_parsers(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the JSON parsers the client builds (one per JSON answer it reads)."""
    from davbind.client import multistatus_json

    made: list[int] = []
    original = multistatus_json.JsonMultistatusParser.__init__

    def counting(self: Any) -> None:
        made.append(1)
        original(self)

    monkeypatch.setattr(multistatus_json.JsonMultistatusParser, "__init__", counting)
    return made


def test_client_reads_json_from_davbind(client: Any, space: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    client.put(space + "f", b"abc")
    made = _json_parsers(monkeypatch)
    listing = client.ls(space)
    assert [e.name for e in listing.members()] == ["f"] and listing.members()[0].size == 3
    assert made, "the client did not read the JSON form from davbind"
    info = client.info(space + "f")
    assert info.displayname == "f" and info.size == 3


def test_client_falls_back_to_xml_elsewhere(wsgidav: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from davbind.client import Client

    with wsgidav() as (url, root):
        (Path(root) / "f").write_bytes(b"abc")
        made = _json_parsers(monkeypatch)
        with Client(url) as c:
            (entry,) = c.ls("/").members()
        assert entry.size == 3 and not made
