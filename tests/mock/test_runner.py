"""``MockServer``: a scenario on a free port from a background thread, inspected live."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest

from davbind.mock import MockServer, Scenario

Make = Callable[[str], Scenario]

ORDERED = """
name = "steps"
mode = "ordered"

[[expect]]
method = "OPTIONS"
path = "/"
[expect.response]
status = 200
headers = { DAV = "1, 2, 3, bind" }

[[expect]]
method = "PROPFIND"
path = "/a/"
headers = { Depth = "1" }
times = 2
[expect.response]
status = 207
body = '<D:multistatus xmlns:D="DAV:"/>'
"""


def test_url_before_start_is_an_error(scenario_from: Make) -> None:
    with pytest.raises(RuntimeError, match="not started"):
        _ = MockServer(scenario_from(ORDERED)).url


def test_ordered_scenario_over_http(scenario_from: Make) -> None:
    logged: list[str] = []
    with MockServer(scenario_from(ORDERED), log=logged.append) as m:
        assert m.url.startswith("http://127.0.0.1:")
        with httpx.Client(base_url=m.url) as http:
            early = http.request("PROPFIND", "/a/", headers={"Depth": "1"})
            assert early.status_code == 500  # OPTIONS must come first
            assert "expected #1 OPTIONS / next" in early.text
            assert http.options("/").headers["dav"] == "1, 2, 3, bind"
            assert not m.wait_until_done(timeout=0.05)
            for _ in range(2):
                assert http.request("PROPFIND", "/a/", headers={"Depth": "1"}).status_code == 207
        assert m.wait_until_done(timeout=5)
        assert (m.hits(1), m.hits(2)) == (1, 2)
        assert m.unmet == ()
        assert [u.target for u in m.unexpected] == ["/a/"]
        assert not m.report().ok
    assert len(logged) == 1
    assert not any(t.name == "mock:steps" for t in threading.enumerate())


def test_two_servers_run_side_by_side() -> None:
    with MockServer("propstat-208") as one, MockServer("bare-208") as two:
        assert one.url != two.url
        headers = {"Depth": "infinity", "DAV": "bind"}
        a = httpx.request("PROPFIND", one.url + "/Coll/", headers=headers)
        b = httpx.request("PROPFIND", two.url + "/Coll/", headers=headers)
        assert b"208 Already Reported</D:status>\n    </D:propstat>" in a.content
        assert b"<D:href>/Coll/Bar</D:href><D:status>HTTP/1.1 208" in b.content
        assert one.report().ok and two.report().ok
