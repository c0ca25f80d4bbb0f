"""Every check fails on a deliberately broken server, and passes where the RFC allows.

``FAULTS`` maps each fault of ``faulty.py`` (the real davbind app behind a middleware
that breaks one rule) to the checks it must make fail.  A new check that no fault
breaks fails ``test_every_check_has_a_failing_fault``: add a fault (or a scenario) for
it.  ``ALLOWED`` maps the alternatives the RFCs allow (bare 208, 200 for REBIND, a
refused Depth infinity, …) to the checks that must still pass or skip.  The ``auth``
checks need accounts, which this in-process server has not: their faults are in
``test_auth.py`` (a proxy in front of a ``davbind serve`` with two users), which
asserts that each of them has one.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import pytest

from davbind.conformance import all_checks, run
from davbind.conformance.report import RunReport

FAULTS: dict[str, tuple[str, ...]] = {
    # discovery
    "no-dav-header": ("discovery.options-dav",),
    "bind-root-only": ("discovery.bind-everywhere",),
    "no-supportedlock": ("discovery.lock-class",),
    # class 1
    "mkcol-existing-201": ("class1.mkcol",),
    "missing-parent-201": ("class1.mkcol-missing-parent", "class1.put-missing-parent"),
    "put-replaces-resource": ("class1.put-status", "identity.put-keeps", "bind.create"),
    "put-replace-lost": ("class1.put-get", "locks.put-with-token",
                         "lockbind.token-via-other-binding"),
    "drop-404-propstats": ("class1.propfind-missing-prop",),
    "proppatch-noop": ("class1.proppatch", "identity.dead-props-shared"),
    "delete-noop": ("class1.delete", "copydelete.delete-one-binding"),
    "ignore-overwrite": ("class1.copy", "class1.move", "bind.can-overwrite",
                         "bind.preconditions-refused", "rebind.can-overwrite"),
    "overwrite-f-204": ("class1.copy", "class1.move", "bind.can-overwrite",
                        "bind.preconditions-refused", "rebind.can-overwrite"),
    "copy-depth0-as-infinity": ("class1.copy-depth0",),
    # Depth honesty
    "depth0-as-1": ("depth.zero",),
    "depth1-as-infinity": ("depth.one", "p208.depth1-no-208"),
    "infinity-as-1": ("depth.infinity-complete", "depth.infinity-not-downgraded"),
    "truncate-infinity": ("depth.infinity-complete",),
    "infinity-403-bare": ("depth.finite-depth-precondition", "depth.missing-means-infinity"),
    "missing-depth-as-1": ("depth.missing-means-infinity",),
    # locks
    "lock-no-token-header": ("locks.lock-granted",),
    "fake-lock": ("locks.lock-granted", "locks.put-needs-token", "locks.delete-needs-token",
                  "locks.exclusive-conflict", "locks.lock-unmapped"),
    "strip-if": ("locks.put-with-token", "lockbind.token-via-other-binding"),
    "unlock-noop": ("locks.unlock", "lockbind.unlock-via-other-binding"),
    "lock-unmapped-200": ("locks.lock-unmapped",),
    # BIND / UNBIND / REBIND
    "bind-200": ("bind.create",),
    "bind-no-location": ("bind.location",),
    "replace-as-201": ("bind.replace", "rebind.replace"),
    "bind-errors-as-201": ("bind.preconditions-refused", "bind.can-overwrite",
                           "bind.source-exists", "bind.into-collection", "bind.name-allowed",
                           "bind.cross-server"),
    "missing-source-404": ("bind.source-exists", "unbind.source-exists",
                           "rebind.source-exists"),
    "no-error-bodies": ("bind.source-exists", "bind.into-collection", "bind.name-allowed",
                        "bind.cross-server", "unbind.source-exists", "rebind.source-exists"),
    "unbind-noop": ("unbind.removes", "unbind.source-exists"),
    "rebind-as-bind": ("rebind.moves", "rebind.replace"),
    # identity
    "no-resource-id": ("identity.resource-id", "p208.resource-id"),
    "resource-id-per-href": ("identity.same-via-bindings", "identity.move-keeps",
                             "identity.rebind-keeps", "p208.resource-id",
                             "copydelete.copy-structure"),
    "resource-id-by-name": ("identity.new-on-create", "identity.new-on-copy",
                            "identity.same-via-bindings"),
    "parent-set-first-only": ("identity.parent-set",),
    "allprop-include": ("identity.not-in-allprop",),
    "props-per-path": ("identity.dead-props-shared",),
    # 208 / 508
    "208-everywhere": ("p208.depth1-no-208", "p208.leaves-200"),
    "208-to-200": ("p208.one-200-per-collection", "p208.loop-bind-aware"),
    "strip-dav-request": ("p208.one-200-per-collection", "p208.loop-bind-aware"),
    "208-with-descendants": ("p208.no-descendants",),
    "208-mixed": ("p208.placement",),
    "bare-208": ("p208.resource-id",),
    "208-without-bind": ("p208.loop-508", "p208.no-208-without-bind"),
    "no-vary": ("p208.vary",),
    # DELETE / MOVE / COPY over bindings
    "destroy-all-bindings": ("copydelete.delete-one-binding", "copydelete.delete-keeps-shared",
                             "copydelete.move-keeps-other-bindings",
                             "copydelete.move-overwrite-one-binding",
                             "copydelete.copy-overwrite-keeps-bindings"),
    "copy-member-by-member": ("copydelete.copy-structure", "copydelete.copy-loop"),
    # locks across bindings
    "lock-per-path": ("lockbind.state-via-other-binding", "lockbind.lockroot-protected"),
    "token-lockroot-only": ("lockbind.token-via-other-binding",),
    "unlock-lockroot-only": ("lockbind.unlock-via-other-binding",),
    "lock-all-bindings": ("lockbind.other-url-unprotected",),
}  # fmt: skip

#: Alternatives the RFCs allow: (fault, check) -> the result it must still get.
ALLOWED: dict[str, dict[str, str]] = {
    "bare-208": {"p208.placement": "pass", "p208.one-200-per-collection": "pass",
                 "p208.no-descendants": "pass", "p208.loop-bind-aware": "pass",
                 "p208.depth1-no-208": "pass"},
    "rebind-200": {"rebind.moves": "pass", "identity.rebind-keeps": "pass"},
    "replace-as-200": {"bind.replace": "pass", "rebind.replace": "pass",
                       "unbind.removes": "pass"},
    "refuse-infinity": {"depth.infinity-complete": "pass",
                        "depth.infinity-not-downgraded": "pass",
                        "depth.finite-depth-precondition": "pass",
                        "depth.missing-means-infinity": "pass", "p208.loop-508": "pass",
                        "p208.one-200-per-collection": "skip", "p208.placement": "skip",
                        "p208.loop-bind-aware": "skip", "p208.vary": "skip"},
    "infinity-403-bare": {"depth.infinity-complete": "pass",
                          "depth.infinity-not-downgraded": "pass"},
    "truncate-infinity": {"depth.infinity-not-downgraded": "pass"},
    "no-parent-set": {"identity.parent-set": "skip"},
    "loop-508-midstream": {"p208.loop-508": "pass"},
    "208-with-descendants": {"p208.one-200-per-collection": "pass", "p208.placement": "pass"},
    "208-mixed": {"p208.one-200-per-collection": "pass"},
}  # fmt: skip


#: A failure detail says what was expected and what came, never Python's None or an
#: empty list spelled "nothing".
PYTHON_WORDS = re.compile(r"\bNone\b|\bnothing\b|\[\]")


def _run(faulty: Any, fault: str | None, only: tuple[str, ...] = ()) -> RunReport:
    faulty.set_fault(fault)
    try:
        return run(faulty.url, only=only)
    finally:
        faulty.set_fault(None)


#: Checks whose failing faults live in test_auth.py (see the module docstring).
AUTH = {c.id for c in all_checks() if c.topic == "auth"}


def test_every_check_has_a_failing_fault() -> None:
    registered = {c.id for c in all_checks()} - AUTH
    covered = {c for checks in FAULTS.values() for c in checks}
    assert registered - covered == set(), "checks without a fault that makes them fail"
    assert covered - registered == set(), "the table names checks that do not exist"


def test_table_names_real_faults(faulty: Any) -> None:
    implemented = sys.modules[type(faulty).__module__].FAULTS
    assert set(FAULTS) | set(ALLOWED) <= set(implemented)


def test_clean_faulty_server_passes(faulty: Any) -> None:
    """The middleware itself breaks nothing: with no fault every check passes."""
    report = _run(faulty, None)
    failed = {r.id: r.detail for r in report.results if r.result == "fail"}
    assert failed == {}
    assert {r.id for r in report.results if r.result == "skip"} == {
        "depth.finite-depth-precondition", *AUTH
    }
    assert report.ok and not report.cleanup_error


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_fault_is_reported(faulty: Any, fault: str) -> None:
    expected = FAULTS[fault]
    report = _run(faulty, fault, only=expected)
    results = {r.id: r for r in report.results}
    assert set(results) == set(expected)
    wrong = {i: (r.result, r.detail) for i, r in results.items() if r.result != "fail"}
    assert wrong == {}, f"{fault} should make these checks fail"
    for r in results.values():
        assert r.detail, f"{r.id} failed without saying why"
        assert not PYTHON_WORDS.search(r.detail), f"{r.id}: {r.detail}"
        assert r.evidence, f"{r.id} failed without evidence"
        assert r.evidence[-1].status is not None and r.evidence[-1].method
    assert not report.setup_error and not report.cleanup_error
    assert report.ok == all(r.level != "MUST" for r in results.values())


@pytest.mark.parametrize("fault", sorted(ALLOWED))
def test_allowed_alternatives_pass(faulty: Any, fault: str) -> None:
    expected = ALLOWED[fault]
    report = _run(faulty, fault, only=tuple(expected))
    got = {r.id: r.result for r in report.results}
    assert got == expected, {r.id: r.detail for r in report.results if r.result != expected[r.id]}
    if fault == "loop-508-midstream":
        assert "multistatus" in report.get("p208.loop-508").detail
    if fault == "bare-208":
        assert report.get("p208.placement").detail == "208 form: bare"
