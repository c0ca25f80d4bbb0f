"""One quirk of a real server is reported once, by the check of the rule it breaks.

Each quirk of ``faults.py`` (``put-replace-201`` is what ``rclone serve webdav`` does)
maps to the result every affected check must get: the check that tests the broken rule
fails; the checks that only build on the quirky request pass (they judge something
else) or, when the quirk refuses a request that merely sets their scene up, are skipped
with ``setup failed: …`` and that request as evidence — never a MUST failure of their own.
"""

from __future__ import annotations

from typing import Any

import pytest

from davbind.conformance import run

QUIRKS: dict[str, dict[str, str]] = {
    "put-replace-201": {
        "class1.put-status": "fail",
        "class1.put-get": "pass",
        "locks.put-with-token": "pass",
        "locks.unlock": "pass",
        "lockbind.token-via-other-binding": "pass",
        "lockbind.unlock-via-other-binding": "pass",
        "identity.put-keeps": "pass",
    },
    "lock-refused": {
        "locks.lock-granted": "fail",
        "locks.lock-unmapped": "fail",
        "locks.put-needs-token": "skip",
        "locks.put-with-token": "skip",
        "locks.delete-needs-token": "skip",
        "locks.exclusive-conflict": "skip",
        "locks.unlock": "skip",
        "lockbind.state-via-other-binding": "skip",
    },
}


@pytest.mark.parametrize("quirk", sorted(QUIRKS))
def test_quirk_reported_once(faulty: Any, quirk: str) -> None:
    expected = QUIRKS[quirk]
    faulty.set_fault(quirk)
    try:
        report = run(faulty.url, only=tuple(expected))
    finally:
        faulty.set_fault(None)
    got = {r.id: r.result for r in report.results}
    assert got == expected, {r.id: r.detail for r in report.results}
    assert not report.cleanup_error and not report.setup_error
    for r in report.results:
        if r.result == "skip":
            assert r.detail.startswith("setup failed: LOCK "), r.detail
            assert "expected 2xx, got 403" in r.detail
            assert r.evidence and r.evidence[-1].method == "LOCK"
            assert r.evidence[-1].status == 403


def test_lock_left_after_unlock_is_named(faulty: Any) -> None:
    """UNLOCK that leaves the lock: the detail names the 423 that shows it, and the
    expected 2xx."""
    faulty.set_fault("unlock-noop")
    try:
        report = run(faulty.url, only=("locks.unlock",))
    finally:
        faulty.set_fault(None)
    detail = report.get("locks.unlock").detail
    assert "expected 2xx" in detail and "got 423" in detail and "still there" in detail
