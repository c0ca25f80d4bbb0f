"""The ledger: keyed and ordered matching, header/path/body matchers, times, unmet, done."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from davbind.mock import Expectation, Matcher, MockRequest, Scenario, Unexpected
from davbind.mock.ledger import Ledger

Make = Callable[[str], Scenario]


def expect(method: str, path: str, extra: str = "", status: int = 200) -> str:
    return f"""
[[expect]]
method = "{method}"
path = '{path}'
{extra}
[expect.response]
status = {status}
"""


def req(method: str, path: str, *headers: tuple[str, str], body: bytes = b"",
        query: str = "") -> MockRequest:
    return MockRequest(method, path, query, tuple((k.lower(), v) for k, v in headers), body)


def taken(ledger: Ledger, request: MockRequest) -> int:
    """The index of the expectation that took ``request`` (0 when unexpected)."""
    found = ledger.take(request)
    return found.index if isinstance(found, Expectation) else 0


def test_keyed_mode_takes_requests_in_any_order(scenario_from: Make) -> None:
    s = scenario_from(expect("GET", "/a") + expect("GET", "/b") + expect("PUT", "/a"))
    ledger = Ledger(s)
    assert [taken(ledger, r) for r in (req("PUT", "/a"), req("GET", "/b"), req("GET", "/a"))] \
        == [3, 2, 1]
    assert ledger.unmet() == () and ledger.unexpected() == () and ledger.done()


def test_keyed_mode_first_fit_in_file_order_then_the_next(scenario_from: Make) -> None:
    s = scenario_from(expect("GET", "/a", status=201) + expect("GET", "re:^/", "times = 0"))
    ledger = Ledger(s)
    assert [taken(ledger, req("GET", "/a")) for _ in range(3)] == [1, 2, 2]
    assert ledger.hits(1) == 1 and ledger.hits(2) == 2


def test_keyed_mode_extra_request_is_unexpected(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(expect("GET", "/a", "times = 2")))
    assert [taken(ledger, req("GET", "/a")) for _ in range(3)] == [1, 1, 0]
    (u,) = ledger.unexpected()
    assert (u.method, u.target) == ("GET", "/a")
    assert "#1 GET /a" in u.reason and "already met 2 time(s)" in u.reason


def test_keyed_mode_reason_names_what_did_not_fit(scenario_from: Make) -> None:
    s = scenario_from(expect("PROPFIND", "/c/", 'headers = { Depth = "1" }')
                      + expect("GET", "/x"))
    ledger = Ledger(s)
    found = ledger.take(req("PROPFIND", "/c/", ("Depth", "infinity")))
    assert isinstance(found, Unexpected)
    assert "#1 PROPFIND /c/ [depth: 1] does not fit" in found.reason
    assert "header depth: 'infinity', expected '1'" in found.reason
    other = ledger.take(req("DELETE", "/zzz"))
    assert isinstance(other, Unexpected)
    assert "still expected: #1 PROPFIND /c/ [depth: 1]; #2 GET /x" in other.reason


def test_ordered_mode_requires_file_order(scenario_from: Make) -> None:
    s = scenario_from('mode = "ordered"\n' + expect("GET", "/1") + expect("GET", "/2"))
    ledger = Ledger(s)
    assert taken(ledger, req("GET", "/2")) == 0  # out of order: unexpected, order unchanged
    assert "expected #1 GET /1 next" in ledger.unexpected()[0].reason
    assert [taken(ledger, req("GET", p)) for p in ("/1", "/2", "/2")] == [1, 2, 0]
    assert "every expectation in the order is already met" in ledger.unexpected()[1].reason
    assert ledger.unmet() == ()


def test_ordered_mode_times_and_optional_steps(scenario_from: Make) -> None:
    s = scenario_from('mode = "ordered"\n'
                      + expect("OPTIONS", "re:^/", "times = 0")
                      + expect("GET", "/1", "times = 2")
                      + expect("HEAD", "re:^/", "times = 0")
                      + expect("GET", "/2"))
    ledger = Ledger(s)
    sequence = [req("GET", "/1"), req("GET", "/1"), req("GET", "/2")]
    assert [taken(ledger, r) for r in sequence] == [2, 2, 4]  # optional steps skipped
    assert ledger.done()
    ledger = Ledger(s)
    sequence = [req("OPTIONS", "/"), req("OPTIONS", "/"), req("GET", "/1"),
                req("OPTIONS", "/"), req("GET", "/1"), req("HEAD", "/x"), req("HEAD", "/y"),
                req("GET", "/2")]
    assert [taken(ledger, r) for r in sequence] == [1, 1, 2, 0, 2, 3, 3, 4]
    assert "expected #2 GET /1 next" in ledger.unexpected()[0].reason


@pytest.mark.parametrize(("source", "value", "ok"), [
    ("infinity", "infinity", True),
    ("infinity", "Infinity", False),
    ("infinity", None, False),
    ("", None, True),  # an absent header compares as ""
    (r"re:(?i)\bbind\b", "1, 2, BIND", True),
    (r"re:(?i)\bbind\b", "binding", False),
    (r"re:(?i)\bbind\b", None, False),
    (r"re:^(?!.*(?i:\bbind\b))", None, True),
    (r"re:^(?!.*(?i:\bbind\b))", "1, 2", True),
    (r"re:^(?!.*(?i:\bbind\b))", "bind", False),
    (True, "", True),
    (True, None, False),
    (False, None, True),
    (False, "x", False),
])
def test_header_matchers(source: str | bool, value: str | None, ok: bool) -> None:
    assert Matcher.of(source).matches(value) is ok


def test_header_names_are_case_insensitive_and_lines_joined(scenario_from: Make) -> None:
    s = scenario_from(expect("PROPFIND", "/", r"headers = { dAv = 're:^1, bind$' }"))
    ledger = Ledger(s)
    assert taken(ledger, req("PROPFIND", "/", ("DAV", "1"), ("Dav", "bind"))) == 1


@pytest.mark.parametrize(("expected", "raw", "ok"), [
    ("/café/", "/caf%C3%A9/", True),
    ("/café/", "/caf%c3%a9/", True),
    ("/caf%C3%A9/", "/café/", True),
    ("/~joe/", "/%7ejoe/", True),
    ("/a/", "/a", False),
    ("/a b", "/a%20b", True),
    ("re:^/a/(b/)*$", "/a/b/b/", True),
    ("re:^/a/(b/)*$", "/a/b/c/", False),
    ("re:^/%7[eE]joe$", "/%7Ejoe", True),  # a pattern sees the raw path
    ("re:^/~joe$", "/%7Ejoe", False),
])
def test_path_matchers(expected: str, raw: str, ok: bool) -> None:
    assert Matcher.of(expected).matches_path(raw) is ok


def test_query_is_compared_only_when_the_path_has_one(scenario_from: Make) -> None:
    s = scenario_from(expect("GET", "/q?x=1") + expect("GET", "/q"))
    ledger = Ledger(s)
    assert taken(ledger, req("GET", "/q", query="x=2")) == 2
    assert taken(ledger, req("GET", "/q", query="x=1")) == 1


def test_body_contains(scenario_from: Make) -> None:
    s = scenario_from(expect("PROPFIND", "/", "body_contains = ['resource-id', 're:<\\w+:prop>']"))
    ledger = Ledger(s)
    assert taken(ledger, req("PROPFIND", "/", body=b"<D:prop><D:displayname/></D:prop>")) == 0
    assert "body does not contain 'resource-id'" in ledger.unexpected()[0].reason
    body = b'<D:propfind xmlns:D="DAV:"><D:prop><D:resource-id/></D:prop></D:propfind>'
    assert taken(ledger, req("PROPFIND", "/", body=body)) == 1


def test_unmet_lists_expectations_with_required_times_left(scenario_from: Make) -> None:
    s = scenario_from(expect("GET", "/a", "times = 3") + expect("GET", "/b")
                      + expect("GET", "/c", "times = 0"))
    ledger = Ledger(s)
    ledger.take(req("GET", "/a"))
    assert [(u.expectation.index, u.hits) for u in ledger.unmet()] == [(1, 1), (2, 0)]
    assert str(ledger.unmet()[0]) == "#1 GET /a: met 1 of 3 time(s)"
    assert not ledger.done()


def test_times_zero_is_never_unmet_and_takes_any_number(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(expect("GET", "/a", "times = 0")))
    assert ledger.unmet() == ()
    assert not ledger.done()  # nothing served yet
    assert [taken(ledger, req("GET", "/a")) for _ in range(50)] == [1] * 50
    assert ledger.done() and ledger.unexpected() == ()


def test_report_verdict_strict_and_lenient(scenario_from: Make) -> None:
    strict = Ledger(scenario_from(expect("GET", "/a")))
    strict.take(req("GET", "/a"))
    assert strict.report().ok
    strict.take(req("GET", "/zzz"))
    report = strict.report()
    assert not report.ok and report.served == 1
    text = report.render()
    assert "1 request(s) served, 0 expectation(s) unmet, 1 unexpected request(s)" in text
    assert "GET /zzz:" in text and text.endswith("result: FAILED")

    lenient = Ledger(scenario_from("strict = false\n" + expect("GET", "/a")))
    lenient.take(req("GET", "/zzz"))
    assert not lenient.report().ok  # /a is unmet
    lenient.take(req("GET", "/a"))
    report = lenient.report()
    assert report.ok and "not strict: answered 404" in report.render()
