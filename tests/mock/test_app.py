"""The ASGI app: canned replies, expansions, chunking, and how unexpected requests are met."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping
from typing import Any

from davbind.mock import MockApp, Scenario

Make = Callable[[str], Scenario]

SCENARIO = r"""
name = "app"

[[expect]]
method = "PROPFIND"
path = "/Coll/"
headers = { Depth = "infinity", DAV = 're:(?i)\bbind\b' }
[expect.response]
status = 207
headers = { Vary = "DAV", Link = ["<${origin}/a>", "<${path}b>"] }
body = "<D:href>${origin}${path}Foo</D:href><h>${host}</h>"

[[expect]]
method = "PROPFIND"
path = "/Coll/"
headers = { Depth = "infinity", DAV = 're:^(?!.*(?i:\bbind\b))' }
[expect.response]
status = 508

[[expect]]
method = "GET"
path = "/file.txt"
times = 0
[expect.response]
status = 200
headers = { Content-Type = "text/plain" }
body = "0123456789"
chunks = 4

[[expect]]
method = "DELETE"
path = "/gone"
[expect.response]
status = 204
"""


def test_reply_with_expansions_and_default_headers(scenario_from: Make, call_app: Any) -> None:
    app = MockApp(scenario_from(SCENARIO))
    sent = call_app(app, "PROPFIND", "/Coll/", [("Host", "www.example.com"), ("Depth", "infinity"),
                                                ("DAV", "1, bind")])
    assert sent.status == 207
    assert sent.body == (b"<D:href>http://www.example.com/Coll/Foo</D:href>"
                         b"<h>www.example.com</h>")
    assert sent.headers["link"] == ["<http://www.example.com/a>", "</Coll/b>"]
    assert sent.header("vary") == "DAV"
    assert sent.header("content-type") == 'application/xml; charset="utf-8"'
    assert sent.header("content-length") == str(len(sent.body))


def test_dav_header_selects_the_expectation(scenario_from: Make, call_app: Any) -> None:
    app = MockApp(scenario_from(SCENARIO))
    sent = call_app(app, "PROPFIND", "/Coll/", [("Host", "h"), ("Depth", "infinity")])
    assert (sent.status, sent.body, sent.header("content-length")) == (508, b"", "0")
    assert sent.header("content-type") is None
    assert app.ledger.hits(2) == 1 and app.ledger.hits(1) == 0


def test_chunks_split_the_body_and_drop_content_length(
    scenario_from: Make, call_app: Any
) -> None:
    app = MockApp(scenario_from(SCENARIO))
    sent = call_app(app, "GET", "/file.txt", [("Host", "h")])
    assert sent.chunks == [b"012", b"345", b"67", b"89"]
    assert sent.header("content-length") is None
    assert sent.header("content-type") == "text/plain"


def test_head_sends_no_body(scenario_from: Make, call_app: Any) -> None:
    text = '[[expect]]\nmethod = "HEAD"\npath = "/f"\n[expect.response]\nstatus = 200\nbody = "abc"'
    sent = call_app(MockApp(scenario_from(text)), "HEAD", "/f", [("Host", "h")])
    assert (sent.status, sent.body, sent.header("content-length")) == (200, b"", "3")


def test_no_content_length_on_204(scenario_from: Make, call_app: Any) -> None:
    sent = call_app(MockApp(scenario_from(SCENARIO)), "DELETE", "/gone", [("Host", "h")])
    assert sent.status == 204 and sent.header("content-length") is None


def test_strict_unexpected_request_is_500_and_recorded(
    scenario_from: Make, call_app: Any
) -> None:
    logged: list[str] = []
    app = MockApp(scenario_from(SCENARIO), log=logged.append)
    sent = call_app(app, "MKCOL", "/new/", [("Host", "h")], query="x=1")
    assert sent.status == 500
    assert sent.header("x-davbind-mock") == "unexpected"
    assert sent.header("content-type") == "text/plain; charset=utf-8"
    text = sent.body.decode()
    assert text.startswith("davbind mock: unexpected request MKCOL /new/?x=1 (")
    assert "still expected: #1 PROPFIND /Coll/" in text
    assert logged == [text.strip()]
    (u,) = app.ledger.unexpected()
    assert (u.method, u.target) == ("MKCOL", "/new/?x=1")
    assert not app.ledger.report().ok


def test_lenient_unexpected_request_is_404(scenario_from: Make, call_app: Any) -> None:
    app = MockApp(scenario_from("strict = false\n" + SCENARIO))
    sent = call_app(app, "GET", "/nothing", [("Host", "h")])
    assert sent.status == 404 and b"unexpected request GET /nothing" in sent.body
    assert len(app.ledger.unexpected()) == 1


def test_on_done_is_called_once_nothing_is_unmet(scenario_from: Make, call_app: Any) -> None:
    calls: list[int] = []
    app = MockApp(scenario_from(SCENARIO), on_done=lambda: calls.append(1))
    call_app(app, "PROPFIND", "/Coll/", [("Host", "h"), ("Depth", "infinity"), ("DAV", "bind")])
    call_app(app, "GET", "/file.txt", [("Host", "h")])  # times = 0: not required
    call_app(app, "PROPFIND", "/Coll/", [("Host", "h"), ("Depth", "infinity")])
    assert calls == []
    call_app(app, "DELETE", "/gone", [("Host", "h")])
    assert calls == [1]


def test_origin_falls_back_to_the_server_address(scenario_from: Make, call_app: Any) -> None:
    app = MockApp(scenario_from(SCENARIO))
    sent = call_app(app, "PROPFIND", "/Coll/", [("Depth", "infinity"), ("DAV", "bind")])
    assert b"http://testserver:80/Coll/Foo" in sent.body


def test_request_body_is_read_and_capped(scenario_from: Make, call_app: Any) -> None:
    text = ('[[expect]]\nmethod = "PUT"\npath = "/up"\nbody_contains = ["tail"]\n'
            '[expect.response]\nstatus = 201')
    app = MockApp(scenario_from(text))
    body = b"x" * (2 * 1024 * 1024) + b"tail"
    sent = call_app(app, "PUT", "/up", [("Host", "h")], body=body)
    assert sent.status == 500  # "tail" lies beyond the first MiB kept for matching
    assert "body does not contain 'tail'" in app.ledger.unexpected()[0].reason


def test_lifespan_is_answered(scenario_from: Make) -> None:
    app = MockApp(scenario_from(SCENARIO))
    sent: list[MutableMapping[str, Any]] = []
    incoming = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return incoming.pop(0)

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert [m["type"] for m in sent] == ["lifespan.startup.complete",
                                         "lifespan.shutdown.complete"]
