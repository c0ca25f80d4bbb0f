"""Tables for the WebDAV header parsers (RFC 4918 §10, RFC 7240, RFC 8144)."""

from __future__ import annotations

import pytest

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import (
    MAX_URL_LENGTH,
    Depth,
    SimpleRef,
    dav_request_classes,
    parse_depth,
    parse_destination,
    parse_lock_token_header,
    parse_overwrite,
    parse_prefer,
    parse_simple_ref,
    parse_timeout,
)

NO_INFINITY = frozenset({Depth.ZERO, Depth.ONE})

# --- Depth (§10.2) -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "default", "expected"),
    [
        (None, Depth.INFINITY, Depth.INFINITY),
        (None, Depth.ZERO, Depth.ZERO),
        ("0", Depth.INFINITY, Depth.ZERO),
        ("1", Depth.INFINITY, Depth.ONE),
        ("infinity", Depth.ZERO, Depth.INFINITY),
        ("Infinity", Depth.ZERO, Depth.INFINITY),
        ("INFINITY", Depth.ZERO, Depth.INFINITY),
        ("  1 \t", Depth.ZERO, Depth.ONE),
    ],
)
def test_parse_depth(value: str | None, default: Depth, expected: Depth) -> None:
    assert parse_depth(value, default=default) is expected


@pytest.mark.parametrize("value", ["", " ", "2", "-1", "inf", "infinite", "1,noroot", "0 1"])
def test_parse_depth_rejects_malformed(value: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_depth(value, default=Depth.INFINITY)
    assert caught.value.status == 400
    assert repr(value) in caught.value.message


@pytest.mark.parametrize(
    ("value", "allowed", "expected"),
    [
        ("0", NO_INFINITY, Depth.ZERO),
        ("1", NO_INFINITY, Depth.ONE),
        ("infinity", frozenset({Depth.ZERO, Depth.INFINITY}), Depth.INFINITY),
        ("0", frozenset({Depth.ZERO, Depth.INFINITY}), Depth.ZERO),
    ],
)
def test_parse_depth_allowed(value: str, allowed: frozenset[Depth], expected: Depth) -> None:
    assert parse_depth(value, default=Depth.ZERO, allowed=allowed) is expected


@pytest.mark.parametrize(
    ("value", "allowed", "named"),
    [
        ("infinity", NO_INFINITY, "'infinity'"),
        ("1", frozenset({Depth.ZERO, Depth.INFINITY}), "'1'"),
        ("0", frozenset({Depth.INFINITY}), "'0'"),
    ],
)
def test_parse_depth_not_allowed(value: str, allowed: frozenset[Depth], named: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_depth(value, default=Depth.ZERO, allowed=allowed)
    assert caught.value.status == 400
    assert named in caught.value.message


def test_parse_depth_default_is_not_checked_against_allowed() -> None:
    assert parse_depth(None, default=Depth.INFINITY, allowed=NO_INFINITY) is Depth.INFINITY


# --- Overwrite (§10.6) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, True), ("T", True), ("t", True), (" T ", True), ("F", False), ("f", False)],
)
def test_parse_overwrite(value: str | None, expected: bool) -> None:
    assert parse_overwrite(value) is expected


@pytest.mark.parametrize("value", ["", "TRUE", "false", "1", "0", "T F", "yes"])
def test_parse_overwrite_rejects(value: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_overwrite(value)
    assert caught.value.status == 400


# --- Destination (§10.3) -----------------------------------------------------------

HOST = "127.0.0.1:8080"


@pytest.mark.parametrize(
    ("value", "scheme", "host", "expected"),
    [
        ("/a/b", "http", HOST, "/a/b"),
        ("  /a/b  ", "http", HOST, "/a/b"),
        ("/a%20b/c%2Fd", "http", HOST, "/a%20b/c%2Fd"),
        ("/a/b?x=1#frag", "http", HOST, "/a/b"),
        ("/a/#frag", "http", HOST, "/a/"),
        ("/", "http", HOST, "/"),
        ("http://127.0.0.1:8080/a/b", "http", HOST, "/a/b"),
        ("HTTP://127.0.0.1:8080/a%C3%A9", "http", HOST, "/a%C3%A9"),
        ("http://127.0.0.1:8080", "http", HOST, "/"),
        ("http://127.0.0.1:8080?q", "http", HOST, "/"),
        ("http://127.0.0.1:8080/x?q#f", "http", HOST, "/x"),
        ("http://user:pw@127.0.0.1:8080/x", "http", HOST, "/x"),
        ("http://Example.COM/x", "http", "example.com", "/x"),
        ("http://example.com:80/x", "http", "example.com", "/x"),
        ("http://example.com/x", "http", "example.com:80", "/x"),
        ("http://example.com:/x", "http", "example.com", "/x"),
        ("https://example.com/x", "https", "example.com:443", "/x"),
        ("https://example.com:443/x", "HTTPS", "EXAMPLE.com", "/x"),
        ("http://[::1]:8080/x", "http", "[::1]:8080", "/x"),
        ("http://[::1]/x", "http", "[::1]:80", "/x"),
        ("http://h/a b/ü", "http", "h", "/a b/ü"),  # lenient: raw space and non-ASCII
        ("/" + "a" * (MAX_URL_LENGTH - 1), "http", HOST, "/" + "a" * (MAX_URL_LENGTH - 1)),
    ],
)
def test_parse_destination(value: str, scheme: str, host: str, expected: str) -> None:
    assert parse_destination(value, scheme=scheme, host=host) == expected


@pytest.mark.parametrize("value", [None, "", "   "])
def test_parse_destination_required(value: str | None) -> None:
    with pytest.raises(DAVError) as caught:
        parse_destination(value, scheme="http", host=HOST)
    assert (caught.value.status, caught.value.message) == (400, "Destination header is required")


@pytest.mark.parametrize(
    "value",
    [
        "foo/bar",  # relative reference
        "foo",
        "./x",
        "../x",
        "?x",
        "#x",
        "//127.0.0.1:8080/x",  # network-path reference
        "ftp://127.0.0.1:8080/x",
        "mailto:a@b",
        "c:/x",
        "urn:uuid:x",
        "http:/x",
        "http:x",
        "http://",
        "http:///x",
        "http://:8080/x",
        "http://h:port/x",
        "http://h:99999/x",
        "http://h:123456/x",
        "http://h:8080:1/x",
        "http://h:\uff18\uff10/x",  # fullwidth (non-ASCII) digits
        "http://ex ample.com/x",
        "http://[::1/x",
        "http://[::1]x/x",
        "http://[]/x",
        "/a\x00b",
        "/a\tb",
        "/a\r\nb",
        "/a\x7fb",
        "/a%zzb",
        "/a%2",
        "/100%",
        "/" + "a" * MAX_URL_LENGTH,
    ],
)
def test_parse_destination_rejects_malformed(value: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_destination(value, scheme="http", host=HOST)
    assert caught.value.status == 400
    assert "Destination" in caught.value.message


@pytest.mark.parametrize(
    ("value", "scheme", "host"),
    [
        ("http://other:8080/x", "http", HOST),
        ("http://127.0.0.1:8081/x", "http", HOST),
        ("http://127.0.0.1/x", "http", HOST),
        ("https://127.0.0.1:8080/x", "http", HOST),
        ("http://example.com/x", "https", "example.com"),
        ("http://example.com:443/x", "https", "example.com"),
        ("https://example.com/x", "https", "example.com:8443"),
        ("http://example.com/x", "http", ""),  # no usable Host: cannot be ours
        ("http://example.com/x", "http", "example.com:bad"),
    ],
)
def test_parse_destination_other_server(value: str, scheme: str, host: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_destination(value, scheme=scheme, host=host)
    assert (caught.value.status, caught.value.message) == (502, "Destination is on another server")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/a", SimpleRef(None, "/a")),
        ("http://H:81/a?b", SimpleRef(("http", "h", 81), "/a")),
        ("https://h", SimpleRef(("https", "h", 443), "/")),
    ],
)
def test_parse_simple_ref(value: str, expected: SimpleRef) -> None:
    assert parse_simple_ref(value, name="X") == expected


def test_parse_simple_ref_names_the_header() -> None:
    with pytest.raises(DAVError, match="If Resource-Tag"):
        parse_simple_ref("relative", name="If Resource-Tag")


# --- Timeout (§10.7) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "maximum", "expected"),
    [
        (None, 600, 600),
        ("", 600, 600),
        ("Infinite", 600, 600),
        ("infinite", 600, 600),
        ("Second-60", 600, 60),
        ("second-60", 600, 60),
        ("  Second-60  ", 600, 60),
        ("Second-0", 600, 0),
        ("Second-000120", 600, 120),
        ("Second-601", 600, 600),
        ("Second-4100000000", 2**40, 4100000000),
        ("Second-4294967295", 2**40, 2**32 - 1),
        ("Second-4294967296", 2**40, 2**32 - 1),
        ("Second-99999999999", 2**40, 2**32 - 1),
        ("Second-" + "9" * 5000, 2**40, 2**32 - 1),  # int() would refuse this many digits
        ("Infinite, Second-4100000000", 600, 600),
        ("Second-30, Infinite", 600, 30),
        ("Bogus, Second-30", 600, 30),
        ("Second-abc, Infinite", 600, 600),
        ("Second-, Second-45", 600, 45),
        ("Second--5", 600, 600),
        ("Second-1.5", 600, 600),
        ("Seconds-30", 600, 600),
        ("garbage", 600, 600),
        (",,,", 600, 600),
    ],
)
def test_parse_timeout(value: str | None, maximum: int, expected: int) -> None:
    assert parse_timeout(value, maximum=maximum) == expected


# --- DAV (§10.1) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], set()),
        ([""], set()),
        (["1, Bind", "3"], {"1", "bind", "3"}),
        (["1,2,3,BIND"], {"1", "2", "3", "bind"}),
        ([" bind "], {"bind"}),
        (["1, <http://example.com/ext,with,commas>, bind"], {"1", "bind"}),
        (["<http://example.com/only>"], set()),
        (["1, <unterminated, bind"], {"1"}),
        (["1,, ,2"], {"1", "2"}),
        (["access-control", "extended-mkcol"], {"access-control", "extended-mkcol"}),
    ],
)
def test_dav_request_classes(values: list[str], expected: set[str]) -> None:
    assert dav_request_classes(values) == frozenset(expected)


# --- Lock-Token (§10.5) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (
            "<urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2>",
            "urn:uuid:181d4fae-7d8c-11d0-a765-00a0c91e6bf2",
        ),
        ("  <opaquelocktoken:abc>  ", "opaquelocktoken:abc"),
        ("<x>", "x"),
    ],
)
def test_parse_lock_token_header(value: str, expected: str) -> None:
    assert parse_lock_token_header(value) == expected


@pytest.mark.parametrize("value", [None, "", "  "])
def test_parse_lock_token_header_required(value: str | None) -> None:
    with pytest.raises(DAVError) as caught:
        parse_lock_token_header(value)
    assert (caught.value.status, caught.value.message) == (400, "Lock-Token header is required")


@pytest.mark.parametrize(
    "value",
    [
        "urn:uuid:abc",
        "<urn:uuid:abc",
        "urn:uuid:abc>",
        "<>",
        "<",
        ">",
        "<urn:uuid:a b>",
        "<urn:<uuid>",
        "<a>b>",
        "<a\x00>",
        "(<urn:uuid:abc>)",
    ],
)
def test_parse_lock_token_header_rejects(value: str) -> None:
    with pytest.raises(DAVError) as caught:
        parse_lock_token_header(value)
    assert caught.value.status == 400


# --- Prefer (RFC 7240, RFC 8144) ---------------------------------------------------


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], set()),
        ([""], set()),
        (["return=minimal"], {"return=minimal"}),
        (["return=minimal; x=y, depth-noroot"], {"return=minimal", "depth-noroot"}),
        (["Return=Minimal", "Depth-NoRoot"], {"return=minimal", "depth-noroot"}),
        (["return = minimal"], {"return=minimal"}),
        (['return="minimal"'], {"return=minimal"}),
        (['foo=""'], {"foo"}),
        (["foo="], {"foo"}),
        (['x="a,b;c", y'], {"x=a,b;c", "y"}),
        (['x="say \\"hi\\", ok"; p="q,r", z'], {'x=say "hi", ok', "z"}),
        (["respond-async, wait=100"], {"respond-async", "wait=100"}),
        ([" , ;p=1, =v, handling=lenient"], {"handling=lenient"}),
        (['x="unterminated, y'], {'x="unterminated, y'}),
    ],
)
def test_parse_prefer(values: list[str], expected: set[str]) -> None:
    assert parse_prefer(values) == frozenset(expected)
