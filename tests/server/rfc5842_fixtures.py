"""Helpers of the RFC 5842 server tests (``test_rfc5842_*.py``): an in-process davbind.

The rule kept here: every test talks HTTP to the ASGI app through ``httpx.ASGITransport``
with ``Host: www.example.com`` (the host of the RFC examples), one ``asyncio.run`` per
request, and builds its state with MKCOL / PUT / BIND over HTTP, never through storage.
Multistatus bodies are parsed with ``xml.etree`` into small values (``Resp``) so a test
can look at response-level and propstat-level statuses separately (RFC 5842 §7.1 allows
both forms of 208; davbind emits the propstat form, decision A-2).

This module is imported by the test modules (not a ``conftest``: another person owns
``tests/server/conftest.py``).  Under ``--import-mode=importlib`` test directories are
not on ``sys.path``, so each test module puts its own directory there first.
"""

from __future__ import annotations

import asyncio
import dataclasses
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx
import metadata_override

from davbind.server.app import App, build_services
from davbind.server.settings import Settings

D = "{DAV:}"
HOST = "www.example.com"
BASE = f"http://{HOST}"
XML_CT = 'application/xml; charset="utf-8"'
Headers = Mapping[str, str] | Sequence[tuple[str, str]]
UUID_RE = re.compile(
    r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
)


# --------------------------------------------------------------------------- bodies


def bind_body(segment: str, href: str, *, href_first: bool = False) -> bytes:
    seg = f"<D:segment>{segment}</D:segment>"
    ref = f"<D:href>{href}</D:href>"
    inner = ref + seg if href_first else seg + ref
    return f'<?xml version="1.0" encoding="utf-8"?><D:bind xmlns:D="DAV:">{inner}</D:bind>'.encode()


def unbind_body(segment: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:unbind xmlns:D="DAV:"><D:segment>{segment}</D:segment></D:unbind>'
    ).encode()


def rebind_body(segment: str, href: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><D:rebind xmlns:D="DAV:">'
        f"<D:segment>{segment}</D:segment><D:href>{href}</D:href></D:rebind>"
    ).encode()


def prop_body(*names: str) -> bytes:
    """``<D:propfind><D:prop>`` of DAV: local names (``"resource-id"``) or Clark names."""
    inner = []
    for name in names:
        if name.startswith("{"):
            ns, _, local = name[1:].partition("}")
            inner.append(f'<x:{local} xmlns:x="{ns}"/>')
        else:
            inner.append(f"<D:{name}/>")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:propfind xmlns:D="DAV:"><D:prop>{"".join(inner)}</D:prop></D:propfind>'
    ).encode()


ALLPROP = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
)
PROPNAME = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>'
)


def lockinfo(scope: str = "exclusive", owner: str = "rfc5842-tests") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:{scope}/></D:lockscope>'
        "<D:locktype><D:write/></D:locktype>"
        f"<D:owner><D:href>{owner}</D:href></D:owner></D:lockinfo>"
    ).encode()


def displayname_patch(name: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set>'
        f"<D:prop><D:displayname>{name}</D:displayname></D:prop></D:set></D:propertyupdate>"
    ).encode()


def dead_patch(local: str, value: str, ns: str = "urn:x-test") -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:"><D:set>'
        f'<D:prop><x:{local} xmlns:x="{ns}">{value}</x:{local}></D:prop></D:set>'
        "</D:propertyupdate>"
    ).encode()


# --------------------------------------------------------------------------- parsed values


@dataclass(frozen=True, slots=True)
class Propstat:
    status: int
    props: dict[str, ET.Element]
    error: list[str]


@dataclass(frozen=True, slots=True)
class Resp:
    """One ``<D:response>``: href as sent, a response-level status (or None), propstats."""

    href: str
    status: int | None
    propstats: list[Propstat] = field(default_factory=list)

    @property
    def path(self) -> str:
        """The decoded absolute path (scheme and host removed)."""
        return unquote(urlsplit(self.href).path)

    def statuses(self) -> set[int]:
        """Response-level and propstat statuses, without the 404 of properties not found."""
        out = {ps.status for ps in self.propstats if ps.status != 404}
        if self.status is not None:
            out.add(self.status)
        return out

    def prop(self, name: str) -> ET.Element | None:
        """The element of a property found with a non-404 status (Clark or DAV: local)."""
        clark = name if name.startswith("{") else D + name
        for ps in self.propstats:
            if ps.status != 404 and clark in ps.props:
                return ps.props[clark]
        return None

    def prop_status(self, name: str) -> int | None:
        clark = name if name.startswith("{") else D + name
        for ps in self.propstats:
            if clark in ps.props:
                return ps.status
        return None

    @property
    def rid(self) -> str | None:
        el = self.prop("resource-id")
        return None if el is None else (el.findtext(D + "href") or "").strip()

    @property
    def is_208(self) -> bool:
        return 208 in self.statuses()


def status_code(line: str | None) -> int:
    assert line, "empty <D:status>"
    parts = line.split()
    assert parts[0].startswith("HTTP/"), line
    return int(parts[1])


def parse_multistatus(body: bytes) -> list[Resp]:
    root = ET.fromstring(body)
    assert root.tag == D + "multistatus", body[:300]
    out: list[Resp] = []
    for resp in root.findall(D + "response"):
        href = (resp.findtext(D + "href") or "").strip()
        status_el = resp.find(D + "status")
        status = None if status_el is None else status_code(status_el.text)
        stats = []
        for ps in resp.findall(D + "propstat"):
            prop_el = ps.find(D + "prop")
            props = {} if prop_el is None else {p.tag: p for p in prop_el}
            err_el = ps.find(D + "error")
            errs = [] if err_el is None else [c.tag[len(D) :] for c in err_el]
            stats.append(Propstat(status_code(ps.findtext(D + "status")), props, errs))
        out.append(Resp(href, status, stats))
    return out


def error_names(r: httpx.Response) -> list[str]:
    """Local names of the DAV: condition elements of a top-level ``<D:error>`` body."""
    root = ET.fromstring(r.content)
    assert root.tag == D + "error", r.content[:300]
    return [c.tag[len(D) :] for c in root if c.tag.startswith(D)]


def condition_hrefs(r: httpx.Response, condition: str) -> list[str]:
    """The hrefs inside a condition element, as paths without a trailing slash (a
    collection's href may be sent either way, RFC 4918 §5.2)."""
    el = ET.fromstring(r.content).find(D + condition)
    assert el is not None, r.content[:300]
    return [no_slash((h.text or "").strip()) for h in el.findall(D + "href")]


def no_slash(href: str) -> str:
    path = urlsplit(href).path or "/"
    return path if path == "/" else path.rstrip("/")


def parent_set(el: ET.Element | None) -> list[tuple[str, str]]:
    """``DAV:parent-set`` -> [(href, segment)] in document order."""
    assert el is not None and el.tag == D + "parent-set"
    return [
        ((p.findtext(D + "href") or "").strip(), (p.findtext(D + "segment") or "").strip())
        for p in el.findall(D + "parent")
    ]


# --------------------------------------------------------------------------- the server


class Srv:
    """One davbind app on one data directory, driven over in-process HTTP."""

    def __init__(self, data_dir: Path, **overrides: Any) -> None:
        self.metadata_url = metadata_override.metadata_url(data_dir)
        # loops allowed: these tests exercise RFC 5842's loop rules (208, 508); the
        # default that refuses them is tested in tests/server/test_permissions.py
        base = Settings(
            data_dir=str(data_dir), metadata_url=self.metadata_url,
            blobs_url=metadata_override.blobs_url(data_dir), allow_loops=True,
        ).resolved()
        self.settings = dataclasses.replace(base, **overrides)
        self.app = App(build_services(self.settings))

    def close(self) -> None:
        self.app.services.store.close()

    def blob_files(self) -> list[Path]:
        """Content files of the blob store (``<data>/blobs/ab/cd/<sha256>``)."""
        metadata_override.local_blobs_only(Path(self.settings.data_dir))
        root = Path(self.settings.data_dir) / "blobs"
        return sorted(p for p in root.glob("??/??/*") if p.is_file())

    def stored(self) -> list[str]:
        """Digests of every stored content, blob files and contents kept inline."""
        data = Path(self.settings.data_dir)
        files = metadata_override.blob_digests(data)
        return sorted(files + metadata_override.inline_digests(data, self.metadata_url))

    # -- requests -----------------------------------------------------------------------

    async def _send(self, reqs: Sequence[tuple[str, str, Headers, bytes]]) -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=self.app)  # type: ignore[arg-type]
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            out = []
            for method, url, headers, body in reqs:
                out.append(await client.request(method, url, headers=headers, content=body))
            return out

    def request(
        self,
        method: str,
        url: str,
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> httpx.Response:
        """One request; ``headers`` may be a list of pairs to repeat a header line."""
        return asyncio.run(self._send([(method, url, headers or {}, body)]))[0]

    # -- building state -----------------------------------------------------------------

    def mkcol(self, url: str) -> None:
        r = self.request("MKCOL", url)
        assert r.status_code == 201, (url, r.status_code, r.text)

    def put(self, url: str, content: bytes = b"data", **headers: str) -> httpx.Response:
        r = self.request("PUT", url, _h(headers), content)
        assert r.status_code in (201, 204), (url, r.status_code, r.text)
        return r

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def bind(
        self, coll: str, segment: str, href: str, *, overwrite: str | None = None, **headers: str
    ) -> httpx.Response:
        hdrs = {"Content-Type": XML_CT, **_h(headers)}
        if overwrite is not None:
            hdrs["Overwrite"] = overwrite
        return self.request("BIND", coll, hdrs, bind_body(segment, href))

    def bind_ok(self, coll: str, segment: str, href: str, **kw: Any) -> httpx.Response:
        r = self.bind(coll, segment, href, **kw)
        assert r.status_code in (201, 204), (coll, segment, href, r.status_code, r.text)
        return r

    def unbind(self, coll: str, segment: str, **headers: str) -> httpx.Response:
        hdrs = {"Content-Type": XML_CT, **_h(headers)}
        return self.request("UNBIND", coll, hdrs, unbind_body(segment))

    def rebind(
        self, coll: str, segment: str, href: str, *, overwrite: str | None = None, **headers: str
    ) -> httpx.Response:
        hdrs = {"Content-Type": XML_CT, **_h(headers)}
        if overwrite is not None:
            hdrs["Overwrite"] = overwrite
        return self.request("REBIND", coll, hdrs, rebind_body(segment, href))

    def proppatch(self, url: str, body: bytes, **headers: str) -> httpx.Response:
        return self.request("PROPPATCH", url, {"Content-Type": XML_CT, **_h(headers)}, body)

    def set_displayname(self, url: str, name: str) -> None:
        r = self.proppatch(url, displayname_patch(name))
        assert r.status_code == 207 and " 200 " in r.text, r.text

    def copy(self, src: str, dest: str, **headers: str) -> httpx.Response:
        return self.request("COPY", src, {"Destination": dest, **_h(headers)})

    def move(self, src: str, dest: str, **headers: str) -> httpx.Response:
        return self.request("MOVE", src, {"Destination": dest, **_h(headers)})

    def delete(self, url: str, **headers: str) -> httpx.Response:
        return self.request("DELETE", url, _h(headers))

    def lock(self, url: str, depth: str = "infinity", scope: str = "exclusive") -> str:
        r = self.request("LOCK", url, {"Depth": depth, "Content-Type": XML_CT}, lockinfo(scope))
        assert r.status_code in (200, 201), (url, r.status_code, r.text)
        return r.headers["lock-token"].strip("<>")

    # -- reading ------------------------------------------------------------------------

    def propfind(
        self,
        url: str,
        depth: str | None = "0",
        body: bytes = b"",
        *,
        bind_aware: bool = False,
        **headers: str,
    ) -> httpx.Response:
        hdrs = {"Content-Type": XML_CT, **_h(headers)}
        if depth is not None:
            hdrs["Depth"] = depth
        if bind_aware:
            hdrs["DAV"] = "bind"
        return self.request("PROPFIND", url, hdrs, body)

    def responses(
        self,
        url: str,
        depth: str = "0",
        names: Sequence[str] = ("resourcetype", "resource-id"),
        *,
        bind_aware: bool = False,
        **headers: str,
    ) -> list[Resp]:
        r = self.propfind(url, depth, prop_body(*names), bind_aware=bind_aware, **headers)
        assert r.status_code == 207, (url, r.status_code, r.text)
        return parse_multistatus(r.content)

    def one(self, url: str, *names: str) -> Resp:
        resps = self.responses(url, "0", names or ("resourcetype", "resource-id"))
        assert len(resps) == 1
        return resps[0]

    def rid(self, url: str) -> str:
        value = self.one(url, "resource-id").rid
        assert value, url
        return value

    def parents(self, url: str) -> list[tuple[str, str]]:
        return parent_set(self.one(url, "parent-set").prop("parent-set"))

    def paths(self, url: str = "/", *, bind_aware: bool = True) -> dict[str, Resp]:
        """Depth-infinity listing below ``url``: decoded path -> response."""
        resps = self.responses(url, "infinity", bind_aware=bind_aware)
        out: dict[str, Resp] = {}
        for resp in resps:
            assert resp.path not in out, f"href {resp.path} twice"
            out[resp.path] = resp
        return out

    def members(self, url: str) -> dict[str, str]:
        """Depth 1: member segment -> resource-id (the collection's bindings)."""
        resps = self.responses(url, "1")
        base = resps[0].path
        out = {}
        for resp in resps[1:]:
            seg = resp.path[len(base) :].strip("/")
            out[seg] = resp.rid or ""
        return out


def _h(headers: Mapping[str, str]) -> dict[str, str]:
    """Keyword headers: ``If_Match`` -> ``If-Match``."""
    return {k.replace("_", "-"): v for k, v in headers.items()}


@contextmanager
def open_srv(tmp_path: Path, **overrides: Any) -> Iterator[Srv]:
    srv = Srv(tmp_path / "data", **overrides)
    try:
        yield srv
    finally:
        srv.close()


class SrvFactory:
    """``make(allow_loops=False)`` -> a second app with other settings (own data dir)."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.opened: list[Srv] = []

    def __call__(self, **overrides: Any) -> Srv:
        srv = Srv(self.tmp_path / f"data{len(self.opened)}", **overrides)
        self.opened.append(srv)
        return srv

    def close(self) -> None:
        for srv in self.opened:
            srv.close()


# --------------------------------------------------------------------------- RFC states


def e1_state(srv: Srv) -> None:
    """RFC 5842 §2.1: Root{CollX->C1, CollY->C1}; C1{x.gif->R1, y.jpg->R2}."""
    srv.mkcol("/CollX")
    srv.put("/CollX/x.gif", b"GIF89a-R1", Content_Type="image/gif")
    srv.put("/CollX/y.jpg", b"JPEG-R2", Content_Type="image/jpeg")
    srv.bind_ok("/", "CollY", "/CollX/")


def e15_state(srv: Srv) -> None:
    """RFC 5842 §7.1.1: /Coll -> C; C{Foo->R, Bar->C}; displaynames as in the RFC."""
    srv.mkcol("/Coll")
    srv.put("/Coll/Foo", b"birds")
    srv.set_displayname("/Coll/", "Loop Demo")
    srv.set_displayname("/Coll/Foo", "Bird Inventory")
    srv.bind_ok("/Coll/", "Bar", "/Coll/")


def state(srv: Srv) -> dict[str, str | None]:
    """Every path with its resource-id (Depth infinity, bind-aware)."""
    return {path: resp.rid for path, resp in srv.paths("/").items()}
