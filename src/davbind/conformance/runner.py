"""Running checks against a server: discovery, a scratch collection, one verdict each.

What it holds: :func:`run` (the whole run, returns a :class:`RunReport`) and
:class:`CannotConnect`.

The rules kept here:

- Discovery first: ``OPTIONS`` of the URL under test gives the compliance classes
  (RFC 4918 §10.1, RFC 5842 §8.1).  A check whose ``needs`` are not announced is
  skipped ("bindings unsupported"); one whose prerequisite (``after``) failed is skipped.
- Everything is written inside a scratch collection ``davbind-check-<random>/`` made with
  MKCOL below the URL under test; each check gets its own sub-collection in it.  The
  scratch collection is removed with DELETE in a ``finally``: after a failure, an
  unexpected exception and Ctrl-C (``KeyboardInterrupt``) alike — an interrupt that
  arrives during the clean-up does not stop it.  Locks taken by a check are released
  after it.  A clean-up that fails is part of the report.
- A check judges only the rule it tests.  When a request that merely builds its scene
  (its sub-collection, a PUT of a file, a LOCK to test a locked state) is refused, the
  check is skipped with ``setup failed: …`` and that request as evidence: the check
  that tests that request reports the fault once, as its own failure.
- A check's unexpected client error (a malformed answer) is a failure with the last
  exchange as evidence, never a crash of the run.
- A second user (``second``, for the ``auth`` checks) acts in their own space:
  ``second_url``, else the URL under test with its segment named after the run's user
  renamed after the second user (``/home/alice/`` → ``/home/bob/``).
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Sequence

import httpx

from davbind.client import Client
from davbind.client import messages as msg
from davbind.client.auth import DAVAuth
from davbind.client.errors import DAVClientError, StatusError
from davbind.conformance.context import (
    OK,
    CheckFailed,
    CheckSkipped,
    Context,
    Evidence,
    Recorder,
    SetupFailed,
    User,
    space_of,
)
from davbind.conformance.registry import CheckSpec, all_checks, select
from davbind.conformance.report import CheckResult, Result, RunReport

SCRATCH_PREFIX = "davbind-check-"
#: How a skip caused by a refused set-up request begins (see the module docstring).
SETUP_FAILED = "setup failed: "

#: What a missing compliance class means, for the skip detail.
MISSING = {
    "bind": "bindings unsupported: the server does not announce 'bind' in its DAV header "
    "(RFC 5842 §8.1)",
    "2": "locking unsupported: the server does not announce class 2 in its DAV header "
    "(RFC 4918 §18.2)",
    "1": "the server does not announce class 1 in its DAV header (RFC 4918 §18.1)",
}


class CannotConnect(Exception):
    """The server did not answer OPTIONS at all (no HTTP response)."""


def run(
    url: str,
    *,
    checks: Sequence[CheckSpec] | None = None,
    only: tuple[str, ...] = (),
    skip: tuple[str, ...] = (),
    auth: tuple[str, str] | httpx.Auth | None = None,
    timeout: float = 30.0,
    verify: bool = True,
    transport: httpx.BaseTransport | None = None,
    progress: Callable[[CheckResult], None] | None = None,
    second: tuple[str, str] | None = None,
    second_url: str | None = None,
) -> RunReport:
    """Run ``checks`` (default: every registered one, filtered by ``only``/``skip``);
    ``second`` is another user's name and password (module docstring)."""
    chosen = select(tuple(checks) if checks is not None else all_checks(), only, skip)
    started = time.monotonic()
    recorder = Recorder(transport, verify=verify)
    client = Client(url, auth=auth, timeout=timeout, transport=recorder)
    http = httpx.Client(auth=client.auth, timeout=timeout, transport=recorder,
                        follow_redirects=False)  # fmt: skip
    user = auth[0] if isinstance(auth, tuple) else getattr(auth, "username", None)
    other = None
    if second is not None:
        space = second_url or space_of(client.base_url, user, second[0])
        other = User(second[0], DAVAuth(*second), space)
    ctx = Context(client, http, recorder, user=user, authenticated=auth is not None,
                  second=other)  # fmt: skip
    try:
        try:
            options = ctx.send("OPTIONS", "/")
        except CheckFailed as exc:
            raise CannotConnect(exc.detail) from None
        ctx.classes = msg.dav_classes(options.headers)
        scratch = f"/{SCRATCH_PREFIX}{uuid.uuid4().hex[:12]}/"
        ctx.scratch = scratch
        results: list[CheckResult] = []
        setup_error = ""
        cleanup_error = ""
        made = False
        try:
            try:
                made, setup_error = _make_scratch(ctx, scratch)
            except KeyboardInterrupt:
                made = True  # the MKCOL may have been served: clean up before leaving
                raise
            for index, spec in enumerate(chosen, start=1):
                result = _run_one(ctx, spec, index, made, setup_error, results)
                results.append(result)
                if progress is not None:
                    progress(result)
        finally:
            if made:
                cleanup_error = _shielded_cleanup(ctx, scratch)
        return RunReport(
            url=client.base_url,
            classes=tuple(sorted(ctx.classes, key=_class_order)),
            results=tuple(results),
            scratch=scratch,
            setup_error=setup_error,
            cleanup_error=cleanup_error,
            seconds=time.monotonic() - started,
        )
    finally:
        client.close()
        http.close()


def _class_order(name: str) -> tuple[int, str]:
    return (0, name) if name.isdigit() else (1, name)


#: Why the scratch collection could not be made, by MKCOL's status (RFC 4918 §9.3.1).
MKCOL_HINTS = {
    401: "authentication required (give --user and --password)",
    403: "the server does not let these credentials create collections there",
    404: "the URL under test is not an existing collection",
    405: "the server does not allow MKCOL there (is the URL a WebDAV collection?)",
    409: "the URL under test is not an existing collection",
    507: "the server has no room for the checks' files",
}


def _make_scratch(ctx: Context, scratch: str) -> tuple[bool, str]:
    try:
        reply = ctx.send_request(msg.mkcol(ctx.url(scratch)))
    except CheckFailed as exc:
        return False, exc.detail
    if reply.ok:
        return True, ""
    hint = MKCOL_HINTS.get(reply.status, "the checks need a URL where they may create "
                                         "collections")  # fmt: skip
    return False, f"MKCOL {reply.url} answered {reply.status}: {hint}"


def _missing_class(ctx: Context, spec: CheckSpec) -> str:
    """The first compliance class ``spec`` needs that the server does not announce."""
    return next((need for need in spec.needs if need not in ctx.classes), "")


def _skip_group(ctx: Context, spec: CheckSpec, made: bool) -> str:
    """The shared cause of a skip, as a label (see ``CheckResult.group``)."""
    if need := _missing_class(ctx, spec):
        return need
    return "set-up" if spec.scratch and not made else ""


def _skip_reason(
    ctx: Context, spec: CheckSpec, made: bool, setup_error: str, done: list[CheckResult]
) -> str | None:
    if need := _missing_class(ctx, spec):
        return MISSING.get(need, f"the server does not announce DAV class {need!r}")
    failed = {r.id for r in done if r.result == "fail"}
    for prerequisite in spec.after:
        if prerequisite in failed:
            return f"skipped because {prerequisite} failed"
    if spec.scratch and not made:
        return f"no scratch collection: {setup_error}"
    return None


def _run_one(
    ctx: Context,
    spec: CheckSpec,
    index: int,
    made: bool,
    setup_error: str,
    done: list[CheckResult],
) -> CheckResult:
    def result(kind: Result, detail: str = "", evidence: tuple[Evidence, ...] = (),
               group: str = "") -> CheckResult:  # fmt: skip
        return CheckResult(spec.id, spec.rfc, spec.level, spec.title, spec.tags, kind, detail,
                           ctx.evidence(evidence), time.monotonic() - started,
                           group)  # fmt: skip

    started = time.monotonic()
    reason = _skip_reason(ctx, spec, made, setup_error, done)
    if reason is not None:
        return result("skip", reason, group=_skip_group(ctx, spec, made))
    ctx.home = ctx.scratch
    if spec.scratch:
        home = f"{ctx.scratch}{index:02d}-{spec.id.replace('.', '-')}/"
        reply = ctx.send_request(msg.mkcol(ctx.url(home)))
        if reply.status not in OK:
            return result("skip", f"{SETUP_FAILED}the check's own collection: MKCOL {home} "
                                  f"expected 201, got {reply.status}", (reply,))  # fmt: skip
        ctx.home = home
    ctx.since = ctx.recorder.count
    try:
        note = spec.func(ctx)
        return result("pass", note or "")
    except CheckFailed as exc:
        return result("fail", exc.detail, exc.evidence)
    except SetupFailed as exc:
        return result("skip", SETUP_FAILED + exc.detail, exc.evidence)
    except CheckSkipped as exc:
        return result("skip", exc.reason)
    except StatusError as exc:
        return result("fail", f"unexpected answer: {exc}", (exc,))
    except DAVClientError as exc:
        return result("fail", f"{exc.__class__.__name__}: {exc}", (exc,))
    except (httpx.HTTPError, OSError) as exc:
        return result("fail", f"no usable answer: {exc.__class__.__name__}: {exc}", (exc,))
    finally:
        _release_locks(ctx)


def _release_locks(ctx: Context) -> None:
    for token in list(ctx.tokens):
        with contextlib.suppress(CheckFailed, DAVClientError):
            ctx.unlock(token)
    ctx.tokens.clear()


def _shielded_cleanup(ctx: Context, scratch: str) -> str:
    """Clean up even if Ctrl-C arrives while doing it (then re-raise it)."""
    interrupted: KeyboardInterrupt | None = None
    for _ in range(3):
        try:
            error = _cleanup(ctx, scratch)
        except KeyboardInterrupt as exc:
            interrupted = exc
            continue
        if interrupted is not None:
            raise interrupted
        return error
    return "interrupted repeatedly during clean-up"


def _cleanup(ctx: Context, scratch: str) -> str:
    """DELETE the scratch collection; confirm it is gone (RFC 4918 §9.6)."""
    _release_locks(ctx)
    attempts: list[tuple[tuple[str, str], ...]] = [()]
    try:
        for headers in attempts:
            reply = ctx.send("DELETE", scratch, headers=headers)
            if reply.status in (200, 204, 404) and not ctx.exists_quietly(scratch):
                return ""
            if not headers:
                # A lock left behind: submit every token the run was granted, in an
                # If header made always true by (Not <DAV:no-lock>) (RFC 4918 §10.4.8).
                lists = "".join(f"(<{t.token}>) " for t in ctx.granted)
                attempts.append((("If", f"{lists}(Not <DAV:no-lock>)"),))
        return f"DELETE {reply.url} answered {reply.status}: {reply.exchange.excerpt[:200]}"
    except CheckFailed as exc:
        return exc.detail
