"""``davbind check`` against a peer without bindings (WsgiDAV from PyPI), via the CLI.

The run completes with a valid JSON report (exit 0 or 1: the peer may break a MUST of
its own), reports every binding check as skipped because bindings are unsupported, runs
the class 1 / Depth / lock checks, and leaves nothing in the served directory.
"""

from __future__ import annotations

import json
import subprocess
from typing import Any

from davbind.conformance import all_checks


def _check_json(cmd: list[str], url: str, *extra: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run([*cmd, url, "--format", "json", *extra],
                            capture_output=True, timeout=180)  # fmt: skip
    assert result.returncode in (0, 1), result.stderr.decode()
    return result.returncode, json.loads(result.stdout)


def test_wsgidav_bindings_reported_unsupported(wsgidav: Any, check_cmd: list[str]) -> None:
    with wsgidav() as (url, root):
        code, report = _check_json(check_cmd, url)
        assert sorted(p.name for p in root.iterdir()) == []
    checks = {c["id"]: c for c in report["checks"]}
    assert set(checks) == {c.id for c in all_checks()}
    for spec in all_checks():
        entry = checks[spec.id]
        assert set(entry) >= {"id", "rfc", "level", "result", "detail"}
        assert entry["rfc"].startswith("RFC ") and entry["level"] in ("MUST", "SHOULD", "MAY")
        if "bind" in spec.needs:
            assert entry["result"] == "skip", spec.id
            assert "bindings unsupported" in entry["detail"]
    ran = [c for c in report["checks"] if c["result"] != "skip"]
    assert {c["id"].split(".")[0] for c in ran} >= {"discovery", "class1", "depth", "locks"}
    summary = report["summary"]
    assert summary["passed"] + summary["failed"] + summary["skipped"] == len(checks)
    assert summary["passed"] >= 15
    assert (code == 1) == (summary["must_failed"] > 0)
    assert report["cleanup_error"] is None and report["setup_error"] is None


def test_wsgidav_refusing_infinity(wsgidav: Any, check_cmd: list[str]) -> None:
    """A peer that refuses Depth infinity (like Apache mod_dav) is honest: depth passes."""
    with wsgidav(refuse_infinity=True) as (url, root):
        _, report = _check_json(check_cmd, url, "--only", "depth")
        assert list(root.iterdir()) == []
    results = {c["id"]: c["result"] for c in report["checks"]}
    assert results["depth.infinity-complete"] == "pass"
    assert results["depth.infinity-not-downgraded"] == "pass"
    assert results["depth.finite-depth-precondition"] == "pass"


def test_wsgidav_with_credentials(wsgidav: Any, check_cmd: list[str]) -> None:
    with wsgidav(users={"alice": "secret"}, digest=True) as (url, root):
        _, report = _check_json(check_cmd, url, "--user", "alice", "--password", "secret",
                                "--only", "class1")  # fmt: skip
        assert list(root.iterdir()) == []
    assert {c["result"] for c in report["checks"]} <= {"pass", "fail"}
    assert report["summary"]["passed"] >= 8
