"""Test-only: the real davbind app behind an ASGI middleware that injects one named fault.

Loaded by path from ``tests/conformance/conftest.py`` (test directories are not
packages).  :class:`FaultyServer` serves ``App(build_services(settings))`` under uvicorn
from a background thread on a free loopback port (like ``davbind.mock``'s runner); set
``server.fault = "name"`` to make it misbehave in exactly one way, ``None`` for a clean
server.  Requests to the checker's scratch collection itself (``/davbind-check-…/``) are
never touched, so every run can clean up.

Each fault is a coroutine ``fault(server, request) -> Reply`` registered in
:data:`FAULTS`: it may rewrite the request, answer without asking the app, ask the app
several times (internal requests go straight to the ASGI callable), and rewrite the
answer.  This module holds the server and the building blocks; the catalogue of faults
is ``faults.py`` (loaded after this one by ``conftest.py``).  The rewriting relies on
davbind's own output (``D:`` prefix, one ``<D:response>`` after another).
"""

from __future__ import annotations

import asyncio
import importlib.util
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import uvicorn

from davbind.mock.runner import base_url, listen_socket
from davbind.server.app import App, build_services
from davbind.server.settings import Settings

D = "{DAV:}"
# uvloop sets TCP_NODELAY on accepted sockets; asyncio's loop here meets Nagle + delayed
# ACK (40 ms per response whose head and body are written separately).
LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"


@dataclass(frozen=True)
class Req:
    method: str
    path: str  # raw, percent-encoded
    headers: tuple[tuple[str, str], ...]  # names lower-case
    body: bytes = b""
    scope: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None

    def set(self, name: str, value: str | None) -> Req:
        kept = tuple((k, v) for k, v in self.headers if k != name.lower())
        return replace(self, headers=kept if value is None else (*kept, (name.lower(), value)))

    def to(self, method: str, path: str, body: bytes = b"", **headers: str) -> Req:
        """Another request on the same connection details (Host etc.)."""
        base = tuple((k, v) for k, v in self.headers if k in ("host", "user-agent"))
        extra = tuple((k.lower().replace("_", "-"), v) for k, v in headers.items())
        return Req(method, path, (*base, *extra), body, self.scope)


@dataclass(frozen=True)
class Reply:
    status: int
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name.lower()]
        return ", ".join(values) if values else None

    def set(self, name: str, value: str | None) -> Reply:
        kept = tuple((k, v) for k, v in self.headers if k != name.lower())
        return replace(self, headers=kept if value is None else (*kept, (name.lower(), value)))


Fault = Callable[["FaultyServer", Req], Awaitable[Reply]]
FAULTS: dict[str, Fault] = {}


def fault(name: str) -> Callable[[Fault], Fault]:
    def register(fn: Fault) -> Fault:
        FAULTS[name] = fn
        return fn

    return register


class FaultyServer:
    """davbind with a fault switch, served from a thread (see the module docstring)."""

    def __init__(self, data_dir: Path) -> None:
        # loops allowed, as for davbind_server: the loop checks' faults need loops to break
        settings = Settings(data_dir=str(data_dir), allow_loops=True).resolved()
        self.app = App(build_services(settings))
        self.fault: str | None = None
        self.state: dict[str, Any] = {}
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def set_fault(self, name: str | None) -> None:
        if name is not None and name not in FAULTS:
            raise KeyError(name)
        self.fault = name
        self.state = {}

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
        headers = tuple((k.decode("latin-1").lower(), v.decode("latin-1"))
                        for k, v in scope["headers"])  # fmt: skip
        req = Req(scope["method"].upper(), raw, headers, b"".join(chunks), dict(scope))
        handler = FAULTS.get(self.fault) if self.fault and not _scratch_root(raw) else None
        reply = await (handler(self, req) if handler else self.call(req))
        out = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in reply.headers
               if k not in ("content-length", "transfer-encoding")]  # fmt: skip
        body = b"" if reply.status in (204, 304) else reply.body
        if reply.status not in (204, 304):
            out.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": reply.status, "headers": out})
        await send({"type": "http.response.body", "body": body if scope["method"] != "HEAD"
                    else b""})  # fmt: skip

    async def call(self, req: Req) -> Reply:
        """Ask the real app (no fault)."""
        scope = dict(req.scope)
        body = req.body
        hdrs = [(k, v) for k, v in req.headers if k not in ("content-length", "transfer-encoding")]
        if body:
            hdrs.append(("content-length", str(len(body))))
        scope.update(method=req.method, path=unquote(req.path), raw_path=req.path.encode(),
                     query_string=b"",
                     headers=[(k.encode("latin-1"), v.encode("latin-1")) for k, v in hdrs])
        pending = [{"type": "http.request", "body": body, "more_body": False}]
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            if pending:
                return pending.pop()
            await asyncio.sleep(3600)
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await self.app(scope, receive, send)
        start = sent[0]
        out = tuple((k.decode("latin-1").lower(), v.decode("latin-1"))
                    for k, v in start["headers"])  # fmt: skip
        return Reply(start["status"], out, b"".join(m.get("body", b"") for m in sent[1:]))

    # ------------------------------------------------------------------ running

    def start(self) -> FaultyServer:
        sock = listen_socket("127.0.0.1", 0)
        self.url = base_url(sock) + "/"
        config = uvicorn.Config(self, log_level="warning", loop=LOOP, lifespan="off")
        server = uvicorn.Server(config)
        self._server = server
        self._thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                                        daemon=True, name="faulty-davbind")  # fmt: skip
        self._thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("faulty server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.app.services.store.close()


def _scratch_root(raw_path: str) -> bool:
    parts = [p for p in raw_path.split("/") if p]
    return len(parts) <= 1 and (not parts or parts[0].startswith("davbind-check-"))


# ====================================================================== building blocks

RESPONSE = re.compile(rb"<D:response>.*?</D:response>", re.S)
HREF = re.compile(rb"<D:href>([^<]*)</D:href>")
RID = re.compile(rb"<D:resource-id><D:href>([^<]*)</D:href></D:resource-id>")
OK = b"HTTP/1.1 200 OK"
ALREADY = b"HTTP/1.1 208 Already Reported"


def status_map(methods: set[str], old: int, new: int, *, drop_body: bool = True) -> Fault:
    async def run(s: FaultyServer, req: Req) -> Reply:
        reply = await s.call(req)
        if req.method in methods and reply.status == old:
            body = b"" if drop_body else reply.body
            return replace(reply, status=new, body=body)
        return reply

    return run


def request_rewrite(fn: Callable[[Req], Req]) -> Fault:
    async def run(s: FaultyServer, req: Req) -> Reply:
        return await s.call(fn(req))

    return run


def reply_rewrite(fn: Callable[[Req, Reply], Reply]) -> Fault:
    async def run(s: FaultyServer, req: Req) -> Reply:
        return fn(req, await s.call(req))

    return run


def body_rewrite(methods: set[str], fn: Callable[[Req, bytes], bytes]) -> Fault:
    return reply_rewrite(lambda req, r: replace(r, body=fn(req, r.body))
                         if req.method in methods and r.status == 207 else r)  # fmt: skip


def responses(body: bytes, fn: Callable[[bytes], bytes]) -> bytes:
    return RESPONSE.sub(lambda m: fn(m.group(0)), body)


def bind_aware(req: Req) -> bool:
    return "bind" in (req.header("dav") or "").lower()


def internal_propfind(req: Req, path: str, depth: str, props: str) -> Req:
    body = f'<D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>'.encode()
    return req.to("PROPFIND", path, body, Depth=depth, DAV="bind",
                  Content_Type="application/xml")  # fmt: skip


def parse(body: bytes) -> ET.Element:
    return ET.fromstring(body)


def dest_path(req: Req) -> str:
    return urlsplit(req.header("destination") or "").path


async def parents_of(
    s: FaultyServer, req: Req, path: str, depth: str = "0"
) -> list[tuple[str, str]]:
    """(parent href, segment) of every binding of every resource at/below ``path``."""
    reply = await s.call(internal_propfind(req, path, depth, "<D:parent-set/>"))
    if reply.status != 207:
        return []
    out = []
    for p in parse(reply.body).iter(D + "parent"):
        out.append((p.findtext(D + "href") or "", p.findtext(D + "segment") or ""))
    return out


async def unbind(s: FaultyServer, req: Req, parent: str, segment: str) -> None:
    body = f'<D:unbind xmlns:D="DAV:"><D:segment>{segment}</D:segment></D:unbind>'.encode()
    await s.call(req.to("UNBIND", parent, body, Content_Type="application/xml"))


def binding_of(path: str) -> tuple[str, str]:
    p = path.rstrip("/")
    parent, _, seg = p.rpartition("/")
    return parent + "/", seg


def same_binding(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return (a[0].rstrip("/"), unquote(a[1])) == (b[0].rstrip("/"), unquote(b[1]))
