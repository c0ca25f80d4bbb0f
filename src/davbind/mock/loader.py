"""Reading a scenario file (TOML) into a :class:`~davbind.mock.model.Scenario`.

The rule kept here: a scenario is validated completely when it is loaded, so a typo
fails at once with the file, the key and what was expected
(``scenario.toml: expect[2].response.status: expected an integer 200..599, got "207"``)
instead of as a puzzling mismatch later.  Unknown keys are errors too.  The schema is
documented in ``scenarios/README.md`` and in the package docstring.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, cast

from davbind.mock.model import (
    REGEX_PREFIX,
    Expectation,
    Generate,
    GenerateKind,
    Matcher,
    Mode,
    Reply,
    Scenario,
)

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 §5.6.2


class ScenarioError(ValueError):
    """A scenario file that cannot be used, with the place of the problem."""


class _Table:
    """A TOML table being read: typed getters that name the key in their errors."""

    def __init__(self, data: dict[str, Any], where: str, source: str) -> None:
        self.data = data
        self.where = where
        self.source = source
        self.read: set[str] = set()

    def fail(self, key: str, message: str) -> ScenarioError:
        place = f"{self.where}.{key}" if self.where else key
        return ScenarioError(f"{self.source}: {place}: {message}")

    def get(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        self.read.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        # bool is an int in Python; an integer key must not accept true/false
        wrong_bool = isinstance(value, bool) and bool not in _as_tuple(kind)
        if wrong_bool or not isinstance(value, kind):
            raise self.fail(key, f"expected {what}, got {value!r}")
        return value

    def required(self, key: str, kind: type | tuple[type, ...], what: str) -> Any:
        value = self.get(key, kind, what)
        if value is None:
            raise self.fail(key, f"missing (expected {what})")
        return value

    def integer(self, key: str, default: int, low: int, high: int | None = None) -> int:
        span = f"{low}..{high}" if high is not None else f">= {low}"
        value = self.get(key, int, f"an integer {span}")
        if value is None:
            return default
        if value < low or (high is not None and value > high):
            raise self.fail(key, f"expected an integer {span}, got {value}")
        return cast(int, value)

    def sub(self, key: str) -> _Table | None:
        value = self.get(key, dict, "a table")
        if value is None:
            return None
        where = f"{self.where}.{key}" if self.where else key
        return _Table(value, where, self.source)

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.read)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known: {', '.join(sorted(self.read))})")


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate the scenario file at ``path``."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    return parse_scenario(text, base_dir=file.parent, source=str(file), default_name=file.stem)


def parse_scenario(
    text: str, *, base_dir: Path | None = None, source: str = "<string>", default_name: str = ""
) -> Scenario:
    """Validate scenario TOML ``text``; ``body_file`` paths are relative to ``base_dir``."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{source}: not valid TOML: {exc}") from exc
    top = _Table(data, "", source)
    name = top.get("name", str, "a string") or default_name or "scenario"
    description = top.get("description", str, "a string") or ""
    mode = top.get("mode", str, '"ordered" or "keyed"') or "keyed"
    if mode not in ("ordered", "keyed"):
        raise top.fail("mode", f'expected "ordered" or "keyed", got {mode!r}')
    strict = top.get("strict", bool, "true or false")
    raw = top.required("expect", list, "an array of [[expect]] tables")
    if not raw:
        raise top.fail("expect", "at least one [[expect]] table is needed")
    base = base_dir if base_dir is not None else Path.cwd()
    expectations = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise top.fail(f"expect[{i}]", "expected a table")
        expectations.append(_expectation(_Table(item, f"expect[{i}]", source), i, base))
    top.finish()
    return Scenario(
        name=name,
        description=description.strip(),
        mode=cast(Mode, mode),
        strict=True if strict is None else strict,
        expectations=tuple(expectations),
        source=source,
    )


def _matcher(table: _Table, key: str, value: str | bool) -> Matcher:
    try:
        return Matcher.of(value)
    except re.error as exc:
        raise table.fail(key, f"bad regular expression {value!r}: {exc}") from exc


def _expectation(table: _Table, index: int, base: Path) -> Expectation:
    method = table.required("method", str, "an HTTP method such as PROPFIND")
    if not _TOKEN.match(method):
        raise table.fail("method", f"not an HTTP method: {method!r}")
    path = table.required("path", str, 'a path such as "/Coll/" or a "re:" pattern')
    if not path.startswith(("/", REGEX_PREFIX, "*")):
        raise table.fail("path", f'expected a path starting with "/" or "re:", got {path!r}')
    headers = []
    head_table = table.sub("headers")
    if head_table is not None:
        for name in head_table.data:
            value = head_table.get(name, (str, bool), "a string, re:pattern, true or false")
            headers.append((name.lower(), _matcher(head_table, name, value)))
        head_table.finish()
    contains = table.get("body_contains", (list, str), "a list of strings")
    if isinstance(contains, str):
        contains = [contains]
    if contains is not None and not all(isinstance(c, str) for c in contains):
        raise table.fail("body_contains", "expected a list of strings")
    reply_table = table.sub("response")
    if reply_table is None:
        raise table.fail("response", "missing (expected an [expect.response] table)")
    expectation = Expectation(
        index=index,
        method=method.upper(),
        path=_matcher(table, "path", path),
        headers=tuple(headers),
        body_contains=tuple(_matcher(table, "body_contains", c) for c in contains or ()),
        times=table.integer("times", 1, 0),
        reply=_reply(reply_table, base),
    )
    table.finish()
    return expectation


def _reply(table: _Table, base: Path) -> Reply:
    status = table.get("status", int, "an integer 200..599")
    if status is None or not 200 <= status <= 599:
        raise table.fail("status", f"expected an integer 200..599, got {status!r}")
    headers: list[tuple[str, str]] = []
    head_table = table.sub("headers")
    if head_table is not None:
        for name in head_table.data:
            if not _TOKEN.match(name):
                raise head_table.fail(name, "not a valid header name")
            value = head_table.get(name, (str, list), "a string or a list of strings")
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(v, str) for v in values):
                raise head_table.fail(name, "expected a string or a list of strings")
            for v in values:
                if not v.isprintable() or not _latin1(v):
                    raise head_table.fail(name, f"not a valid header value: {v!r}")
            headers.extend((name, v) for v in values)
        head_table.finish()
    body_text = table.get("body", str, "a string")
    body_file = table.get("body_file", str, "a path relative to the scenario file")
    gen_table = table.sub("generate")
    given = [k for k, v in (("body", body_text), ("body_file", body_file),
                            ("generate", gen_table)) if v is not None]
    if len(given) > 1:
        raise table.fail(given[1], f"give only one of body, body_file, generate ({given})")
    body = body_text.encode("utf-8") if body_text is not None else b""
    if body_file is not None:
        try:
            body = (base / body_file).read_bytes()
        except OSError as exc:
            raise table.fail("body_file", f"cannot read {base / body_file}: {exc}") from exc
    chunks = table.integer("chunks", 1, 1)
    if gen_table is not None and "chunks" in table.data:
        raise table.fail("chunks", "not used with generate (use generate.batch)")
    if chunks > 1 and not body:
        raise table.fail("chunks", "needs a non-empty body to split")
    generate = _generate(gen_table) if gen_table is not None else None
    table.finish()
    return Reply(status=status, headers=tuple(headers), body=body, chunks=chunks,
                 generate=generate)


def _latin1(value: str) -> bool:
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def _generate(table: _Table) -> Generate:
    kind = table.get("kind", str, '"multistatus" or "raw"') or "multistatus"
    if kind not in ("multistatus", "raw"):
        raise table.fail("kind", f'expected "multistatus" or "raw", got {kind!r}')
    template = table.required("template", str, "a str.format template using {i} or {n}")
    generate = Generate(
        kind=cast(GenerateKind, kind),
        count=cast(int, table.required("count", int, "an integer >= 0")),
        template=template,
        prefix=table.get("prefix", str, "a string") or "",
        suffix=table.get("suffix", str, "a string") or "",
        batch=table.integer("batch", 500, 1),
    )
    try:
        generate.format_string.format(i=0, n=1, origin="", host="", path="")
    except (KeyError, IndexError, ValueError) as exc:
        fields = "fields are {i} and {n}, write {{ and }} for braces"
        message = f"bad template ({fields}): {exc!r}"
        raise table.fail("template", message) from exc
    if generate.count < 0:
        raise table.fail("count", f"expected an integer >= 0, got {generate.count}")
    table.finish()
    return generate
