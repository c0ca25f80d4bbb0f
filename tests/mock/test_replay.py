"""Replay: a completed scenario may be played again by the next client run, while a
repeated request inside one run, a run left half-way and a request that fits nothing
still fail a strict scenario.  And the start-up lines name every expected request."""

from __future__ import annotations

from collections.abc import Callable

from davbind.mock import Expectation, MockRequest, Scenario
from davbind.mock.ledger import Ledger

Make = Callable[[str], Scenario]


def expect(method: str, path: str, extra: str = "") -> str:
    return f'[[expect]]\nmethod = "{method}"\npath = \'{path}\'\n{extra}\n' \
           f"[expect.response]\nstatus = 200\n"


def req(method: str, path: str) -> MockRequest:
    return MockRequest(method, path)


def taken(ledger: Ledger, *requests: MockRequest) -> list[int]:
    out = []
    for request in requests:
        found = ledger.take(request)
        out.append(found.index if isinstance(found, Expectation) else 0)
    return out


TWO = expect("PROPFIND", "/a/") + expect("GET", "/a/f") + expect("OPTIONS", "re:^/", "times = 0")


def test_second_complete_run_is_served_and_ok(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(TWO), replay=True)
    run = (req("OPTIONS", "/"), req("PROPFIND", "/a/"), req("GET", "/a/f"))
    assert taken(ledger, *run, *run) == [3, 1, 2, 3, 1, 2]
    report = ledger.report()
    assert report.ok and report.runs == 2 and report.unexpected == ()
    assert "6 request(s) served in 2 runs of the scenario" in report.render()


def test_without_replay_the_second_run_is_unexpected(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(TWO))
    assert taken(ledger, req("PROPFIND", "/a/"), req("GET", "/a/f"), req("PROPFIND", "/a/")) \
        == [1, 2, 0]
    assert not ledger.report().ok


def test_a_request_repeated_within_one_run_is_still_unexpected(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(TWO), replay=True)
    assert taken(ledger, req("PROPFIND", "/a/"), req("PROPFIND", "/a/")) == [1, 0]
    (u,) = ledger.unexpected()
    assert "already met 1 time(s)" in u.reason
    assert not ledger.report().ok


def test_a_run_left_half_way_is_unmet(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(TWO), replay=True)
    assert taken(ledger, req("PROPFIND", "/a/"), req("GET", "/a/f"), req("PROPFIND", "/a/")) \
        == [1, 2, 1]
    report = ledger.report()
    assert not report.ok and report.runs == 2
    assert [u.expectation.index for u in report.unmet] == [2]
    assert "unmet expectations (in run 2, not finished):" in report.render()


def test_a_request_that_fits_nothing_stays_unexpected(scenario_from: Make) -> None:
    ledger = Ledger(scenario_from(TWO), replay=True)
    assert taken(ledger, req("PROPFIND", "/a/"), req("GET", "/a/f"), req("DELETE", "/a/")) \
        == [1, 2, 0]
    report = ledger.report()
    assert not report.ok and report.runs == 1 and report.unmet == ()


def test_ordered_scenario_replays_from_its_first_expectation(scenario_from: Make) -> None:
    s = scenario_from('mode = "ordered"\n' + expect("PROPFIND", "/a/") + expect("GET", "/a/f"))
    ledger = Ledger(s, replay=True)
    run = (req("PROPFIND", "/a/"), req("GET", "/a/f"))
    assert taken(ledger, *run, *run) == [1, 2, 1, 2]
    assert taken(ledger, req("GET", "/a/f")) == [0]  # out of order in run 3: not a new run
    assert ledger.report().runs == 2


def test_request_lines_name_the_full_url(scenario_from: Make) -> None:
    s = scenario_from(expect("PROPFIND", "/Coll/", "headers = { Depth = \"infinity\" }")
                      + expect("OPTIONS", "re:^/", "times = 0")
                      + expect("PUT", "/f", 'times = 2\nbody_contains = ["x"]'))
    lines = [e.request_line("http://127.0.0.1:9") for e in s.expectations]
    assert lines == [
        "PROPFIND http://127.0.0.1:9/Coll/ [depth: infinity] (once)",
        "OPTIONS http://127.0.0.1:9 + path re:^/ (any number of times, optional)",
        "PUT http://127.0.0.1:9/f body with 'x' (2 times)",
    ]


def test_a_pattern_in_a_mismatch_reads_as_written(scenario_from: Make) -> None:
    """repr() would show re:(?i)\\bbind\\b; the reason shows the scenario's text."""
    s = scenario_from(expect("PROPFIND", "/c/", "headers = { DAV = 're:(?i)\\bbind\\b' }"))
    found = Ledger(s).take(req("PROPFIND", "/c/"))
    assert not isinstance(found, Expectation)
    assert found.reason.endswith("header dav: absent, expected re:(?i)\\bbind\\b")
