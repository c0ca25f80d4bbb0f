"""``davbind mock``: listing, usage errors, and real processes stopped by a signal or by
``--exit-when-done``, whose exit status is the verdict."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from davbind.cli.mock_cmd import mock
from davbind.mock import shipped_names

ENTRY = "from davbind.cli.mock_cmd import mock; mock()"


def test_list_shows_every_shipped_scenario() -> None:
    result = CliRunner().invoke(mock, ["--list"])
    assert result.exit_code == 0
    names = [line.split()[0] for line in result.output.splitlines()]
    assert names == list(shipped_names())
    assert "RFC 5842 §7.1.1 verbatim" in result.output


@pytest.mark.parametrize(("args", "message"), [
    ([], "give a scenario file or name"),
    (["no-such-scenario"], "no such file and no shipped scenario of that name"),
])
def test_usage_errors_exit_2(args: list[str], message: str) -> None:
    result = CliRunner().invoke(mock, args)
    assert result.exit_code == 2
    assert message in result.output


def test_invalid_scenario_file_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[expect]]\nmethod = "GET"\npath = "/"\n[expect.response]\nstatus = 1\n')
    result = CliRunner().invoke(mock, [str(bad)])
    assert result.exit_code == 2
    assert "expect[1].response.status: expected an integer 200..599, got 1" in result.output


def test_busy_port_exits_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(mock, ["propstat-208", "--port", str(port)])
    assert result.exit_code == 2 and "cannot listen on 127.0.0.1" in result.output


@contextmanager
def running(*args: str) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """``davbind mock`` in a child process on a free port; yields it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, *args, "--port", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert " on http://127.0.0.1:" in first, first + (proc.stderr.read() if proc.stderr else "")
        yield proc, first.rsplit(" on ", 1)[1].strip().rstrip("/")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


def finish(proc: subprocess.Popen[str], sig: int | None = None) -> tuple[int, str, str]:
    if sig is not None:
        proc.send_signal(sig)
    # not communicate(): with two pipes it reads the raw descriptors and would lose what
    # ``running``'s readline left in the text buffer; these outputs are small
    proc.wait(timeout=20)
    assert proc.stdout is not None and proc.stderr is not None
    return proc.returncode, proc.stdout.read(), proc.stderr.read()


def test_exit_when_done_exits_0_once_everything_is_met() -> None:
    with running("propstat-208", "--exit-when-done") as (proc, url):
        r = httpx.request("PROPFIND", url + "/Coll/",
                          headers={"Depth": "infinity", "DAV": "bind"})
        assert r.status_code == 207
        code, out, _ = finish(proc)
    assert code == 0
    assert "1 request(s) served, 0 expectation(s) unmet" in out and "result: OK" in out


def test_sigterm_with_unmet_expectations_exits_1_and_lists_them() -> None:
    with running("finite-depth-403") as (proc, url):
        r = httpx.request("PROPFIND", url + "/data/", headers={"Depth": "infinity"})
        assert r.status_code == 403
        code, out, _ = finish(proc, signal.SIGTERM)
    assert code == 1
    assert "4 expectation(s) unmet" in out
    assert "#3 PROPFIND /data/ [depth: 1]: met 0 of 1 time(s)" in out
    assert out.rstrip().endswith("result: FAILED")


def test_sigint_after_everything_is_met_exits_0() -> None:
    with running("loop-508-top") as (proc, url):
        bind = {"Depth": "infinity", "DAV": "bind"}
        assert httpx.request("PROPFIND", url + "/Coll/", headers=bind).status_code == 207
        plain = {"Depth": "infinity"}
        assert httpx.request("PROPFIND", url + "/Coll/", headers=plain).status_code == 508
        code, out, _ = finish(proc, signal.SIGINT)
    assert code == 0, out
    assert "result: OK" in out


def test_strict_unexpected_request_fails_the_run_and_is_logged() -> None:
    with running("propstat-208", "--exit-when-done") as (proc, url):
        r = httpx.get(url + "/elsewhere")
        assert r.status_code == 500
        assert r.text.startswith("davbind mock: unexpected request GET /elsewhere (")
        httpx.request("PROPFIND", url + "/Coll/", headers={"Depth": "infinity", "DAV": "bind"})
        code, out, err = finish(proc)  # done: exits by itself, but not cleanly
    assert code == 1
    assert "davbind mock: unexpected request GET /elsewhere" in err
    assert "unexpected requests:\n  GET /elsewhere: " in out


def test_start_lists_every_expected_request_with_its_url() -> None:
    with running("propstat-208", "--exit-when-done") as (proc, url):
        httpx.request("PROPFIND", url + "/Coll/", headers={"Depth": "infinity", "DAV": "bind"})
        code, out, _ = finish(proc)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "expected requests (in any order; the client may run again once all " \
                       "are met):"
    assert lines[1].startswith(f"  #1 PROPFIND {url}/Coll/ [depth: infinity, dav: ")
    assert lines[1].endswith(" (once)")
    assert lines[2] == f"  #2 OPTIONS {url} + path re:^/ (any number of times, optional)"
    assert lines[3] == ("the mock stops when every expectation is met, or on Ctrl-C and "
                        "prints its report")


def test_a_second_client_run_is_served_by_default() -> None:
    bind = {"Depth": "infinity", "DAV": "bind"}
    with running("propstat-208") as (proc, url):
        for _ in range(2):
            assert httpx.request("PROPFIND", url + "/Coll/", headers=bind).status_code == 207
        code, out, _ = finish(proc, signal.SIGTERM)
    assert code == 0, out
    assert "2 request(s) served in 2 runs of the scenario" in out and "result: OK" in out
    with running("propstat-208", "--no-replay") as (proc, url):
        statuses = [httpx.request("PROPFIND", url + "/Coll/", headers=bind).status_code
                    for _ in range(2)]
        code, out, _ = finish(proc, signal.SIGTERM)
    assert statuses == [207, 500] and code == 1
    assert "already met 1 time(s)" in out
