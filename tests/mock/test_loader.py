"""The scenario loader: what a valid file becomes, and the error each mistake gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from davbind.mock import ScenarioError, load_scenario, parse_scenario

MINIMAL = """
[[expect]]
method = "propfind"
path = "/a/"
[expect.response]
status = 207
"""


def test_minimal_scenario_gets_the_defaults() -> None:
    s = parse_scenario(MINIMAL, default_name="mini")
    assert (s.name, s.mode, s.strict, s.description) == ("mini", "keyed", True, "")
    (e,) = s.expectations
    assert (e.index, e.method, e.times, e.headers, e.body_contains) == (1, "PROPFIND", 1, (), ())
    assert e.path.source == "/a/" and e.path.pattern is None
    assert (e.reply.status, e.reply.headers, e.reply.body, e.reply.chunks) == (207, (), b"", 1)
    assert e.reply.generate is None


def test_full_scenario(tmp_path: Path) -> None:
    (tmp_path / "bodies").mkdir()
    (tmp_path / "bodies" / "x.xml").write_bytes(b"<x/>")
    text = r"""
name = "full"
description = '''
Summary line.
Details.
'''
mode = "ordered"
strict = false

[[expect]]
method = "PROPFIND"
path = 're:^/a/(b/)*$'
headers = { Depth = "infinity", DAV = 're:(?i)\bbind\b', If = false, Authorization = true }
body_contains = ["propfind", 're:resource-?id']
times = 0

[expect.response]
status = 207
headers = { ETag = '"e1"', Link = ["<a>", "<b>"] }
body_file = "bodies/x.xml"

[[expect]]
method = "GET"
path = "/big"
[expect.response]
status = 200
headers = { Content-Type = "text/plain" }
[expect.response.generate]
kind = "raw"
count = 3
template = "line {n}\n"
prefix = "start\n"
batch = 2
"""
    path = tmp_path / "full.toml"
    path.write_text(text, encoding="utf-8")
    s = load_scenario(path)
    assert (s.name, s.mode, s.strict, s.description) == ("full", "ordered", False,
                                                         "Summary line.\nDetails.")
    first, second = s.expectations
    assert first.times == 0
    assert [name for name, _ in first.headers] == ["depth", "dav", "if", "authorization"]
    assert [m.source for _, m in first.headers][2:] == [False, True]
    assert first.path.pattern is not None
    assert first.reply.body == b"<x/>"
    assert first.reply.headers == (("ETag", '"e1"'), ("Link", "<a>"), ("Link", "<b>"))
    assert len(first.body_contains) == 2
    gen = second.reply.generate
    assert gen is not None
    assert (gen.kind, gen.count, gen.batch, gen.prefix, gen.head, gen.tail) == (
        "raw", 3, 2, "start\n", "", "")
    assert s.source == str(path)


def test_default_name_is_the_file_stem(tmp_path: Path) -> None:
    path = tmp_path / "my-case.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    assert load_scenario(path).name == "my-case"


def test_single_body_contains_string_is_accepted() -> None:
    s = parse_scenario(MINIMAL.replace('path = "/a/"', 'path = "/a/"\nbody_contains = "x"'))
    assert [m.source for m in s.expectations[0].body_contains] == ["x"]


def _with(expect: str = "", response: str = "", top: str = "") -> str:
    return f"""{top}
[[expect]]
method = "PROPFIND"
path = "/a/"
{expect}
[expect.response]
status = 207
{response}
"""


BAD = [
    ("not toml", "this is = = not toml", "not valid TOML"),
    ("no expect", 'name = "x"', "expect: missing"),
    ("empty expect", "expect = []", "at least one"),
    ("unknown top key", _with(top='nmae = "typo"'), "nmae: unknown key"),
    ("bad mode", _with(top='mode = "random"'), 'mode: expected "ordered" or "keyed"'),
    ("strict not bool", _with(top='strict = "yes"'), "strict: expected true or false"),
    ("method missing", "[[expect]]\npath='/'\n[expect.response]\nstatus=200",
     "expect[1].method: missing"),
    ("method not a token", _with().replace('"PROPFIND"', '"PROP FIND"'),
     "expect[1].method: not an HTTP method"),
    ("relative path", _with().replace('"/a/"', '"a/"'), 'expect[1].path: expected a path'),
    ("bad path regex", _with().replace('"/a/"', '"re:(["'), "expect[1].path: bad regular"),
    ("bad header regex", _with('headers = { DAV = "re:(" }'),
     "expect[1].headers.DAV: bad regular expression"),
    ("header value a number", _with("headers = { Depth = 1 }"),
     "expect[1].headers.Depth: expected a string, re:pattern, true or false"),
    ("times negative", _with("times = -1"), "expect[1].times: expected an integer >= 0"),
    ("times a bool", _with("times = true"), "expect[1].times: expected an integer"),
    ("body_contains numbers", _with("body_contains = [1]"), "expect[1].body_contains"),
    ("unknown expect key", _with("bodycontains = ['x']"), "expect[1].bodycontains: unknown"),
    ("no response", "[[expect]]\nmethod='GET'\npath='/'", "expect[1].response: missing"),
    ("status a string", _with().replace("status = 207", 'status = "207"'),
     "expect[1].response.status: expected an integer 200..599"),
    ("status out of range", _with().replace("status = 207", "status = 99"),
     "expect[1].response.status: expected an integer 200..599, got 99"),
    ("status missing", _with().replace("status = 207", ""), "response.status: expected"),
    ("body and body_file", _with(response='body = "x"\nbody_file = "y"'),
     "give only one of body, body_file, generate"),
    ("body_file missing", _with(response='body_file = "nope.xml"'),
     "expect[1].response.body_file: cannot read"),
    ("chunks without body", _with(response="chunks = 3"), "chunks: needs a non-empty body"),
    ("chunks zero", _with(response='body = "x"\nchunks = 0'), "chunks: expected an integer"),
    ("response header bad name", _with(response='headers = { "Bad Name" = "x" }'),
     "not a valid header name"),
    ("response header bad value", _with(response='headers = { X-A = "a\\nb" }'),
     "not a valid header value"),
    ("unknown response key", _with(response="statsu = 1"), "expect[1].response.statsu"),
    ("generate without template",
     _with(response="[expect.response.generate]\ncount = 3"),
     "expect[1].response.generate.template: missing"),
    ("generate bad placeholder",
     _with(response="[expect.response.generate]\ncount = 3\ntemplate = '{x}'"),
     "generate.template: bad template"),
    ("generate bad kind",
     _with(response="[expect.response.generate]\nkind = 'json'\ncount = 1\ntemplate = 'x'"),
     'generate.kind: expected "multistatus" or "raw"'),
    ("generate negative count",
     _with(response="[expect.response.generate]\ncount = -1\ntemplate = 'x'"),
     "generate.count: expected an integer >= 0"),
    ("generate with chunks",
     _with(response="chunks = 2\n[expect.response.generate]\ncount = 1\ntemplate = 'x'"),
     "chunks: not used with generate"),
]


@pytest.mark.parametrize(("text", "message"), [(t, m) for _, t, m in BAD],
                         ids=[i for i, _, _ in BAD])
def test_invalid_scenarios_are_refused_with_the_place(text: str, message: str) -> None:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(text, source="case.toml")
    assert str(info.value).startswith("case.toml: ")
    assert message in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
