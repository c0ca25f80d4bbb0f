"""Tables for the If header (RFC 4918 §10.4): grammar, tokens() and evaluation."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from davbind.protocol.errors import DAVError
from davbind.protocol.ifheader import (
    Condition,
    IfHeader,
    IfList,
    ResourceState,
    evaluate_if,
    parse_if,
)

U1 = "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2"
U2 = "urn:uuid:58f202ac-22cf-11d1-b12d-002035b29092"
NO_LOCK = "DAV:no-lock"


def tok(token: str, negated: bool = False) -> Condition:
    return Condition(negated, token, None)


def etag(value: str, negated: bool = False) -> Condition:
    return Condition(negated, None, value)


def untagged(*conditions: Condition) -> IfList:
    return IfList(None, conditions)


def tagged(resource: str, *conditions: Condition) -> IfList:
    return IfList(resource, conditions)


# --- Grammar -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # §10.4.6 No-tag Production
        (
            f'(<{U1}> ["I am an ETag"]) (["I am another ETag"])',
            [untagged(tok(U1), etag('"I am an ETag"')), untagged(etag('"I am another ETag"'))],
        ),
        # §10.4.7 Using "Not" with No-tag Production
        (f"(Not <{U1}> <{U2}>)", [untagged(tok(U1, True), tok(U2))]),
        # §10.4.8 Causing a Condition to Always Evaluate to True
        (f"(<{U1}>) (Not <DAV:no-lock>)", [untagged(tok(U1)), untagged(tok(NO_LOCK, True))]),
        # §10.4.9 Tagged List If Header in COPY (as folded on the wire)
        (
            f"<http://www.example.com/resource1>\r\n  (<{U1}>\r\n"
            '  [W/"A weak ETag"]) (["strong ETag"])',
            [
                tagged("/resource1", tok(U1), etag('W/"A weak ETag"')),
                tagged("/resource1", etag('"strong ETag"')),
            ],
        ),
        # §10.4.10 Matching Lock Tokens with Collection Locks
        (f"<http://www.example.com/specs/> (<{U1}>)", [tagged("/specs/", tok(U1))]),
        # §10.4.11 Matching ETags on Unmapped URLs
        ('</specs/rfc2518.doc> (["4217"])', [tagged("/specs/rfc2518.doc", etag('"4217"'))]),
        (
            '</specs/rfc2518.doc> (Not ["4217"])',
            [tagged("/specs/rfc2518.doc", etag('"4217"', True))],
        ),
        # litmus-style headers
        (
            '(<opaquelocktoken:foo> ["etag"])',
            [untagged(tok("opaquelocktoken:foo"), etag('"etag"'))],
        ),
        ("(<DAV:no-lock>)", [untagged(tok(NO_LOCK))]),
        ("(Not <DAV:no-lock>)", [untagged(tok(NO_LOCK, True))]),
        ('(<DAV:no-lock> ["e1"])', [untagged(tok(NO_LOCK), etag('"e1"'))]),
        (
            "<http://127.0.0.1:8080/litmus/lockme> (<opaquelocktoken:abc>)",
            [tagged("/litmus/lockme", tok("opaquelocktoken:abc"))],
        ),
        # tags switch the resource; several lists per tag
        (
            '<http://h/a> (<t1>) (<t2>) </b> (["e"])',
            [tagged("/a", tok("t1")), tagged("/a", tok("t2")), tagged("/b", etag('"e"'))],
        ),
        (
            "<https://H:8443/a%20b/?q=1#f> (<t>)  <http://[::1]/x> (<u>)",
            [tagged("/a%20b/", tok("t")), tagged("/x", tok("u"))],
        ),
        ("<http://h> (<t>)", [tagged("/", tok("t"))]),
        # spelling and whitespace variations
        ("(not <a:b>)(NOT <c:d>)", [untagged(tok("a:b", True)), untagged(tok("c:d", True))]),
        ("(Not<a:b>)", [untagged(tok("a:b", True))]),
        ('(Not["x"])', [untagged(etag('"x"', True))]),
        ('\t ( <a:b>\t[ "x" ] ) \r\n ', [untagged(tok("a:b"), etag('"x"'))]),
        ('(<a:b>["x"]Not[W/"y"])', [untagged(tok("a:b"), etag('"x"'), etag('W/"y"', True))]),
        ('(["a]b"])', [untagged(etag('"a]b"'))]),
        ('([""])', [untagged(etag('""'))]),
        # stray commas between lists (several If lines joined by a client)
        ("(<a:b>), (<c:d>)", [untagged(tok("a:b")), untagged(tok("c:d"))]),
        (", (<a:b>) ,, ", [untagged(tok("a:b"))]),
        ("</x> (<a:b>), </y> (<c:d>)", [tagged("/x", tok("a:b")), tagged("/y", tok("c:d"))]),
    ],
)
def test_parse_if(value: str, expected: list[IfList]) -> None:
    assert parse_if(value) == IfHeader(tuple(expected))


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" , ", "empty"),
        ("(<garbage)", "has no '>'"),
        ("(<garbage) (<x>)", "not a URI"),
        ("()", "empty list"),
        ("( )", "empty list"),
        ("(<a:b>", "not closed"),
        ("(<a:b>) (", "not closed"),
        ("<a:b>)", "must be an http or https URL"),
        ("(<a:b>))", "unexpected ')'"),
        ("<a:b>", "must be an http or https URL"),
        ("garbage", "unexpected 'g'"),
        ("<http://h/a>", "has no list"),
        ("</a>", "has no list"),
        ("</a> </b> (<t>)", "has no list"),
        ("</a> , (<t>)", "has no list"),
        ("(<a:b>) </a> (<c:d>)", "can't be mixed"),
        ("<relative> (<t>)", "not an absolute URI"),
        ("<ftp://h/x> (<t>)", "http or https"),
        ("<> (<t>)", "empty Resource-Tag"),
        ("(<>)", "empty state token"),
        ("(<a b>)", "not a URI"),
        ("(<a:b\x00>)", "not a URI"),
        ("(Not)", "after 'Not'"),
        ("(Not Not <a:b>)", "after 'Not'"),
        ("(Nothing)", "after 'Not'"),
        ("(Not", "end of header"),
        ("(x)", "expected a condition, found 'x'"),
        ("(<a:b>, <c:d>)", "expected a condition, found ','"),
        ("(abc)", "expected a condition"),
        ('(["x")', "no ']'"),
        ('(["x" "y"])', "no ']'"),
        ("([x])", "quoted string"),
        ('(["x])', "quoted string"),
        ("([])", "quoted string"),
        ("([W/x])", "quoted string"),
        ('([w/"x"])', "quoted string"),
        ('(["a\x01b"])', "control characters"),
        ("(<a:b>) garbage", "unexpected 'g'"),
    ],
)
def test_parse_if_rejects(value: str, problem: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_if(value)
    assert caught.value.status == 400
    assert problem in caught.value.message
    assert "If" in caught.value.message


# --- tokens() (§10.4.1) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("(<a:1>)", {"a:1"}),
        ("(Not <a:1>)", {"a:1"}),
        (f"(<{U1}>) (Not <DAV:no-lock>)", {U1}),
        ("(<DAV:no-lock>)", set()),
        ("(<dav:NO-LOCK>)", set()),
        ('(["e"])', set()),
        ('</a> (<a:1> ["e"]) (Not <a:2>) </b> (<a:3>) (<a:1>)', {"a:1", "a:2", "a:3"}),
    ],
)
def test_tokens(value: str, expected: set[str]) -> None:
    assert parse_if(value).tokens() == frozenset(expected)


# --- Evaluation (§10.4.3, §10.4.4) -------------------------------------------------

STATES = {
    "/locked": ResourceState('"r1-3"', frozenset({"a:1", "a:2"})),
    "/plain": ResourceState('"r2-1"', frozenset()),
    "/noetag": ResourceState(None, frozenset({"a:3"})),
    "/specs/": ResourceState('"c"', frozenset({U1})),
    "/specs/rfc2518.txt": ResourceState('"d"', frozenset({U1})),
}


@pytest.mark.parametrize(
    ("value", "request_path", "expected"),
    [
        ("(<a:1>)", "/locked", True),
        ("(<a:2>)", "/locked", True),
        ("(<a:9>)", "/locked", False),
        ("(<a:1>)", "/plain", False),
        ("(Not <a:1>)", "/plain", True),
        ("(Not <a:1>)", "/locked", False),
        # tokens and etags ANDed in one list
        ('(<a:1> ["r1-3"])', "/locked", True),
        ('(<a:1> ["r1-4"])', "/locked", False),
        ('(<a:9> ["r1-3"])', "/locked", False),
        # weak comparison on both sides
        ('([W/"r1-3"])', "/locked", True),
        ('(["r1-3"])', "/locked", True),
        ('(Not ["r1-3"])', "/locked", False),
        ('(Not ["other"])', "/locked", True),
        ('(["r1-3"])', "/noetag", False),
        ('(Not ["r1-3"])', "/noetag", True),
        # lists ORed
        ('(<a:9>) (["r1-3"])', "/locked", True),
        ("(<a:9>) (<a:8>)", "/locked", False),
        ('(["nope"]) (<a:8>) (<a:2>)', "/locked", True),
        # DAV:no-lock (§10.4.8), litmus fail_cond_put / cond_put_with_not
        ("(<DAV:no-lock>)", "/plain", False),
        ("(<DAV:no-lock>)", "/locked", False),
        ("(Not <DAV:no-lock>)", "/locked", True),
        ("(Not <DAV:no-lock>)", "/missing", True),
        ('(<DAV:no-lock> ["r1-3"])', "/locked", False),
        ("(<a:9>) (Not <DAV:no-lock>)", "/locked", True),
        # unmapped URL: nothing matches, Not of anything holds (§10.4.11)
        ("(<a:1>)", "/missing", False),
        ("(Not <a:1>)", "/missing", True),
        ('</specs/rfc2518.doc> (["4217"])', "/specs/rfc2518.txt", False),
        ('</specs/rfc2518.doc> (Not ["4217"])', "/specs/rfc2518.txt", True),
        # tagged lists test their own resource, not the Request-URI (§10.4.10)
        (f"<http://www.example.com/specs/> (<{U1}>)", "/specs/rfc2518.txt", True),
        (f"<http://www.example.com/specs/> (<{U2}>)", "/specs/rfc2518.txt", False),
        ("</locked> (<a:1>)", "/plain", True),
        ("</plain> (<a:1>)", "/locked", False),
        ("</plain> (<a:1>) </locked> (<a:2>)", "/missing", True),
        # §10.4.9 COPY: lock token and weak etag, or the strong etag
        (f'</specs/> (<{U1}> [W/"c"]) (["x"])', "/plain", True),
        (f'</specs/> (<{U2}> [W/"c"]) (["c"])', "/plain", True),
        (f'</specs/> (<{U2}> [W/"c"]) (["x"])', "/plain", False),
        # no trailing-slash normalisation here: that is the caller's job
        (f"</specs> (<{U1}>)", "/plain", False),
    ],
)
def test_evaluate_if(value: str, request_path: str, expected: bool) -> None:
    assert evaluate_if(parse_if(value), request_path, STATES.get) is expected


def counting(
    states: dict[str, ResourceState],
) -> tuple[Callable[[str], ResourceState | None], list[str]]:
    calls: list[str] = []

    def state_of(path: str) -> ResourceState | None:
        calls.append(path)
        return states.get(path)

    return state_of, calls


@pytest.mark.parametrize(
    ("value", "request_path", "expected_calls"),
    [
        # one lookup per path, however many conditions and lists use it
        ('(<a:9> ["x"]) (Not <a:9> ["r1-3"]) (<a:8>)', "/locked", ["/locked"]),
        (
            '</locked> (<a:9>) (["x"]) </plain> (<a:1>) </locked> (<a:7>)',
            "/x",
            ["/locked", "/plain"],
        ),
        ("(<a:9>) (<a:9>)", "/missing", ["/missing"]),
        # DAV:no-lock needs no state at all
        ("(Not <DAV:no-lock>)", "/locked", []),
        # evaluation stops at the first true list
        ("</locked> (<a:1>) </plain> (<a:1>)", "/x", ["/locked"]),
    ],
)
def test_evaluate_if_caches_state(value: str, request_path: str, expected_calls: list[str]) -> None:
    state_of, calls = counting(STATES)
    evaluate_if(parse_if(value), request_path, state_of)
    assert calls == expected_calls


def test_evaluate_if_condition_without_token_or_etag_is_false() -> None:
    header = IfHeader(
        (untagged(Condition(False, None, None)), untagged(Condition(True, None, None)))
    )
    assert evaluate_if(header, "/locked", STATES.get) is True
    assert evaluate_if(IfHeader((header.lists[0],)), "/locked", STATES.get) is False


def test_values_are_frozen() -> None:
    header = parse_if("(<a:1>)")
    with pytest.raises(AttributeError):
        header.lists = ()  # type: ignore[misc]
    assert not hasattr(header, "__dict__")
