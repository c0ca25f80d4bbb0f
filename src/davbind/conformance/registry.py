"""The registry of named checks: the ``@check`` decorator and the values it records.

What it holds: :class:`CheckSpec` (one registered check: id, RFC section, level, tags,
the compliance classes it needs, the checks it builds on, the function), the
``@check(...)`` decorator that registers a function, and :func:`all_checks`, which
imports the topic modules (``checks_*.py``) once and returns every check in
registration order.

The rules kept here:

- An id is unique (``topic.name``, lowercase); registering one twice is an error.
- ``level`` is the RFC 2119 keyword of the rule the check tests (RFC 4918 §2, RFC 5842
  §1): ``MUST`` (REQUIRED and MUST NOT included), ``SHOULD`` (SHOULD NOT included) or
  ``MAY``.  Where the RFC gives no status code and davbind decides one, the check
  says so in its RFC string ("davbind's reading") and is a ``SHOULD``.
- ``needs`` names compliance classes of the ``DAV`` response header (RFC 4918 §10.1,
  RFC 5842 §8.1): a check needing ``"bind"`` is skipped on a server that does not
  announce bindings.  ``after`` names checks whose failure makes this one meaningless.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from davbind.conformance.context import Context

Level = Literal["MUST", "SHOULD", "MAY"]
LEVELS: tuple[Level, ...] = ("MUST", "SHOULD", "MAY")

#: A check passes by returning (optionally a note), fails by ``ctx.fail(...)``.
CheckFunc = Callable[["Context"], "str | None"]

#: The topic modules, in the order their checks run.
TOPICS: tuple[str, ...] = (
    "checks_discovery",
    "checks_class1",
    "checks_depth",
    "checks_locks",
    "checks_bind",
    "checks_identity",
    "checks_propfind208",
    "checks_copydelete",
    "checks_lockbind",
    "checks_auth",
)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """One registered check."""

    id: str
    rfc: str
    level: Level
    title: str
    func: CheckFunc
    tags: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    scratch: bool = True  # runs inside its own sub-collection of the scratch collection

    @property
    def topic(self) -> str:
        return self.id.split(".", 1)[0]

    def matches(self, selectors: tuple[str, ...]) -> bool:
        """True when any selector is this check's id, topic, a tag or a needed class."""
        names = {self.id, self.topic, *self.tags, *self.needs, self.level.lower()}
        return any(s.lower() in names or self.id.startswith(s.lower() + ".") for s in selectors)


_REGISTRY: dict[str, CheckSpec] = {}
_loaded = False


def check(
    *,
    id: str,
    rfc: str,
    level: Level,
    tags: tuple[str, ...] = (),
    needs: tuple[str, ...] = (),
    after: tuple[str, ...] = (),
    scratch: bool = True,
    registry: dict[str, CheckSpec] | None = None,
) -> Callable[[CheckFunc], CheckFunc]:
    """Register the decorated function as check ``id`` (its docstring's first line is
    the title).  ``registry`` is for tests that build their own list of checks."""
    if level not in LEVELS:
        raise ValueError(f"level must be one of {LEVELS}, not {level!r}")
    if id != id.lower() or "." not in id:
        raise ValueError(f"check id must be lowercase 'topic.name', not {id!r}")
    target = _REGISTRY if registry is None else registry

    def register(func: CheckFunc) -> CheckFunc:
        if id in target:
            raise ValueError(f"check {id!r} is registered twice")
        doc = (func.__doc__ or id).strip().splitlines()[0].strip()
        topic = id.split(".", 1)[0]
        target[id] = CheckSpec(id, rfc, level, doc, func, tuple(dict.fromkeys((topic, *tags))),
                               needs, after, scratch)  # fmt: skip
        return func

    return register


def all_checks() -> tuple[CheckSpec, ...]:
    """Every registered check, topic modules imported on first use."""
    global _loaded
    if not _loaded:
        for name in TOPICS:
            importlib.import_module(f"davbind.conformance.{name}")
        _loaded = True
    return tuple(_REGISTRY.values())


def select(
    checks: tuple[CheckSpec, ...], only: tuple[str, ...] = (), skip: tuple[str, ...] = ()
) -> tuple[CheckSpec, ...]:
    """The checks matching any of ``only`` (all when empty) and none of ``skip``."""
    chosen = tuple(c for c in checks if not only or c.matches(only))
    return tuple(c for c in chosen if not skip or not c.matches(skip))
