"""Which expectations a running mock has met, and what it was asked that it did not expect.

What it holds: :class:`Ledger`, the only mutable state of a mock, and the values it hands
out: :class:`MockRequest` (what arrived), :class:`Unexpected` (a request no expectation
took, with the reason), :class:`Unmet` and :class:`Report`.

The rules kept here:

- Keyed mode: a request goes to the first expectation, in file order, whose method,
  path, headers and body match and that has not yet been met ``times`` times
  (``times = 0``: any number).
- Ordered mode: expectations are consumed in file order.  The current one takes a
  request until it has been met ``times`` times; one with ``times = 0`` takes matching
  requests until a request matches a later one.  A request that fits neither is
  unexpected and does not move the order on.
- An expectation is unmet while it has been met fewer than ``times`` times.  The mock
  is done when nothing is unmet and at least one request was served.
- Replay (``replay=True``, the CLI's default): once a run of the scenario is complete
  (nothing unmet), a request that only the start of a new run would take — one that
  would otherwise be "already met" — starts that new run: every count goes back to
  zero and the request is taken again.  A request that fits no expectation stays
  unexpected, and a started run left incomplete is unmet, so a client that repeats a
  single request, or stops half-way, still fails a strict scenario.
- It is thread-safe: the mock's event loop writes, tests and the CLI read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from davbind.mock.model import Expectation, Scenario

MAX_LISTED = 5


@dataclass(frozen=True, slots=True)
class MockRequest:
    """One request as the mock saw it (``body`` holds at most the first MiB)."""

    method: str
    path: str  # raw, percent-encoded as sent, without the query
    query: str = ""
    headers: tuple[tuple[str, str], ...] = ()  # lower-case names, in arrival order
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ", ".join(values) if values else None

    @property
    def target(self) -> str:
        return f"{self.path}?{self.query}" if self.query else self.path


@dataclass(frozen=True, slots=True)
class Unexpected:
    """A request no expectation took, and why."""

    method: str
    target: str
    reason: str

    def __str__(self) -> str:
        return f"{self.method} {self.target}: {self.reason}"


@dataclass(frozen=True, slots=True)
class Unmet:
    """An expectation met fewer times than required."""

    expectation: Expectation
    hits: int

    def __str__(self) -> str:
        e = self.expectation
        return f"{e.label}: met {self.hits} of {e.times} time(s)"


@dataclass(frozen=True, slots=True)
class Report:
    """The outcome of a mock run; ``ok`` is what the CLI's exit status says."""

    scenario: str
    strict: bool
    served: int
    unmet: tuple[Unmet, ...]
    unexpected: tuple[Unexpected, ...]
    runs: int = 1  # the run of the scenario in progress (1 unless replayed)

    @property
    def ok(self) -> bool:
        return not self.unmet and not (self.strict and self.unexpected)

    def render(self) -> str:
        replayed = f" in {self.runs} runs of the scenario" if self.runs > 1 else ""
        lines = [
            f"davbind mock: scenario {self.scenario!r}: {self.served} request(s) "
            f"served{replayed}, {len(self.unmet)} expectation(s) unmet, "
            f"{len(self.unexpected)} unexpected request(s)"
        ]
        if self.unmet:
            where = f" (in run {self.runs}, not finished)" if self.runs > 1 else ""
            lines.append(f"unmet expectations{where}:")
            lines.extend(f"  {u}" for u in self.unmet)
        if self.unexpected:
            note = "" if self.strict else " (not strict: answered 404, not a failure)"
            lines.append(f"unexpected requests{note}:")
            lines.extend(f"  {u}" for u in self.unexpected)
        lines.append("result: OK" if self.ok else "result: FAILED")
        return "\n".join(lines)


def mismatch(e: Expectation, request: MockRequest) -> str | None:
    """Why ``request`` does not fit ``e`` (``None`` when it does)."""
    if request.method != e.method:
        return f"method {request.method}, expected {e.method}"
    with_query = e.path.pattern is None and "?" in str(e.path.source)
    target = request.target if with_query else request.path
    if not e.path.matches_path(target):
        return f"path {target}, expected {e.path.show()}"
    for name, matcher in e.headers:
        value = request.header(name)
        if not matcher.matches(value):
            got = "absent" if value is None else repr(value)
            return f"header {name}: {got}, expected {matcher.quoted()}"
    if e.body_contains:
        text = request.body.decode("utf-8", errors="replace")
        for matcher in e.body_contains:
            if not matcher.found_in(text):
                return f"body does not contain {matcher.quoted()}"
    return None


class Ledger:
    """Hits per expectation, the ordered-mode cursor and the unexpected requests."""

    def __init__(self, scenario: Scenario, *, replay: bool = False) -> None:
        self.scenario = scenario
        self.replay = replay
        self._lock = threading.Lock()
        self._hits = [0] * len(scenario.expectations)
        self._cursor = 0
        self._served = 0
        self._runs = 1
        self._unexpected: list[Unexpected] = []

    def take(self, request: MockRequest) -> Expectation | Unexpected:
        """The expectation that answers ``request``, or the recorded :class:`Unexpected`."""
        with self._lock:
            found = self._take(request)
            if isinstance(found, Unexpected) and self.replay and not self._unmet():
                found = self._take_in_new_run(request) or found
            if isinstance(found, Expectation):
                self._hits[found.index - 1] += 1
                self._served += 1
            else:
                self._unexpected.append(found)
            return found

    def _take(self, request: MockRequest) -> Expectation | Unexpected:
        if self.scenario.mode == "ordered":
            return self._take_ordered(request)
        return self._take_keyed(request)

    def _take_in_new_run(self, request: MockRequest) -> Expectation | None:
        """Start the next run of a completed scenario if ``request`` fits its start."""
        hits, cursor = self._hits, self._cursor
        self._hits, self._cursor = [0] * len(hits), 0
        found = self._take(request)
        if isinstance(found, Expectation):
            self._runs += 1
            return found
        self._hits, self._cursor = hits, cursor
        return None

    def _room(self, e: Expectation) -> bool:
        return e.times == 0 or self._hits[e.index - 1] < e.times

    def _take_keyed(self, request: MockRequest) -> Expectation | Unexpected:
        exhausted = None
        for e in self.scenario.expectations:
            if mismatch(e, request) is None:
                if self._room(e):
                    return e
                exhausted = exhausted or e
        if exhausted is not None:
            reason = f"expectation {exhausted.label} already met {exhausted.times} time(s)"
            return self._unexpected_for(request, reason)
        same = [e for e in self.scenario.expectations
                if e.method == request.method and e.path.matches_path(request.path)]
        if same:
            reason = f"expectation {same[0].label} does not fit: {mismatch(same[0], request)}"
        else:
            left = [e.label for e in self.scenario.expectations if self._required_left(e)]
            shown = "; ".join(left[:MAX_LISTED]) + (" …" if len(left) > MAX_LISTED else "")
            reason = (f"no expectation matches; still expected: {shown}" if left
                      else "no expectation matches; every required one is already met")
        return self._unexpected_for(request, reason)

    def _take_ordered(self, request: MockRequest) -> Expectation | Unexpected:
        expectations = self.scenario.expectations
        j = self._cursor
        while j < len(expectations):
            e = expectations[j]
            if mismatch(e, request) is None and self._room(e):
                self._cursor = j if e.times == 0 or self._hits[j] + 1 < e.times else j + 1
                return e
            if self._required_left(e):
                reason = f"expected {e.label} next ({mismatch(e, request)})"
                return self._unexpected_for(request, reason)
            j += 1
        return self._unexpected_for(request, "every expectation in the order is already met")

    def _required_left(self, e: Expectation) -> bool:
        return self._hits[e.index - 1] < e.times

    @staticmethod
    def _unexpected_for(request: MockRequest, reason: str) -> Unexpected:
        return Unexpected(request.method, request.target, reason)

    def _unmet(self) -> tuple[Unmet, ...]:
        return tuple(Unmet(e, self._hits[e.index - 1])
                     for e in self.scenario.expectations if self._required_left(e))

    def unmet(self) -> tuple[Unmet, ...]:
        with self._lock:
            return self._unmet()

    def unexpected(self) -> tuple[Unexpected, ...]:
        with self._lock:
            return tuple(self._unexpected)

    def hits(self, index: int) -> int:
        """How often expectation ``index`` (1-based, as in :attr:`Expectation.index`) was met."""
        with self._lock:
            return self._hits[index - 1]

    def done(self) -> bool:
        """Nothing unmet and at least one request served."""
        with self._lock:
            return self._served > 0 and not self._unmet()

    def report(self) -> Report:
        with self._lock:
            return Report(self.scenario.name, self.scenario.strict, self._served,
                          self._unmet(), tuple(self._unexpected), self._runs)
