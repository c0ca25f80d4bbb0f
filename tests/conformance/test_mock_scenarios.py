"""The checker against the shipped mock scenarios of ``davbind.mock``.

The scenarios answer scripted requests only, so the checks that write cannot run there;
what they do show: the 208 placement rule accepts both shipped forms (``bare-208`` is
allowed, RFC 5842 §7.1 prose; ``propstat-208`` is the RFC example §7.1.1), the downgrade
rule flags ``truncated-infinity``, ``finite-depth-403`` is a recognised refusal, and a
server that refuses the scratch collection (``loop-508-top``) gives a report, not a
crash.
"""

from __future__ import annotations

import httpx
import pytest

from davbind.client import Client
from davbind.client.multistatus import parse_error_body
from davbind.conformance import run
from davbind.conformance.checks_depth import deepest
from davbind.conformance.checks_propfind208 import placement
from davbind.mock import MockServer


@pytest.mark.parametrize(("scenario", "form"), [("bare-208", "bare"),
                                                 ("propstat-208", "propstat")])  # fmt: skip
def test_placement_accepts_both_shipped_208_forms(scenario: str, form: str) -> None:
    with MockServer(scenario) as m, Client(m.url) as client:
        responses = list(client.iter_propfind("/Coll/", "infinity"))
        assert not m.unmet and not m.unexpected
    forms = [placement(r) for r in responses]
    assert form in forms
    assert set(forms) <= {"plain", form}


def test_scratch_refused_is_reported() -> None:
    """Every shipped scenario refuses MKCOL (strict: 500): nothing runs, all skip."""
    with MockServer("loop-508-top") as m:
        report = run(m.url + "/")
        unexpected = [u.method for u in m.unexpected]
    assert report.classes == ("1", "2", "3", "bind")
    assert "MKCOL" in report.setup_error and not report.ok
    assert {r.result for r in report.results} == {"skip"}
    assert all(r.detail.startswith("no scratch collection") for r in report.results)
    assert unexpected == ["MKCOL"]


@pytest.mark.parametrize(("scenario", "path", "downgraded"), [
    ("truncated-infinity", "/deep/", True),  # a faulty server: Depth-1 content only
    ("bare-208", "/Coll/", False),
])  # fmt: skip
def test_downgrade_detected_on_shipped_answers(scenario: str, path: str, downgraded: bool) -> None:
    """The rule of ``depth.infinity-not-downgraded`` over the shipped scenarios' bodies."""
    with MockServer(scenario) as m, Client(m.url) as client:
        hrefs = [r.href for r in client.iter_propfind(path, "infinity")]
    assert (deepest(hrefs, path) < 2) == downgraded


def test_finite_depth_refusal_is_recognised() -> None:
    """``finite-depth-403``: the refusal carries the RFC 4918 §9.1.1 precondition."""
    with MockServer("finite-depth-403") as m:
        reply = httpx.request("PROPFIND", m.url + "/data/", headers={"Depth": "infinity"})
    assert reply.status_code == 403
    assert parse_error_body(reply.content, reply.headers.get("content-type"))[0] == (
        "propfind-finite-depth",)
