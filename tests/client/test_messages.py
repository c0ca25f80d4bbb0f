"""Href normalisation, request builders and response interpreters (no I/O).

Request bodies are checked by parsing them back with the server's own parsers in
``davbind.protocol.xmlbody``: what the client sends is what the server understands.
"""

from __future__ import annotations

import pytest

from davbind.client import messages
from davbind.client.errors import (
    Conflict,
    Forbidden,
    Locked,
    LoopDetected,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    StatusError,
    Unauthorized,
)
from davbind.client.hrefs import href_key, normalize_href, parent_href, path_url
from davbind.protocol import xmlbody

NORMALIZE = {
    "absolute-same-origin": ("http://h.example/a/b", "http://h.example/x/", "/a/b"),
    "default-port-and-case": ("HTTP://H.EXAMPLE:80/a", "http://h.example/", "/a"),
    "other-port": ("http://h.example:81/a", "http://h.example/", "http://h.example:81/a"),
    "relative": ("c d", "http://h.example/a/b/", "/a/b/c%20d"),
    "relative-dotdot": ("../c", "http://h.example/a/b/", "/a/c"),
    "dot-segments": ("/a/./b/../c/", None, "/a/c/"),
    "double-slash": ("/a//b", None, "/a/b"),
    "lowercase-escapes": ("/caf%c3%a9", None, "/caf%C3%A9"),
    "unreserved-decoded": ("/%7Euser/%41", None, "/~user/A"),
    "raw-unicode": ("/café", None, "/caf%C3%A9"),
    "encoded-slash-stays": ("/a%2Fb", None, "/a%2Fb"),
    "invalid-utf8-kept": ("/bad%FF", None, "/bad%FF"),
    "root": ("http://h.example", "http://h.example/", "/"),
    "whitespace": ("  /a/  ", None, "/a/"),
}


@pytest.mark.parametrize(("href", "base", "expected"), NORMALIZE.values(), ids=NORMALIZE.keys())
def test_normalize_href(href: str, base: str | None, expected: str) -> None:
    assert normalize_href(href, base) == expected


@pytest.mark.parametrize(
    ("href", "key", "parent"),
    [("/", "/", None), ("/a/", "/a", "/"), ("/a/b", "/a/b", "/a/"), ("/a/b/", "/a/b", "/a/")],
)
def test_href_key_and_parent(href: str, key: str, parent: str | None) -> None:
    assert (href_key(href), parent_href(href)) == (key, parent)


@pytest.mark.parametrize(
    ("base", "path", "url"),
    [
        ("http://h:8/", "/a b/c", "http://h:8/a%20b/c"),
        ("http://h:8/", "a%20b/", "http://h:8/a%20b/"),
        ("http://h:8/dav/", "/x", "http://h:8/dav/x"),
        ("http://h:8/dav/", "/", "http://h:8/dav/"),
        ("http://h:8/", "http://o:9/p q", "http://o:9/p%20q"),
    ],
)
def test_path_url(base: str, path: str, url: str) -> None:
    assert path_url(base, path) == url


def header(request: messages.Request, name: str) -> str | None:
    return next((v for k, v in request.headers if k.lower() == name.lower()), None)


def test_propfind_sends_dav_bind_and_parses_back() -> None:
    request = messages.propfind("http://h/a/", "infinity")
    assert (request.method, header(request, "Depth"), header(request, "DAV")) == (
        "PROPFIND", "infinity", "bind",
    )  # fmt: skip
    parsed = xmlbody.parse_propfind(request.body)
    assert parsed.kind == "prop" and parsed.names == messages.LIST_PROPS
    allprop = xmlbody.parse_propfind(messages.propfind_body(None, messages.INFO_INCLUDE))
    assert (allprop.kind, allprop.include) == ("allprop", messages.INFO_INCLUDE)
    with pytest.raises(ValueError):
        messages.propfind("http://h/", "2")


BINDINGS = {
    "bind": (messages.bind("http://h/b/new%20name", "http://h/a/x"), "BIND", "http://h/b/",
             xmlbody.parse_bind, ("new%20name", "/a/x")),
    "rebind": (messages.rebind("http://h/c/d", "http://h/a/x", overwrite=False), "REBIND",
               "http://h/c/", xmlbody.parse_rebind, ("d", "/a/x")),
    "unbind-collection": (messages.unbind("http://h/a/sub/"), "UNBIND", "http://h/a/",
                          xmlbody.parse_unbind, ("sub",)),
}  # fmt: skip


@pytest.mark.parametrize(
    ("request_", "method", "url", "parse", "fields"), BINDINGS.values(), ids=BINDINGS.keys()
)
def test_binding_requests(
    request_: messages.Request, method: str, url: str, parse: object, fields: tuple[str, ...]
) -> None:
    assert (request_.method, request_.url) == (method, url)
    parsed = parse(request_.body)  # type: ignore[operator]
    assert tuple(getattr(parsed, f) for f in ("segment", "href")[: len(fields)]) == fields


def test_binding_of_root_refused() -> None:
    with pytest.raises(ValueError):
        messages.bind("http://h/", "http://h/a")


def test_lock_proppatch_and_header_builders() -> None:
    lock = messages.lock("http://h/f", exclusive=False, depth="infinity", timeout=60, owner="me")
    info = xmlbody.parse_lockinfo(lock.body)
    assert info is not None and info.scope == "shared" and "me" in (info.owner_xml or "")
    assert (header(lock, "Timeout"), header(lock, "Depth")) == ("Second-60", "infinity")
    patch = messages.proppatch("http://h/f", {"{urn:x}c": "a<b"}, ["{urn:x}d"], lock_token="t")
    updates = xmlbody.parse_proppatch(patch.body)
    assert [type(u).__name__ for u in updates] == ["PropSet", "PropRemove"]
    assert "a&lt;b" in updates[0].value_xml  # type: ignore[union-attr]
    assert header(patch, "If") == "(<t>)"
    with pytest.raises(ValueError):
        messages.proppatch("http://h/f")
    assert header(messages.get("u", 10, 20), "Range") == "bytes=10-19"
    assert header(messages.get("u", 5), "Range") == "bytes=5-"
    assert header(messages.put("u", size=3, overwrite=False), "If-None-Match") == "*"
    assert header(messages.copy("u", "v", overwrite=False), "Overwrite") == "F"
    assert header(messages.unlock("u", "urn:uuid:1"), "Lock-Token") == "<urn:uuid:1>"


FAILURES = {
    401: Unauthorized, 403: Forbidden, 404: NotFound, 405: MethodNotAllowed, 409: Conflict,
    412: PreconditionFailed, 423: Locked, 508: LoopDetected, 418: StatusError, 500: StatusError,
}  # fmt: skip


@pytest.mark.parametrize(("status", "cls"), FAILURES.items(), ids=map(str, FAILURES))
def test_check_raises_typed_errors(status: int, cls: type[StatusError]) -> None:
    request = messages.mkcol("http://h/x/")
    body = b'<D:error xmlns:D="DAV:"><D:cycle-allowed/></D:error>'
    with pytest.raises(cls) as info:
        messages.check(request, status, "application/xml", body)
    assert type(info.value) is cls
    assert (info.value.status, info.value.condition, info.value.method) == (
        status, "cycle-allowed", "MKCOL",
    )  # fmt: skip
    assert str(status) in str(info.value) and "http://h/x/" in str(info.value)


def test_check_accepts_expected_and_reads_207_failures() -> None:
    request = messages.delete("http://h/c/")
    messages.check(request, 204, None, b"")
    ok = b'<D:multistatus xmlns:D="DAV:"></D:multistatus>'
    messages.check(request, 207, "application/xml", ok)
    failed = (
        b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>/c/x</D:href>'
        b"<D:status>HTTP/1.1 423 Locked</D:status></D:response></D:multistatus>"
    )
    with pytest.raises(Locked):
        messages.check(request, 207, "application/xml", failed)


def test_proppatch_207_with_a_failed_property_raises() -> None:
    request = messages.proppatch("http://h/f", {"{DAV:}getetag": "x"})
    body = (
        b'<D:multistatus xmlns:D="DAV:"><D:response><D:href>/f</D:href><D:propstat><D:prop>'
        b"<D:getetag/></D:prop><D:status>HTTP/1.1 403 Forbidden</D:status><D:error>"
        b"<D:cannot-modify-protected-property/></D:error></D:propstat></D:response>"
        b"</D:multistatus>"
    )
    with pytest.raises(Forbidden) as info:
        messages.check_proppatch(request, 207, body)
    assert info.value.condition == "cannot-modify-protected-property"


@pytest.mark.parametrize(
    ("status", "fallback"),
    [(403, True), (400, True), (405, True), (501, True), (507, True), (508, True), (500, True),
     (401, False), (404, False), (407, False)],
)  # fmt: skip
def test_depth_infinity_fallback_policy(status: int, fallback: bool) -> None:
    assert messages.may_fall_back(StatusError(status)) is fallback


def test_lock_token_and_dav_classes() -> None:
    request = messages.lock("http://h/f")
    token = messages.lock_token(request, {"lock-token": "<urn:uuid:9>"}, "Second-5")
    assert (token.token, token.timeout) == ("urn:uuid:9", "Second-5")
    with pytest.raises(Exception, match="Lock-Token"):
        messages.lock_token(request, {}, None)
    assert messages.dav_classes({"dav": "1, 2, 3, bind, <http://x/y>"}) == {"1", "2", "3", "bind"}
