"""Fixtures of the server tests: the ASGI app in-process, driven through httpx.

The rule kept here: tests are plain synchronous pytest functions.  Every request runs in
its own ``asyncio.run`` through ``httpx.ASGITransport`` (no pytest-asyncio); requests that
must overlap go through ``Dav.many`` (one event loop, ``asyncio.gather``).  Requests
whose raw target or method httpx would normalise or refuse (``/a/../b``, ``%2F``, a
garbage method) go straight to the ASGI callable through ``Dav.raw``.

Helpers are methods of ``Dav`` (and the ``make_dav`` factory) rather than importable
functions: another ``conftest`` module elsewhere in ``tests/`` would clash with
``from conftest import ...`` under ``--import-mode=importlib``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import jsonschema
import pytest

from davbind.server.app import App, build_services
from davbind.server.json_schema import ERROR, LISTING
from davbind.server.settings import Settings

sys.path.insert(0, str(Path(__file__).parent))  # this directory's helper modules
import metadata_override

D = "{DAV:}"
BASE = "http://testserver"

# Properties compared by ``Dav.snapshot``: everything that changes when a resource, its
# content, its properties or (for a collection) its membership changes.  Not
# lockdiscovery, whose timeout counts down.
SNAPSHOT_PROPS = (
    "resourcetype",
    "getetag",
    "getcontentlength",
    "getcontenttype",
    "getlastmodified",
    "creationdate",
    "resource-id",
)


def stored_digests(data_dir: Path, metadata_url: str = "") -> list[str]:
    """Digests of the blob files (or objects) of ``data_dir`` and of the contents its metadata
    store keeps inline (``Txn.store_inline``), sorted; a digest stored both ways twice.
    ``metadata_url``: the store's, when it is not the SQLite file in ``data_dir``."""
    files = metadata_override.blob_digests(data_dir)
    return sorted(files + metadata_override.inline_digests(data_dir, metadata_url))


LISTING_CHECK = jsonschema.Draft202012Validator(LISTING)
ERROR_CHECK = jsonschema.Draft202012Validator(ERROR)
JSON_SEEN: dict[str, int] = {"listing": 0, "error": 0}
"""How many JSON bodies the schema check saw in this session (a test reads it)."""


def check_json(status: int, headers: Mapping[str, str], body: bytes) -> None:
    """Every JSON body a server test receives must fit the published schema: a 207
    the listing schema, a 4xx/5xx the problem schema (and an error asked for in JSON
    must not come as anything else)."""
    ctype = headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "application/problem+json" or (ctype == "application/json" and status >= 400):
        assert status >= 400, (status, ctype)
        ERROR_CHECK.validate(json.loads(body))
        JSON_SEEN["error"] += 1
    elif ctype == "application/json" and status == 200:  # server.shares: a share, a list
        assert set(json.loads(body)) in ({"path", "with", "access", "bound_at"},
                                         {"shared_by_me", "shared_with_me"})  # fmt: skip
    elif ctype == "application/json":
        assert status == 207, (status, body[:200])
        LISTING_CHECK.validate(json.loads(body))
        JSON_SEEN["listing"] += 1


@pytest.fixture(autouse=True)
def _json_bodies_fit_the_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrap every in-process ``App`` of the server tests (whatever client drives it) so
    that each JSON body it sends is checked by ``check_json`` when its last chunk
    leaves; a misfit fails the request, and so the test."""
    original = App.__call__

    async def checked(self: App, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await original(self, scope, receive, send)
            return
        status = 0
        headers: dict[str, str] = {}
        chunks: list[bytes] | None = None

        async def spy(message: Any) -> None:
            nonlocal status, headers, chunks
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
                chunks = [] if "json" in headers.get("content-type", "") else None
            elif message["type"] == "http.response.body" and chunks is not None:
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and scope["method"] != "HEAD":
                    check_json(status, headers, b"".join(chunks))
            await send(message)

        await original(self, scope, receive, spy)

    monkeypatch.setattr(App, "__call__", checked)


@dataclass(frozen=True, slots=True)
class Req:
    """One request for ``Dav.many``."""

    method: str
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)
    content: Any = None


@dataclass(frozen=True, slots=True)
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes


class Dav:
    """One davbind app over one data directory, plus request and XML helpers."""

    def __init__(self, data_dir: Path, **limits: Any) -> None:
        self.data_dir = data_dir
        self.metadata_url = metadata_override.metadata_url(data_dir)
        # loops allowed: these tests exercise RFC 5842's loop rules (208, 508); the
        # default that refuses them is tested in tests/server/test_permissions.py
        base = Settings(
            data_dir=str(data_dir), metadata_url=self.metadata_url,
            blobs_url=metadata_override.blobs_url(data_dir), allow_loops=True,
        ).resolved()
        self.settings = dataclasses.replace(base, **limits)
        self.app = App(build_services(self.settings))
        self._in_flight = 0
        self.max_in_flight = 0  # most requests inside the app at once, in the last call

    def close(self) -> None:
        self.app.services.store.close()

    # -- requests -------------------------------------------------------------------

    async def _counted(self, scope: Any, receive: Any, send: Any) -> None:
        self._in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            await self.app(scope, receive, send)
        finally:
            self._in_flight -= 1

    async def _send(self, reqs: list[Req]) -> list[httpx.Response]:
        self._in_flight = self.max_in_flight = 0
        transport = httpx.ASGITransport(app=self._counted)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            async def one(r: Req) -> httpx.Response:
                content = r.content() if callable(r.content) else r.content
                return await client.request(
                    r.method, r.url, headers=dict(r.headers), content=content
                )

            return list(await asyncio.gather(*(one(r) for r in reqs)))

    def request(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None = None,
        content: Any = None,
    ) -> httpx.Response:
        """One request; ``content`` may be a zero-argument callable returning an async
        iterator (it is called inside the event loop), for a chunked body."""
        return asyncio.run(self._send([Req(method, url, headers or {}, content)]))[0]

    def many(self, reqs: list[Req | tuple[Any, ...]]) -> list[httpx.Response]:
        """Run ``reqs`` concurrently in one event loop; responses in request order.
        A request is a ``Req`` or a tuple ``(method, url[, headers[, content]])``."""
        return asyncio.run(self._send([r if isinstance(r, Req) else Req(*r) for r in reqs]))

    def raw(
        self,
        method: str,
        raw_path: bytes,
        headers: Mapping[str, str] | None = None,
        body: bytes = b"",
    ) -> RawResponse:
        """Call the ASGI app with an exact request target (no URL normalisation)."""
        hdrs = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        if body:
            hdrs.append((b"content-length", str(len(body)).encode()))
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": unquote(raw_path.decode("latin-1")),
            "raw_path": raw_path,
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"testserver"), *hdrs],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 80),
        }
        sent: list[dict[str, Any]] = []
        pending = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(self.app(scope, receive, send))  # type: ignore[arg-type]
        start = sent[0]
        out_headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
        data = b"".join(m.get("body", b"") for m in sent[1:])
        return RawResponse(start["status"], out_headers, data)

    # -- shortcuts ------------------------------------------------------------------

    def put(self, url: str, content: bytes, **headers: str) -> httpx.Response:
        r = self.request("PUT", url, headers=_h(headers), content=content)
        assert r.status_code in (201, 204), (url, r.status_code, r.text)
        return r

    def mkcol(self, url: str) -> None:
        r = self.request("MKCOL", url)
        assert r.status_code == 201, (url, r.status_code, r.text)

    def propfind(
        self, url: str, body: str | bytes = b"", depth: str = "0", **headers: str
    ) -> httpx.Response:
        hdrs = {"Depth": depth, "Content-Type": "application/xml", **_h(headers)}
        return self.request("PROPFIND", url, headers=hdrs, content=body)

    def props(
        self, url: str, names: tuple[str, ...], depth: str = "0", **headers: str
    ) -> dict[str, dict[str, tuple[int, ET.Element]]]:
        """PROPFIND named properties -> {href: {clark name: (status, element)}}."""
        inner = "".join(_element(n) for n in names)
        body = f'<D:propfind xmlns:D="DAV:"><D:prop>{inner}</D:prop></D:propfind>'
        r = self.propfind(url, body, depth, **headers)
        assert r.status_code == 207, r.text
        return self.parse_multistatus(r)

    def lock(
        self,
        url: str,
        scope: str = "exclusive",
        depth: str = "infinity",
        expect: int | tuple[int, ...] = (200, 201),
        **headers: str,
    ) -> str:
        """LOCK ``url``; returns the token (without angle brackets)."""
        r = self.request(
            "LOCK",
            url,
            headers={"Depth": depth, "Content-Type": "application/xml", **_h(headers)},
            content=lockinfo(scope),
        )
        codes = expect if isinstance(expect, tuple) else (expect,)
        assert r.status_code in codes, (url, r.status_code, r.text)
        return r.headers.get("lock-token", "").strip("<>")

    # -- state ----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything observable about the stored tree: every URL's properties and, for
        each non-collection, its content."""
        tree = self.props("/", tuple(D + n for n in SNAPSHOT_PROPS), depth="infinity")
        out: dict[str, Any] = {}
        for href, props in sorted(tree.items()):
            values = {
                name: (status, ET.tostring(el)) for name, (status, el) in sorted(props.items())
            }
            content = None
            if not href.endswith("/"):
                g = self.request("GET", href)
                assert g.status_code == 200
                content = g.content
            out[href] = (values, content)
        return out

    def flushed(self) -> None:
        """Wait for the background flush of content written so far (``durability =
        "standard"``): until then the content it replaces is kept for a roll-back."""
        flush = getattr(self.app.services.store, "flush_blobs", None)
        if flush is not None:
            assert flush(30), "blobs were not flushed within 30 s"

    def blob_files(self) -> list[Path]:
        metadata_override.local_blobs_only(self.data_dir)
        self.flushed()
        return sorted(p for p in (self.data_dir / "blobs").glob("??/??/*") if p.is_file())

    def stored(self) -> list[str]:
        """The digest of every stored content: blob files and contents kept inline."""
        self.flushed()
        return stored_digests(self.data_dir, self.metadata_url)

    def tmp_files(self) -> list[Path]:
        tmp = self.data_dir / "blobs" / "tmp"
        return sorted(tmp.iterdir()) if tmp.exists() else []

    # -- XML ------------------------------------------------------------------------

    @staticmethod
    def xml(r: httpx.Response | RawResponse) -> ET.Element:
        body = r.body if isinstance(r, RawResponse) else r.content
        return ET.fromstring(body)

    @staticmethod
    def error_names(r: httpx.Response | RawResponse) -> list[str]:
        """Local names of the DAV: condition elements of a ``<D:error>`` body."""
        root = Dav.xml(r)
        assert root.tag == D + "error", ET.tostring(root)
        return [c.tag[len(D):] for c in root if c.tag.startswith(D)]

    @staticmethod
    def condition_hrefs(r: httpx.Response | RawResponse, condition: str) -> list[str]:
        el = Dav.xml(r).find(D + condition)
        assert el is not None
        return [h.text or "" for h in el.findall(D + "href")]

    @staticmethod
    def parse_multistatus(
        r: httpx.Response,
    ) -> dict[str, dict[str, tuple[int, ET.Element]]]:
        root = ET.fromstring(r.content)
        assert root.tag == D + "multistatus"
        out: dict[str, dict[str, tuple[int, ET.Element]]] = {}
        for resp in root.findall(D + "response"):
            href = resp.findtext(D + "href") or ""
            assert href not in out, f"href {href} twice"
            props: dict[str, tuple[int, ET.Element]] = {}
            for ps in resp.findall(D + "propstat"):
                status = int((ps.findtext(D + "status") or "").split()[1])
                prop_el = ps.find(D + "prop")
                for prop in [] if prop_el is None else list(prop_el):
                    props[prop.tag] = (status, prop)
            out[href] = props
        return out

    @staticmethod
    def propstat_statuses(r: httpx.Response) -> list[int]:
        root = ET.fromstring(r.content)
        return [int((s.text or "").split()[1]) for s in root.iter(D + "status")]


def _h(headers: Mapping[str, str]) -> dict[str, str]:
    """Keyword headers: ``If_Match`` -> ``If-Match``."""
    return {k.replace("_", "-"): v for k, v in headers.items()}


def _element(clark: str) -> str:
    ns, _, local = clark[1:].partition("}")
    if ns == "DAV:":
        return f"<D:{local}/>"
    return f'<x:{local} xmlns:x="{ns}"/>'


def lockinfo(scope: str = "exclusive", owner: str = "tester") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope>'
        "<D:locktype><D:write/></D:locktype>"
        f"<D:owner><D:href>{owner}</D:href></D:owner></D:lockinfo>"
    ).encode()


@pytest.fixture
def make_dav(tmp_path: Path) -> Iterator[Callable[..., Dav]]:
    """Factory: ``make_dav(max_body_bytes=1000)`` opens an app on this test's data dir
    (call it again for a second app on the same data, e.g. a restart)."""
    opened: list[Dav] = []

    def make(**limits: Any) -> Dav:
        dav = Dav(tmp_path / "data", **limits)
        opened.append(dav)
        return dav

    yield make
    for dav in opened:
        dav.close()


@pytest.fixture
def dav(make_dav: Callable[..., Dav]) -> Dav:
    return make_dav()


@pytest.fixture(autouse=True)
def _metadata_databases() -> Iterator[None]:
    """Drops the databases of ``DAVBIND_TEST_METADATA_URL`` made by the test (set up
    first, so torn down after the fixtures whose apps use them)."""
    yield
    metadata_override.drop_made()


@pytest.fixture
def make_srv(tmp_path: Path) -> Iterator[Any]:
    """For the RFC 5842 modules: a factory of in-process servers on one data directory
    (restarts, other settings); see rfc5842_fixtures.SrvFactory."""
    sys.path.insert(0, str(Path(__file__).parent))
    import rfc5842_fixtures

    factory = rfc5842_fixtures.SrvFactory(tmp_path)
    yield factory
    factory.close()


BothPaths = Callable[[Any, str, dict[str, str], bytes], tuple[bytes, bytes]]


@pytest.fixture
def both_paths(monkeypatch: pytest.MonkeyPatch) -> BothPaths:
    """``both_paths(dav, url, headers, body)``: the PROPFIND answered by the lean listing
    path and by the general one (``propfind.LEAN_LISTINGS`` off), both 207."""
    from davbind.server import propfind

    def run(dav: Any, url: str, headers: dict[str, str], body: bytes) -> tuple[bytes, bytes]:
        lean = dav.request("PROPFIND", url, headers=headers, content=body)
        monkeypatch.setattr(propfind, "LEAN_LISTINGS", False)
        try:
            general = dav.request("PROPFIND", url, headers=headers, content=body)
        finally:
            monkeypatch.setattr(propfind, "LEAN_LISTINGS", True)
        assert lean.status_code == general.status_code == 207
        return bytes(lean.content), bytes(general.content)

    return run
