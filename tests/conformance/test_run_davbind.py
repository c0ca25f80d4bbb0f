"""The whole checker against ``davbind serve`` (a real subprocess): green, and tidy.

Every check passes; the only skips are the ones the server justifies (it answers Depth
infinity, so there is no refusal to examine; with ``--no-loops`` the loop checks skip)
and the ``auth`` group, which needs accounts (``test_auth.py`` runs it with two).
Afterwards — also after a Ctrl-C in the middle of a check, or a SIGINT to the CLI —
PROPFIND Depth 1 of ``/`` lists nothing but ``/``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from typing import Any

import httpx
import pytest

from davbind.client import Client
from davbind.conformance import Context, all_checks, check, run
from davbind.conformance.registry import CheckSpec

#: Skipped without credentials: this server has no accounts (see test_auth.py).
AUTH_SKIPS = {"auth.challenge", "auth.wrong-password", "auth.no-leak", "auth.shared-no-leak"}
CLEAN_SKIPS = {"depth.finite-depth-precondition", *AUTH_SKIPS}
LOOP_CHECKS = {"p208.loop-bind-aware", "p208.loop-508", "copydelete.copy-loop"}


def root_members(url: str) -> list[str]:
    """The hrefs PROPFIND Depth 1 of ``/`` lists besides ``/`` itself."""
    with Client(url) as client:
        return sorted(e.href for e in client.ls("/").members())


def test_all_checks_pass_on_davbind_serve(davbind_url: str) -> None:
    report = run(davbind_url)
    failed = {r.id: (r.detail, [e.render() for e in r.evidence])
              for r in report.results if r.result == "fail"}  # fmt: skip
    assert failed == {}
    assert {r.id for r in report.results if r.result == "skip"} == CLEAN_SKIPS
    assert len(report.results) == len(all_checks())
    assert set(report.classes) >= {"1", "2", "bind"}
    assert report.ok and not report.setup_error and not report.cleanup_error
    assert root_members(davbind_url) == []


def test_skips_loop_checks_when_loops_are_refused(davbind_factory: Any) -> None:
    with davbind_factory(("--no-loops",)) as url:
        report = run(url, only=("bind", "locks"))
        assert [r.id for r in report.results if r.result == "fail"] == []
        skipped = {r.id: r.detail for r in report.results if r.result == "skip"}
        assert set(skipped) == LOOP_CHECKS
        assert all("refuses binding loops" in d for d in skipped.values())
        assert root_members(url) == []


def test_interrupted_run_removes_the_scratch_collection(davbind_url: str) -> None:
    registry: dict[str, CheckSpec] = {}
    entered: list[str] = []

    @check(id="test.interrupt", rfc="none", level="MUST", registry=registry)
    def interrupt(ctx: Context) -> None:
        """Writes, then the user presses Ctrl-C"""
        ctx.mkcol(ctx.path("deep/"))
        ctx.put(ctx.path("deep/f.txt"), b"left behind?\n")
        entered.append(ctx.home)
        raise KeyboardInterrupt

    checks = [*[c for c in all_checks() if c.id == "lockbind.state-via-other-binding"],
              *registry.values()]  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        run(davbind_url, checks=checks)
    assert entered and entered[0].startswith("/davbind-check-")
    assert root_members(davbind_url) == []


def test_interrupted_while_a_lock_is_held(davbind_url: str, monkeypatch: Any) -> None:
    """Ctrl-C inside a check that holds a lock: unlocked, then deleted."""
    from davbind.conformance import checks_locks

    original = checks_locks.put_with

    def put_then_interrupt(*args: Any, **kwargs: Any) -> Any:
        original(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(checks_locks, "put_with", put_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(davbind_url, only=("locks.put-needs-token",))
    assert root_members(davbind_url) == []


def test_cli_sigint_cleans_up(faulty: Any, check_cmd: list[str]) -> None:
    """SIGINT to ``davbind check`` in mid-run: exit 130 and nothing left on the server."""
    faulty.set_fault("slow")
    try:
        # Ctrl-C's default, whatever this process inherited: a test run started in the
        # background by a shell without job control ignores SIGINT, and so would the CLI
        def ctrl_c_default() -> None:
            signal.signal(signal.SIGINT, signal.SIG_DFL)

        proc = subprocess.Popen([*check_cmd, faulty.url], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=dict(os.environ),
                                preexec_fn=ctrl_c_default)  # fmt: skip
        deadline = time.monotonic() + 20
        while not [m for m in root_members(faulty.url) if "davbind-check-" in m]:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        time.sleep(0.3)  # inside the checks now
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 130, err
        assert b"interrupted" in err
        assert root_members(faulty.url) == []
    finally:
        faulty.set_fault(None)


def test_cli_against_davbind_is_green(davbind_url: str, check_cmd: list[str]) -> None:
    result = subprocess.run([*check_cmd, davbind_url], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stdout.decode()[-3000:]
    text = result.stdout.decode()
    assert text.startswith(f"davbind check {davbind_url} (DAV: 1, 2, 3, bind)")
    assert "FAIL" not in text
    passed = len(all_checks()) - len(CLEAN_SKIPS)
    assert f"OK: {passed} passed, 0 failed (0 MUST), {len(CLEAN_SKIPS)} skipped" in text
    assert httpx.request("PROPFIND", davbind_url, headers={"Depth": "1"}).text.count(
        "<D:response>") == 1
