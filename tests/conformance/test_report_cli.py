"""Reports (text, JSON, JUnit), the ``check`` command's options and exit codes, the registry."""

from __future__ import annotations

import json
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from davbind.cli.check_cmd import check as check_command
from davbind.conformance import Context, all_checks, check, render_json, render_junit, run
from davbind.conformance.context import Exchange
from davbind.conformance.registry import CheckSpec, select
from davbind.conformance.report import CheckResult, RunReport, render_text

EVIDENCE = Exchange("BIND", "http://h/x/", (("overwrite", "F"),), "<D:bind/>", 204, "ok")
REPORT = RunReport(
    url="http://h/",
    classes=("1", "2", "bind"),
    results=(
        CheckResult("a.one", "5842 §4", "MUST", "first", ("a",), "pass"),
        CheckResult("a.two", "5842 §4", "MUST", "second", ("a",), "fail", "204 <not> 412",
                    (EVIDENCE,)),
        CheckResult("b.three", "4918 §9.1", "SHOULD", "third", ("b",), "fail", "why"),
        CheckResult("b.four", "4918 §9.1", "MAY", "fourth", ("b",), "skip", "unsupported"),
    ),
    scratch="/davbind-check-x/",
)  # fmt: skip


def test_json_report_shape() -> None:
    data = json.loads(render_json(REPORT))
    assert data["summary"] == {"passed": 1, "failed": 2, "skipped": 1, "must_failed": 1}
    first = data["checks"][1]
    assert {k: first[k] for k in ("id", "rfc", "level", "result", "detail")} == {
        "id": "a.two", "rfc": "RFC 5842 §4", "level": "MUST", "result": "fail",
        "detail": "204 <not> 412",
    }  # fmt: skip
    assert first["evidence"] == [{"request": "BIND http://h/x/", "headers": {"overwrite": "F"},
                                  "sent": "<D:bind/>", "status": 204, "body": "ok"}]  # fmt: skip
    assert data["ok"] is False


def test_junit_report_parses() -> None:
    suite = ET.fromstring(render_junit(REPORT))
    assert suite.tag == "testsuite"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "2", "1")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["a.one", "a.two", "b.three", "b.four"]
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("type") == "MUST"
    assert "BIND http://h/x/" in (failure.text or "")
    assert cases[3].find("skipped") is not None


def test_text_report() -> None:
    text = render_text(REPORT)
    assert text.splitlines()[0] == "davbind check http://h/ (DAV: 1, 2, bind)"
    assert "FAIL  MUST    a.two    RFC 5842 §4" in text
    assert "| BIND http://h/x/ [overwrite: F] -> 204" in text
    assert text.rstrip().splitlines()[-1].startswith("FAILED: 1 passed, 2 failed (1 MUST)")
    ok = RunReport("http://h/", ("1",), REPORT.results[2:])
    assert ok.ok and render_text(ok).rstrip().splitlines()[-1].startswith("OK:")


def test_registry_rules() -> None:
    ids = [c.id for c in all_checks()]
    assert len(ids) == len(set(ids)) >= 40
    for spec in all_checks():
        assert spec.rfc and spec.title and spec.level in ("MUST", "SHOULD", "MAY")
        assert spec.func.__doc__, spec.id
        assert all(a in ids for a in spec.after), spec.id
    registry: dict[str, CheckSpec] = {}
    check(id="t.x", rfc="1", level="MUST", registry=registry)(lambda ctx: None)
    with pytest.raises(ValueError, match="twice"):
        check(id="t.x", rfc="1", level="MUST", registry=registry)(lambda ctx: None)
    with pytest.raises(ValueError):
        check(id="NoTopic", rfc="1", level="MUST")
    chosen = select(all_checks(), ("bind",))
    assert chosen and all("bind" in c.needs or c.topic == "bind" for c in chosen)
    assert {c.id for c in select(all_checks(), ("class1.mkcol",))} == {"class1.mkcol"}
    assert all(c.level == "SHOULD" for c in select(all_checks(), ("should",)))


def test_cli_list_and_usage_errors() -> None:
    runner = CliRunner()
    listed = runner.invoke(check_command, ["--list"])
    assert listed.exit_code == 0
    assert all(c.id in listed.output for c in all_checks())
    assert runner.invoke(check_command, []).exit_code == 2
    assert runner.invoke(check_command, ["ftp://h/"]).exit_code == 2
    assert runner.invoke(check_command, ["http://h/", "--only", "no-such"]).exit_code == 2
    assert runner.invoke(check_command, ["http://h/", "--user", "u"]).exit_code == 2
    assert runner.invoke(check_command, ["http://h/", "--format", "xml"]).exit_code == 2


def test_cli_cannot_connect() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = CliRunner().invoke(check_command, [f"http://127.0.0.1:{port}/", "--timeout", "2"])
    assert result.exit_code == 3
    assert "cannot connect" in result.output


def test_cli_exit_codes_and_output_file(faulty: Any, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "report.xml"
    faulty.set_fault("bind-200")  # bind.create (MUST) fails
    try:
        failed = runner.invoke(check_command, [faulty.url, "--only", "bind.create",
                                               "--format", "junit", "--output", str(out)])
        should = runner.invoke(check_command, [faulty.url, "--only", "bind.location",
                                               "--format", "json"])
    finally:
        faulty.set_fault(None)
    assert failed.exit_code == 1 and failed.output == ""
    assert ET.parse(out).getroot().find("testcase/failure") is not None
    # bind.location fails too, but it is a SHOULD: reported, exit 0
    assert should.exit_code == 0
    assert json.loads(should.output)["summary"] == {"passed": 0, "failed": 1, "skipped": 0,
                                                    "must_failed": 0}  # fmt: skip
    faulty.set_fault("bind-no-location")  # a SHOULD failure: reported, exit 0
    try:
        soft = runner.invoke(check_command, [faulty.url, "--only", "bind.location", "-v"])
    finally:
        faulty.set_fault(None)
    assert soft.exit_code == 0
    assert "FAIL  SHOULD  bind.location" in soft.output


def test_unexpected_client_errors_are_failures_not_crashes(faulty: Any) -> None:
    """A set-up request the server refuses skips that check as "setup failed", with the
    request as evidence (the check of MKCOL itself reports the refusal); a checker bug
    fails its check without crashing the run."""
    registry: dict[str, CheckSpec] = {}

    @check(id="t.setup", rfc="4918 §9.3", level="MUST", registry=registry)
    def setup(ctx: Context) -> None:
        """MKCOL below nothing"""
        ctx.mkcol(ctx.path("missing/c/"))

    @check(id="t.bug", rfc="none", level="SHOULD", registry=registry)
    def bug(ctx: Context) -> None:
        """A checker bug"""
        raise OSError("disk on fire")

    report = run(faulty.url, checks=list(registry.values()))
    first, second = report.results
    assert first.result == "skip"
    assert first.detail.endswith("missing/c/: expected 2xx, got 409")
    assert first.detail.startswith("setup failed: MKCOL /davbind-check-")
    assert first.evidence and first.evidence[0].method == "MKCOL"
    assert first.evidence[0].status == 409
    assert "| MKCOL " in render_text(report)
    assert second.result == "fail" and "disk on fire" in second.detail
    assert not report.cleanup_error


def test_text_groups_skips_of_an_unannounced_class() -> None:
    """Against a server without bindings, the bind checks are one text line, while JSON
    and JUnit keep one record per check."""
    why = "bindings unsupported: the server does not announce 'bind' in its DAV header"
    skipped = tuple(
        CheckResult(f"{topic}.c{i}", "5842 §4", "MUST", "t", (topic,), "skip", why, group="bind")
        for i, topic in enumerate(("bind", "bind", "identity"))
    )
    other = CheckResult("depth.x", "4918 §9.1", "SHOULD", "t", ("depth",), "skip", "not here")
    report = RunReport("http://h/", ("1", "2"), (REPORT.results[0], *skipped, other))
    text = render_text(report)
    assert f"SKIP  bind: 3 checks skipped: {why}" in text
    assert "topics bind, identity" in text
    assert not any(r.id in text for r in skipped)
    assert "depth.x" in text and "not here" in text
    assert len(json.loads(render_json(report))["checks"]) == 5
    assert len(ET.fromstring(render_junit(report)).findall("testcase")) == 5


def test_no_scratch_collection_is_one_line_with_the_reason(faulty: Any) -> None:
    """A URL that is not a collection: MKCOL of the scratch collection gets 409, which the
    report explains once instead of repeating it under every check."""
    report = run(faulty.url.rstrip("/") + "/no-such-collection/", only=("class1",))
    assert report.setup_error.endswith("answered 409: the URL under test is not an existing "
                                       "collection")  # fmt: skip
    assert {r.result for r in report.results} == {"skip"}
    lines = render_text(report).splitlines()
    grouped = [line for line in lines if line.startswith("SKIP")]
    assert len(grouped) == 1
    assert grouped[0].startswith(f"SKIP  set-up: {len(report.results)} checks skipped: no "
                                 f"scratch collection: MKCOL ")  # fmt: skip
    assert not any(r.id in "\n".join(lines) for r in report.results)


def test_help_says_the_checks_write_in_a_scratch_collection() -> None:
    result = CliRunner().invoke(check_command, ["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    assert "scratch collection davbind-check-<random>/" in text
    assert "3 server unreachable" in text


def test_rfc_strings_cite_only_rfcs() -> None:
    """What a user reads after 'RFC' names RFC sections, not labels of a document the
    user does not have (such as 'A-25' or 'E17')."""
    import re

    for spec in all_checks():
        assert not re.search(r"\b(?:[AB]-\d|E\d+\b)", spec.rfc), (spec.id, spec.rfc)
