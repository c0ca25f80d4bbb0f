"""Generated bodies: exact text for small counts, lazy chunks and flat memory for huge ones."""

from __future__ import annotations

import asyncio
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable, MutableMapping
from typing import Any

from davbind.mock import MockApp, Scenario, find_scenario

Make = Callable[[str], Scenario]
D = "{DAV:}"


def test_generated_multistatus_text(scenario_from: Make, call_app: Any) -> None:
    text = """
[[expect]]
method = "PROPFIND"
path = "/g/"
[expect.response]
status = 207
[expect.response.generate]
count = 5
batch = 2
prefix = "<D:response><D:href>${path}</D:href><D:status>HTTP/1.1 200 OK</D:status></D:response>"
template = '''<D:response><D:href>${path}f{n}-{i:03d}</D:href>\
<D:status>HTTP/1.1 200 OK</D:status></D:response>'''
suffix = "<D:responsedescription>done</D:responsedescription>"
"""
    sent = call_app(MockApp(scenario_from(text)), "PROPFIND", "/g/", [("Host", "h")])
    assert sent.status == 207 and sent.header("content-length") is None
    assert len(sent.chunks) == 5  # head+prefix, three batches (2, 2, 1), suffix+tail
    root = ET.fromstring(sent.body)
    assert root.tag == D + "multistatus"
    hrefs = [r.findtext(D + "href") for r in root.iter(D + "response")]
    assert hrefs == ["/g/", "/g/f1-000", "/g/f2-001", "/g/f3-002", "/g/f4-003", "/g/f5-004"]
    assert root.findtext(D + "responsedescription") == "done"


def test_raw_generated_body_has_no_wrapper(scenario_from: Make, call_app: Any) -> None:
    text = """
[[expect]]
method = "GET"
path = "/lines"
[expect.response]
status = 200
headers = { Content-Type = "text/plain" }
[expect.response.generate]
kind = "raw"
count = 3
template = "{{line}} {n}\\n"
"""
    sent = call_app(MockApp(scenario_from(text)), "GET", "/lines", [("Host", "h")])
    assert sent.body == b"{line} 1\n{line} 2\n{line} 3\n"


def test_huge_multistatus_streams_in_flat_memory() -> None:
    """100,000 responses (~37 MB) go out in many chunks while little is allocated."""
    app = MockApp(find_scenario("huge-multistatus"))
    total = 0
    chunks = 0
    peak_before_end = 0

    async def run() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.sleep(3600)
            delivered = True
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal total, chunks, peak_before_end
            body = message.get("body", b"")
            if body:
                total += len(body)
                chunks += 1
                peak_before_end = max(peak_before_end, tracemalloc.get_traced_memory()[1])

        scope = {"type": "http", "method": "PROPFIND", "path": "/big/", "raw_path": b"/big/",
                 "query_string": b"", "headers": [(b"host", b"h"), (b"depth", b"1")],
                 "scheme": "http", "server": ("h", 80)}
        await app(scope, receive, send)

    tracemalloc.start()
    try:
        asyncio.run(run())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total > 30_000_000
    assert chunks >= 100
    assert peak < 8_000_000, f"peak {peak} bytes while sending {total}"
