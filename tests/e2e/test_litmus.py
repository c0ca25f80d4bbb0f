"""litmus 0.13, one test per suite, each against a fresh ``davbind serve``.

How Debian's litmus runs: ``/usr/bin/litmus`` is a shell script that loops over the
suite programs named in ``$TESTS`` (default "basic copymove props locks http") found in
``$TESTROOT`` (``/usr/libexec/litmus`` on Debian 12; the man page's
``/usr/lib/<triplet>/litmus`` is out of date) and runs each as
``$TESTROOT/<suite> --htdocs $HTDOCS URL``. So ``TESTS=<suite> litmus URL`` runs one
suite, and its exit status is the suite's (non-zero when any test failed).

The URL is the *parent* of the test area: each suite starts with ``DELETE URL/litmus/``
then ``MKCOL URL/litmus/`` and works inside it, so we pass the server root. litmus writes
``debug.log`` (a full neon trace) and ``child.log`` to its working directory, which is
the test's ``tmp_path``.

RFC 4918 classes 1-3 are meant to be litmus-clean: 0 failures and 0 warnings per suite
(a warning is litmus noticing something unsafe, e.g. a DELETE acting on a request-URI
with a fragment). The count is also recorded as the JUnit property ``litmus_warnings``.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("litmus")]

SUITES = ["basic", "copymove", "props", "locks", "http"]
SUITE_TIMEOUT = 120

SUMMARY = re.compile(
    r"<- summary for `(?P<suite>[^']+)': of (?P<run>\d+) tests run: "
    r"(?P<passed>\d+) passed, (?P<failed>\d+) failed\. (?P<pct>[\d.]+)%"
)
WARNINGS = re.compile(r"-> (\d+) warnings? (?:was|were) issued\.")
SKIPPED = re.compile(r"-> (\d+) tests? (?:was|were) skipped\.")
FAILED_TEST = re.compile(r"^\s*(\d+)\. \S+\.* FAIL\b", re.MULTILINE)
TRACE_START = re.compile(r"^\*+ Running test (\d+): ")


def _clean(output: str) -> str:
    # litmus redraws each test line with "\r" before printing its result.
    # (str.splitlines() would split on "\r" too, so split on "\n" only.)
    return "\n".join(line.rsplit("\r", 1)[-1] for line in output.split("\n"))


def _failure_traces(workdir: Path, out: str, max_lines: int = 200) -> str:
    """The debug.log sections (neon request/response traces) of the tests that failed."""
    log = workdir / "debug.log"
    if not log.exists():
        return "<no debug.log>"
    failed = {int(m) for m in FAILED_TEST.findall(out)}
    sections: list[list[str]] = []
    keep = False
    for line in log.read_text(errors="replace").splitlines():
        start = TRACE_START.match(line)
        if start:
            keep = int(start[1]) in failed
            if keep:
                sections.append([])
        if keep:
            sections[-1].append(line)
    traces = "\n\n".join("\n".join(section[:max_lines]) for section in sections)
    return traces or f"<no trace for the failed tests; see {log}>"


@pytest.mark.parametrize("suite", SUITES)
def test_litmus_suite(
    suite: str,
    server,
    tmp_path: Path,
    client_env: dict[str, str],
    record_property,
) -> None:
    env = dict(client_env, TESTS=suite)
    try:
        proc = subprocess.run(
            ["litmus", server.url],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=SUITE_TIMEOUT,
        )
    except subprocess.TimeoutExpired as exc:
        out = _clean((exc.stdout or b"").decode(errors="replace"))
        pytest.fail(
            f"litmus {suite} did not finish within {SUITE_TIMEOUT} s\n{out}\n"
            f"--- debug.log: {tmp_path / 'debug.log'} ---",
            pytrace=False,
        )
    out = _clean(proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace"))

    summary = SUMMARY.search(out)
    n_warnings = sum(int(m) for m in WARNINGS.findall(out))
    n_skipped = sum(int(m) for m in SKIPPED.findall(out))
    record_property("litmus_warnings", n_warnings)
    record_property("litmus_skipped", n_skipped)
    if summary is None or int(summary["failed"]) != 0 or proc.returncode != 0:
        pytest.fail(
            f"litmus {suite}: exit {proc.returncode}, "
            f"{summary.group(0) if summary else 'no summary line'}\n{out}\n"
            f"--- debug.log traces of the failed tests ---\n{_failure_traces(tmp_path, out)}",
            pytrace=False,
        )
    assert summary["suite"] == suite
    print(out)  # shown with -rA or -s; failures carry it in their message instead
    record_property("litmus_summary", summary.group(0))
    details = "\n".join(line for line in out.splitlines() if "WARNING" in line)
    assert n_warnings == 0, f"litmus {suite}: {n_warnings} warning(s)\n{details}\n{out}"
