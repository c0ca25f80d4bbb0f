"""Results of a run and their three renderings: text, JSON and JUnit XML.

What it holds: :class:`CheckResult` (one check's verdict with its evidence),
:class:`RunReport` (the whole run: server, classes, results, clean-up) and the renderers.

The rules kept here:

- JSON is an object with ``checks`` (each with ``id``, ``rfc``, ``level``, ``result``,
  ``detail``, plus ``title``, ``tags`` and ``evidence``) and ``summary`` (``passed``,
  ``failed``, ``skipped``, and ``must_failed``); the keys are stable for CI scripts.
- A run *fails* when a MUST-level check failed, or when set-up or clean-up went wrong
  (the checker could not do its job or left data behind); SHOULD/MAY failures are
  reported but do not fail the run.
- Text output is plain (one line per check, evidence indented under failures and
  failed set-ups); :func:`render_rich` colours the same lines for a terminal.  Checks
  skipped for one shared cause (a compliance class such as ``bind`` not announced, no
  scratch collection) are one line per cause, not one each: against a server without
  bindings they would otherwise bury the rest.  JSON and JUnit keep one record per
  check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape, quoteattr

from davbind.conformance.context import Exchange
from davbind.conformance.registry import Level

Result = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One check's verdict."""

    id: str
    rfc: str
    level: Level
    title: str
    tags: tuple[str, ...]
    result: Result
    detail: str = ""
    evidence: tuple[Exchange, ...] = ()
    seconds: float = 0.0
    #: For a skip with one cause shared by many checks (a compliance class the server
    #: does not announce, e.g. ``bind``; ``set-up`` when there is no scratch collection),
    #: that cause's label: the text report shows such skips once per label.
    group: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "rfc": f"RFC {self.rfc}",
            "level": self.level,
            "result": self.result,
            "detail": self.detail,
            "title": self.title,
            "tags": list(self.tags),
            "evidence": [
                {"request": f"{e.method} {e.url}", "headers": dict(e.request_headers),
                 "sent": e.request_body, "status": e.status, "body": e.excerpt}
                for e in self.evidence
            ],
            "seconds": round(self.seconds, 3),
        }  # fmt: skip


@dataclass(frozen=True, slots=True)
class RunReport:
    """A whole run against one server."""

    url: str
    classes: tuple[str, ...]
    results: tuple[CheckResult, ...]
    scratch: str = ""
    setup_error: str = ""
    cleanup_error: str = ""
    seconds: float = 0.0

    def count(self, result: Result) -> int:
        return sum(1 for r in self.results if r.result == result)

    @property
    def must_failed(self) -> tuple[CheckResult, ...]:
        return tuple(r for r in self.results if r.result == "fail" and r.level == "MUST")

    @property
    def ok(self) -> bool:
        """No MUST failed and the checker set up and cleaned up (see module docstring)."""
        return not self.must_failed and not self.setup_error and not self.cleanup_error

    def get(self, check_id: str) -> CheckResult:
        for r in self.results:
            if r.id == check_id:
                return r
        raise KeyError(check_id)

    def summary(self) -> dict[str, int]:
        return {
            "passed": self.count("pass"),
            "failed": self.count("fail"),
            "skipped": self.count("skip"),
            "must_failed": len(self.must_failed),
        }


def render_json(report: RunReport) -> str:
    data = {
        "url": report.url,
        "dav": list(report.classes),
        "scratch": report.scratch,
        "checks": [r.to_json() for r in report.results],
        "summary": report.summary(),
        "setup_error": report.setup_error or None,
        "cleanup_error": report.cleanup_error or None,
        "ok": report.ok,
        "seconds": round(report.seconds, 3),
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


_MARK = {"pass": "PASS", "fail": "FAIL", "skip": "SKIP"}


def text_lines(report: RunReport) -> list[tuple[str, str]]:
    """(style, line) pairs; the style is ``pass``/``fail``/``skip``/``head``/``note``."""
    classes = ", ".join(report.classes) or "none"
    out: list[tuple[str, str]] = [("head", f"davbind check {report.url} (DAV: {classes})")]
    if report.setup_error:
        out.append(("fail", f"set-up failed: {report.setup_error}"))
    shown = [r for r in report.results if not r.group]
    width = max((len(r.id) for r in shown), default=10)
    for r in shown:
        line = f"{_MARK[r.result]}  {r.level:<6}  {r.id:<{width}}  RFC {r.rfc}"
        out.append((r.result, line))
        if r.result != "pass" or r.detail:
            style = "note" if r.result != "fail" else "fail"
            out.extend((style, "      " + part) for part in _wrap(r.detail or r.title))
        for ev in r.evidence if r.result != "pass" else ():
            out.extend(("note", "      | " + part) for part in ev.render().splitlines())
    for label, group in _by_group(report.results).items():
        count = f"{len(group)} check{'s' if len(group) != 1 else ''}"
        out.append(("skip", f"SKIP  {label}: {count} skipped: {group[0].detail}"))
        topics = ", ".join(dict.fromkeys(r.id.split(".", 1)[0] for r in group))
        out.extend(("note", "      " + part) for part in
                   _wrap(f"(topics {topics}; --format json lists each check)"))  # fmt: skip
    if report.cleanup_error:
        out.append(("fail", f"clean-up failed, data may be left behind: {report.cleanup_error}"))
    s = report.summary()
    verdict = "OK" if report.ok else "FAILED"
    out.append(("head", f"{verdict}: {s['passed']} passed, {s['failed']} failed "
                        f"({s['must_failed']} MUST), {s['skipped']} skipped "
                        f"in {report.seconds:.1f}s"))  # fmt: skip
    return out


def _by_group(results: Sequence[CheckResult]) -> dict[str, list[CheckResult]]:
    groups: dict[str, list[CheckResult]] = {}
    for r in results:
        if r.group:
            groups.setdefault(r.group, []).append(r)
    return groups


def _wrap(text: str, width: int = 100) -> list[str]:
    words = text.split()
    lines: list[str] = []
    current = ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines or [""]


def render_text(report: RunReport) -> str:
    return "\n".join(line for _, line in text_lines(report)) + "\n"


_STYLES = {"pass": "green", "fail": "bold red", "skip": "yellow", "head": "bold", "note": "dim"}


def render_rich(report: RunReport) -> Sequence[tuple[str, str]]:
    """The text lines with rich style names, for a terminal."""
    return [(_STYLES[style], line) for style, line in text_lines(report)]


def render_junit(report: RunReport) -> str:
    """JUnit XML: one ``testcase`` per check, SHOULD/MAY failures typed by level."""
    s = report.summary()
    cases: list[str] = []
    for r in report.results:
        name = quoteattr(r.id)
        cls = quoteattr(f"davbind.conformance.{r.id.split('.', 1)[0]}")
        head = f"  <testcase classname={cls} name={name} time=\"{r.seconds:.3f}\">"
        props = (f"    <properties><property name=\"rfc\" value={quoteattr('RFC ' + r.rfc)}/>"
                 f"<property name=\"level\" value=\"{r.level}\"/></properties>")  # fmt: skip
        body = [head, props]
        if r.result == "fail":
            text = "\n".join([r.detail, *(e.render() for e in r.evidence)])
            body.append(f"    <failure type=\"{r.level}\" message={quoteattr(r.detail)}>"
                        f"{escape(text)}</failure>")  # fmt: skip
        elif r.result == "skip":
            body.append(f"    <skipped message={quoteattr(r.detail)}/>")
        body.append("  </testcase>")
        cases.append("\n".join(body))
    errors = 1 if report.setup_error or report.cleanup_error else 0
    suite = (
        f"<testsuite name=\"davbind check\" tests=\"{len(report.results)}\" "
        f"failures=\"{s['failed']}\" skipped=\"{s['skipped']}\" errors=\"{errors}\" "
        f"time=\"{report.seconds:.3f}\" hostname={quoteattr(report.url)}>"
    )
    extra = []
    if errors:
        msg = report.setup_error or report.cleanup_error
        extra.append(f"  <system-err>{escape(msg)}</system-err>")
    return "\n".join(
        ['<?xml version="1.0" encoding="utf-8"?>', suite, *cases, *extra, "</testsuite>", ""]
    )


RENDERERS = {"json": render_json, "text": render_text, "junit": render_junit}
