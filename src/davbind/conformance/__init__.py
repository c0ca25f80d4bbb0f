"""The conformance checker: named checks of RFC 4918 and RFC 5842 run against any server.

``davbind check URL`` (``cli/check_cmd.py``) and :func:`run` create a scratch collection
below the URL, run every selected check in a sub-collection of its own and always remove
the scratch collection again.  Each check cites its RFC section, has a level (MUST,
SHOULD, MAY) and a result (pass, fail, or skip when the server does not announce the
feature); failures carry the request line, status and body excerpt as evidence.
Modules: ``registry`` (``@check``), ``context`` (what a check gets, evidence capture),
``runner``, ``report`` (text / JSON / JUnit), and ``checks_*`` by topic.  Depends on
``davbind.client`` and ``davbind.protocol`` only, never on the server or storage.
"""

from __future__ import annotations

from davbind.conformance.context import CheckFailed, CheckSkipped, Context, Exchange, Reply
from davbind.conformance.registry import CheckSpec, all_checks, check, select
from davbind.conformance.report import (
    CheckResult,
    RunReport,
    render_json,
    render_junit,
    render_text,
)
from davbind.conformance.runner import CannotConnect, run

__all__ = [
    "CannotConnect",
    "CheckFailed",
    "CheckResult",
    "CheckSkipped",
    "CheckSpec",
    "Context",
    "Exchange",
    "Reply",
    "RunReport",
    "all_checks",
    "check",
    "render_json",
    "render_junit",
    "render_text",
    "run",
    "select",
]
