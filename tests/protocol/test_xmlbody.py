"""Tests for davbind.protocol.xmlbody: request bodies (RFC 4918 §9, RFC 5842 §4 to §6,
RFC 5689) and the fragment writers."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from davbind.protocol.errors import DAVError
from davbind.protocol.xmlbody import (
    BindRequest,
    LockInfo,
    MkcolRequest,
    PropfindRequest,
    PropRemove,
    PropSet,
    RebindRequest,
    UnbindRequest,
    element_xml,
    escape_attr,
    escape_text,
    parse_bind,
    parse_lockinfo,
    parse_mkcol,
    parse_propfind,
    parse_proppatch,
    parse_rebind,
    parse_unbind,
)

NS = "http://example.com/neon/litmus/"
XML_DECL = '<?xml version="1.0" encoding="utf-8" ?>'
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

# ----------------------------------------------------------------- hostile XML, all parsers

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><D:propfind xmlns:D="DAV:"><D:prop><x>&lol9;</x></D:prop></D:propfind>'
)
HOSTILE = {
    "billion-laughs": BILLION_LAUGHS,
    "external-entity": (
        b'<?xml version="1.0"?><!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<D:propfind xmlns:D="DAV:"><D:prop><x>&xxe;</x></D:prop></D:propfind>'
    ),
    "external-dtd": b'<!DOCTYPE D:propfind SYSTEM "http://evil.example/x.dtd"><D:propfind/>',
    "parameter-entity": b'<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><x/>',
    "doctype-no-entities": b'<!DOCTYPE propfind><propfind xmlns="DAV:"><allprop/></propfind>',
}
PARSERS: dict[str, Callable[[bytes], object]] = {
    "propfind": parse_propfind,
    "proppatch": parse_proppatch,
    "lockinfo": parse_lockinfo,
    "bind": parse_bind,
    "unbind": parse_unbind,
    "rebind": parse_rebind,
    "mkcol": lambda body: parse_mkcol(body, "application/xml"),
}


@pytest.mark.parametrize("parser", PARSERS.values(), ids=PARSERS.keys())
@pytest.mark.parametrize("body", HOSTILE.values(), ids=HOSTILE.keys())
def test_dtds_and_entities_are_forbidden(parser: Callable[[bytes], object], body: bytes) -> None:
    started = time.perf_counter()
    with pytest.raises(DAVError) as info:
        parser(body)
    assert time.perf_counter() - started < 1.0  # refused before any expansion
    assert info.value.status == 403
    assert info.value.conditions == ("no-external-entities",)


MALFORMED = {
    "litmus-propfind_invalid": b"<foo>",
    "litmus-propfind_invalid2": (
        b'<D:propfind xmlns:D="DAV:"><D:prop><bar:foo xmlns:bar=""/></D:prop></D:propfind>'
    ),
    "undeclared-prefix": b"<D:propfind><D:allprop/></D:propfind>",
    "undefined-entity": b'<D:propfind xmlns:D="DAV:">&nbsp;</D:propfind>',
    "bad-char-ref": b'<D:propfind xmlns:D="DAV:">&#1;</D:propfind>',
    "unknown-encoding": b'<?xml version="1.0" encoding="x-nope"?><D:propfind xmlns:D="DAV:"/>',
    "invalid-utf8": b'<D:propfind xmlns:D="DAV:">\xff\xfe</D:propfind>',
    "two-roots": b'<D:propfind xmlns:D="DAV:"/><D:propfind xmlns:D="DAV:"/>',
    "text-only": b"hello",
}


@pytest.mark.parametrize("parser", PARSERS.values(), ids=PARSERS.keys())
@pytest.mark.parametrize("body", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_xml_is_400(parser: Callable[[bytes], object], body: bytes) -> None:
    with pytest.raises(DAVError) as info:
        parser(body)
    assert info.value.status == 400
    assert info.value.conditions == ()


@pytest.mark.parametrize(
    ("parser", "status"),
    [(p, 415 if name == "mkcol" else 400) for name, p in PARSERS.items()],
    ids=PARSERS.keys(),
)
@pytest.mark.parametrize(
    "body",
    [
        b'<D:multistatus xmlns:D="DAV:"/>',
        b'<propfind xmlns="urn:not-dav"><allprop/></propfind>',
        b"<propertyupdate/>",
    ],
    ids=["other-dav-element", "right-name-wrong-namespace", "no-namespace"],
)
def test_wrong_root(parser: Callable[[bytes], object], status: int, body: bytes) -> None:
    with pytest.raises(DAVError) as info:
        parser(body)
    assert info.value.status == status


# ----------------------------------------------------------------- PROPFIND


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", PropfindRequest("allprop", (), ())),
        (b" \r\n\t", PropfindRequest("allprop", (), ())),
        (b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>', PropfindRequest("allprop")),
        (b'<D:propfind xmlns:D="DAV:"><D:propname/></D:propfind>', PropfindRequest("propname")),
        (  # litmus propextended: unknown DAV: element beside allprop is ignored
            (XML_DECL + '<propfind xmlns="DAV:"><foobar/><allprop/></propfind>').encode(),
            PropfindRequest("allprop"),
        ),
        (
            b'<propfind xmlns="DAV:"><include><x:a xmlns:x="urn:x"/><getetag/>'
            b'<x:a xmlns:x="urn:x"/>'
            b"</include><allprop/><include><quota-used-bytes/></include></propfind>",
            PropfindRequest(
                "allprop", include=("{urn:x}a", "{DAV:}getetag", "{DAV:}quota-used-bytes")
            ),
        ),
        (
            b'<D:propfind xmlns:D="DAV:" xmlns:Z="urn:z"><D:prop><D:getetag/><Z:color/>'
            b"<D:resource-id/><D:getetag/><bar xmlns=''/></D:prop></D:propfind>",
            PropfindRequest(
                "prop", names=("{DAV:}getetag", "{urn:z}color", "{DAV:}resource-id", "{}bar")
            ),
        ),
        (  # litmus propwformed; default namespace, unknown attributes and elements ignored
            (
                XML_DECL + '<propfind xmlns="DAV:" junk="1"><x:y xmlns:x="urn:x"/>'
                f"<prop><valnspace xmlns='{NS}' a='b'><child/></valnspace></prop></propfind>"
            ).encode(),
            PropfindRequest("prop", names=(f"{{{NS}}}valnspace",)),
        ),
        (b'<propfind xmlns="DAV:"><prop/></propfind>', PropfindRequest("prop", names=())),
        (  # include only matters beside allprop
            b'<propfind xmlns="DAV:"><include><getetag/></include><propname/></propfind>',
            PropfindRequest("propname"),
        ),
        (
            """<propfind xmlns="DAV:"><prop><café xmlns="urn:\U0001d11e"/></prop>
            </propfind>""".encode(),
            PropfindRequest("prop", names=("{urn:\U0001d11e}café",)),
        ),
        (
            '<propfind xmlns="DAV:"><allprop/></propfind>'.encode("utf-16"),
            PropfindRequest("allprop"),
        ),
    ],
)
def test_parse_propfind(body: bytes, expected: PropfindRequest) -> None:
    assert parse_propfind(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'<D:propfind xmlns:D="DAV:"/>',
        b'<D:propfind xmlns:D="DAV:"><D:include><D:getetag/></D:include></D:propfind>',
        b'<D:propfind xmlns:D="DAV:"><D:allprop/><D:propname/></D:propfind>',
        b'<D:propfind xmlns:D="DAV:"><D:prop/><D:prop/></D:propfind>',
        b'<D:propfind xmlns:D="DAV:"><allprop/></D:propfind>',
    ],
    ids=["empty", "include-only", "two-modes", "two-props", "allprop-no-namespace"],
)
def test_parse_propfind_needs_exactly_one_mode(body: bytes) -> None:
    with pytest.raises(DAVError) as info:
        parse_propfind(body)
    assert info.value.status == 400
    assert "exactly one" in info.value.message


# ----------------------------------------------------------------- PROPPATCH values


def infoset(elem: ET.Element) -> Any:
    """What RFC 4918 §4.3 says must be preserved, as a comparable value."""
    return (
        elem.tag,
        sorted(elem.attrib.items()),
        elem.text or "",
        [(infoset(child), child.tail or "") for child in elem],
    )


def set_body(prop_xml: str, set_attrs: str = "") -> bytes:
    return (
        f"{XML_DECL}<D:propertyupdate xmlns:D='DAV:'><D:set{set_attrs}><D:prop>{prop_xml}"
        "</D:prop></D:set></D:propertyupdate>"
    ).encode()


# (property element as sent, expected Clark name, expected value_xml)
VALUES = {
    "simple": (f"<prop0 xmlns='{NS}'>value0</prop0>", f"{{{NS}}}prop0", None),
    "litmus-propvalnspace": (
        f"<t:valnspace xmlns:t='{NS}'><foo xmlns='http://bar'/></t:valnspace>",
        f"{{{NS}}}valnspace",
        f'<ns0:valnspace xmlns:ns0="{NS}" xmlns:ns1="http://bar"><ns1:foo/></ns0:valnspace>',
    ),
    "litmus-prophighunicode": (
        f"<high-unicode xmlns='{NS}'>&#65536;</high-unicode>",
        f"{{{NS}}}high-unicode",
        f'<ns0:high-unicode xmlns:ns0="{NS}">\U00010000</ns0:high-unicode>',
    ),
    "literal-astral-utf8": ("<z:m xmlns:z='urn:z'>\U0001f600 \U0001d11e</z:m>", "{urn:z}m", None),
    "litmus-propnullns": (
        '<nonamespace xmlns="">randomvalue</nonamespace>',
        "{}nonamespace",
        '<nonamespace xmlns="">randomvalue</nonamespace>',
    ),
    "null-ns-children": ("<a xmlns=''><b>1</b><c/></a>", "{}a", None),
    "dav-namespace-property": (
        "<D:displayname>Caf\u00e9 &amp; co</D:displayname>",
        "{DAV:}displayname",
        '<D:displayname xmlns:D="DAV:">Caf\u00e9 &amp; co</D:displayname>',
    ),
    "empty": ("<z:e xmlns:z='urn:z'/>", "{urn:z}e", '<ns0:e xmlns:ns0="urn:z"/>'),
    "mixed-content-attributes": (
        "<z:doc xmlns:z='urn:z' xmlns:q='urn:q' z:kind='k' plain='p &amp; &quot;q&quot;'>"
        "  lead <z:b q:x='1'>bold<D:href>/x</D:href></z:b> mid <q:i/>tail\n"
        "  <z:deep><z:deeper><z:deepest>x</z:deepest></z:deeper></z:deep></z:doc>",
        "{urn:z}doc",
        None,
    ),
    "xml-lang-on-property": (
        "<z:t xmlns:z='urn:z' xml:lang='en-GB'>colour<z:s xml:lang='fr'>couleur</z:s></z:t>",
        "{urn:z}t",
        '<ns0:t xmlns:ns0="urn:z" xml:lang="en-GB">colour<ns0:s xml:lang="fr">couleur</ns0:s>'
        "</ns0:t>",
    ),
    "specials": (
        "<z:s xmlns:z='urn:z' a='&#10;&#9;&#13; &lt;&gt;&apos;'>]]&gt; &lt;&amp;&#13;\r\n</z:s>",
        "{urn:z}s",
        '<ns0:s xmlns:ns0="urn:z" a="&#10;&#9;&#13; &lt;&gt;&apos;">]]&gt; &lt;&amp;&#13;\n'
        "</ns0:s>",
    ),
    "prefix-reuse-and-redeclare": (
        "<p:a xmlns:p='urn:1'><p:b xmlns:p='urn:2'><p:c/></p:b><x xmlns='urn:1'/></p:a>",
        "{urn:1}a",
        '<ns0:a xmlns:ns0="urn:1" xmlns:ns1="urn:2"><ns1:b><ns1:c/></ns1:b><ns0:x/></ns0:a>',
    ),
    "mixed-null-and-default-ns": (
        "<a xmlns='urn:d'><b xmlns=''><c xmlns='urn:d'/></b></a>",
        "{urn:d}a",
        '<ns0:a xmlns:ns0="urn:d" xmlns=""><b><ns0:c/></b></ns0:a>',
    ),
}

# Embedding contexts that would break a fragment relying on outer declarations.
EMBEDS = [
    '<D:multistatus xmlns:D="DAV:"><D:prop>{}</D:prop></D:multistatus>',
    '<multistatus xmlns="DAV:" xmlns:ns0="urn:clash"><prop>{}</prop></multistatus>',
    '<X:multistatus xmlns:X="DAV:" xmlns:D="urn:not-dav"><X:prop>{}</X:prop></X:multistatus>',
]


@pytest.mark.parametrize(("prop_xml", "name", "value_xml"), VALUES.values(), ids=VALUES.keys())
def test_proppatch_value_round_trips(prop_xml: str, name: str, value_xml: str | None) -> None:
    body = set_body(prop_xml)
    (update,) = parse_proppatch(body)
    assert isinstance(update, PropSet)
    assert update.name == name
    if value_xml is not None:
        assert update.value_xml == value_xml
    assert not update.value_xml.startswith("<?xml")
    original = ET.fromstring(body).find("{DAV:}set/{DAV:}prop/*")
    assert original is not None
    assert infoset(ET.fromstring(update.value_xml)) == infoset(original)
    for embed in EMBEDS:
        outer = ET.fromstring(embed.format(update.value_xml))
        (embedded,) = list(next(iter(outer)))
        assert infoset(embedded) == infoset(original)


@pytest.mark.parametrize(
    ("set_attrs", "prop_xml", "expected_lang"),
    [
        (" xml:lang='de'", "<z:v xmlns:z='urn:z'>Farbe</z:v>", "de"),
        (" xml:lang='de'", "<z:v xmlns:z='urn:z' xml:lang='fr'>couleur</z:v>", "fr"),
        ("", "<z:v xmlns:z='urn:z'>color</z:v>", None),
    ],
    ids=["inherited", "own-wins", "none"],
)
def test_proppatch_value_keeps_xml_lang_in_scope(
    set_attrs: str, prop_xml: str, expected_lang: str | None
) -> None:
    (update,) = parse_proppatch(set_body(prop_xml, set_attrs))
    assert isinstance(update, PropSet)
    assert ET.fromstring(update.value_xml).get(XML_LANG) == expected_lang


def test_proppatch_deep_value_does_not_recurse() -> None:
    depth = 5000
    prop_xml = "<z:n xmlns:z='urn:z'>" * depth + "leaf" + "</z:n>" * depth
    (update,) = parse_proppatch(set_body(prop_xml))
    assert isinstance(update, PropSet)
    assert update.value_xml.count("<ns0:n") == depth
    assert "leaf" in update.value_xml


_XML_CHARS = st.characters(exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff")


@given(st.text(_XML_CHARS | st.sampled_from("\t\n\r&<>\"']")), st.text(_XML_CHARS))
def test_proppatch_text_and_attribute_round_trip(text: str, attr: str) -> None:
    prop = f'<z:p xmlns:z="urn:z" a="{escape_attr(attr)}">{escape_text(text)}</z:p>'
    (update,) = parse_proppatch(set_body(prop))
    assert isinstance(update, PropSet)
    reparsed = ET.fromstring(update.value_xml)
    assert (reparsed.text or "", reparsed.get("a")) == (text, attr)


# ----------------------------------------------------------------- PROPPATCH structure


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (  # litmus propremoveset: document order
            (
                f"{XML_DECL}<propertyupdate xmlns='DAV:'>"
                f"<remove><prop><removeset xmlns='{NS}'/></prop></remove>"
                f"<set><prop><removeset xmlns='{NS}'>x</removeset></prop></set>"
                f"<set><prop><removeset xmlns='{NS}'>y</removeset></prop></set>"
                "</propertyupdate>"
            ).encode(),
            (
                PropRemove(f"{{{NS}}}removeset"),
                PropSet(f"{{{NS}}}removeset", f'<ns0:removeset xmlns:ns0="{NS}">x</ns0:removeset>'),
                PropSet(f"{{{NS}}}removeset", f'<ns0:removeset xmlns:ns0="{NS}">y</ns0:removeset>'),
            ),
        ),
        (  # several properties per prop, several props per instruction, unknowns ignored
            b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><Z:junk/>'
            b"<D:set><D:prop><Z:a>1</Z:a><Z:b/></D:prop><D:prop><Z:c/></D:prop></D:set>"
            b'<D:remove x="y"><D:prop><Z:d/><e xmlns=""/></D:prop></D:remove>'
            b"</D:propertyupdate>",
            (
                PropSet("{urn:z}a", '<ns0:a xmlns:ns0="urn:z">1</ns0:a>'),
                PropSet("{urn:z}b", '<ns0:b xmlns:ns0="urn:z"/>'),
                PropSet("{urn:z}c", '<ns0:c xmlns:ns0="urn:z"/>'),
                PropRemove("{urn:z}d"),
                PropRemove("{}e"),
            ),
        ),
    ],
)
def test_parse_proppatch(body: bytes, expected: tuple[PropSet | PropRemove, ...]) -> None:
    assert parse_proppatch(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"  \n",
        b'<D:propertyupdate xmlns:D="DAV:"/>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:foo/></D:propertyupdate>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:set/></D:propertyupdate>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:remove><x/></D:remove></D:propertyupdate>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop/></D:set></D:propertyupdate>',
        b'<D:propertyupdate xmlns:D="DAV:"><D:set><D:prop><a/></D:prop></D:set>'
        b"<D:remove><D:prop/></D:remove></D:propertyupdate>",
    ],
    ids=[
        "empty",
        "whitespace",
        "no-instructions",
        "unknown-only",
        "set-without-prop",
        "remove-without-prop",
        "empty-prop",
        "second-instruction-empty",
    ],
)
def test_parse_proppatch_rejects(body: bytes) -> None:
    with pytest.raises(DAVError) as info:
        parse_proppatch(body)
    assert info.value.status == 400


# ----------------------------------------------------------------- LOCK


def lockinfo(scope: str, owner: str = "", attrs: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8" ?><D:lockinfo xmlns:D="DAV:"{attrs}>'
        f"<D:lockscope><D:{scope}/></D:lockscope><D:locktype><D:write/></D:locktype>{owner}"
        "</D:lockinfo>"
    ).encode()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", None),
        (b"\r\n", None),
        (lockinfo("exclusive"), LockInfo("exclusive", None)),
        (lockinfo("shared"), LockInfo("shared", None)),
        (
            lockinfo(
                "shared", "<D:owner><D:href>http://example.org/~ejw/contact.html</D:href></D:owner>"
            ),
            LockInfo(
                "shared",
                '<D:owner xmlns:D="DAV:"><D:href>http://example.org/~ejw/contact.html</D:href>'
                "</D:owner>",
            ),
        ),
        (
            lockinfo("exclusive", "<D:owner>litmus test suite</D:owner>", " xml:lang='en'"),
            LockInfo(
                "exclusive", '<D:owner xmlns:D="DAV:" xml:lang="en">litmus test suite</D:owner>'
            ),
        ),
        (
            lockinfo("exclusive", "<D:owner><o:who xmlns:o='urn:o' o:id='7'>me</o:who></D:owner>"),
            LockInfo(
                "exclusive",
                '<D:owner xmlns:D="DAV:" xmlns:ns0="urn:o"><ns0:who ns0:id="7">me</ns0:who>'
                "</D:owner>",
            ),
        ),
        (  # order irrelevant, unknown children ignored (RFC 4918 §17)
            b'<lockinfo xmlns="DAV:"><owner/><x xmlns="urn:x"/><locktype><write/><y/></locktype>'
            b"<lockscope><shared/></lockscope></lockinfo>",
            LockInfo("shared", '<D:owner xmlns:D="DAV:"/>'),
        ),
    ],
)
def test_parse_lockinfo(body: bytes, expected: LockInfo | None) -> None:
    assert parse_lockinfo(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        b'<D:lockinfo xmlns:D="DAV:"><D:locktype><D:write/></D:locktype></D:lockinfo>',
        b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:shared/></D:lockscope></D:lockinfo>',
        lockinfo("exclusive").replace(b"<D:write/>", b'<x:read xmlns:x="urn:x"/>'),
        lockinfo("exclusive").replace(b"<D:write/>", b""),
        lockinfo("bogus"),
        lockinfo("exclusive").replace(b"<D:exclusive/>", b"<D:exclusive/><D:shared/>"),
        lockinfo("shared", "<D:lockscope><D:shared/></D:lockscope>"),
        lockinfo("shared", "<D:owner>a</D:owner><D:owner>b</D:owner>"),
    ],
    ids=[
        "no-lockscope",
        "no-locktype",
        "locktype-not-write",
        "locktype-empty",
        "unknown-scope",
        "both-scopes",
        "two-lockscopes",
        "two-owners",
    ],
)
def test_parse_lockinfo_rejects(body: bytes) -> None:
    with pytest.raises(DAVError) as info:
        parse_lockinfo(body)
    assert info.value.status == 400


# ----------------------------------------------------------------- BIND / UNBIND / REBIND

HREF = "http://www.example.com/CollX/foo.html"


@pytest.mark.parametrize(
    ("parser", "body", "expected"),
    [
        (
            parse_bind,
            f'<D:bind xmlns:D="DAV:"><D:segment>bar.html</D:segment><D:href>{HREF}</D:href>'
            "</D:bind>",
            BindRequest("bar.html", HREF),
        ),
        (
            parse_bind,
            '<bind xmlns="DAV:"><href> /CollX/foo.html\n</href><x:y xmlns:x="urn:x"/>'
            "<segment>\n  a%20b.html </segment></bind>",
            BindRequest("a%20b.html", "/CollX/foo.html"),
        ),
        (
            parse_unbind,
            '<D:unbind xmlns:D="DAV:"><D:segment>foo.html</D:segment></D:unbind>',
            UnbindRequest("foo.html"),
        ),
        (
            parse_unbind,
            '<D:unbind xmlns:D="DAV:"><D:href>/ignored</D:href><D:segment> r\u00e9sum\u00e9 '
            "</D:segment></D:unbind>",
            UnbindRequest("r\u00e9sum\u00e9"),
        ),
        (
            parse_rebind,
            '<D:rebind xmlns:D="DAV:"><D:segment>foo.html</D:segment>'
            "<D:href>http://www.example.com/CollX/bar.html</D:href></D:rebind>",
            RebindRequest("foo.html", "http://www.example.com/CollX/bar.html"),
        ),
        (
            parse_rebind,
            '<D:rebind xmlns:D="DAV:"><D:href>/a/b</D:href><D:segment>c</D:segment></D:rebind>',
            RebindRequest("c", "/a/b"),
        ),
    ],
    ids=["bind", "bind-swapped", "unbind", "unbind-extra-href", "rebind", "rebind-swapped"],
)
def test_parse_binding_bodies(
    parser: Callable[[bytes], object], body: str, expected: object
) -> None:
    assert parser(body.encode()) == expected


@pytest.mark.parametrize(
    ("parser", "body", "expected"),
    [
        (
            parse_bind,
            f'<D:bind xmlns:D="DAV:"><D:segment/><D:href>{HREF}</D:href></D:bind>',
            BindRequest("", HREF),
        ),
        (
            parse_unbind,
            '<D:unbind xmlns:D="DAV:"><D:segment>\n</D:segment></D:unbind>',
            UnbindRequest(""),
        ),
    ],
    ids=["bind-empty-segment", "unbind-blank-segment"],
)
def test_empty_segment_is_left_to_name_allowed(
    parser: Callable[[bytes], object], body: str, expected: object
) -> None:
    """A present but empty segment parses; the server answers it with 403
    ``DAV:name-allowed`` (B-4-P5), a missing one is a 400 (B-4-6)."""
    assert parser(body.encode()) == expected


@pytest.mark.parametrize(
    ("parser", "body"),
    [
        (parse_bind, f'<D:bind xmlns:D="DAV:"><D:href>{HREF}</D:href></D:bind>'),
        (parse_bind, '<D:bind xmlns:D="DAV:"><D:segment>a</D:segment></D:bind>'),
        (parse_bind, '<D:bind xmlns:D="DAV:"><D:segment>a</D:segment><D:href> </D:href></D:bind>'),
        (
            parse_bind,
            '<D:bind xmlns:D="DAV:"><D:segment>a</D:segment><D:segment>b</D:segment>'
            "<D:href>/x</D:href></D:bind>",
        ),
        (parse_bind, '<D:bind xmlns:D="DAV:"><segment>a</segment><href>/x</href></D:bind>'),
        (parse_bind, ""),
        (parse_unbind, '<D:unbind xmlns:D="DAV:"/>'),
        (parse_unbind, '<D:bind xmlns:D="DAV:"><D:segment>a</D:segment></D:bind>'),
        (parse_rebind, '<D:rebind xmlns:D="DAV:"><D:href>/a/b</D:href></D:rebind>'),
        (parse_rebind, '<D:rebind xmlns:D="DAV:"><D:segment>c</D:segment><D:href/></D:rebind>'),
        (parse_rebind, '<D:rebind xmlns:D="DAV:"><D:segment>c</D:segment></D:rebind>'),
    ],
    ids=[
        "bind-missing-segment",
        "bind-missing-href",
        "bind-blank-href",
        "bind-two-segments",
        "bind-children-not-dav",
        "bind-empty-body",
        "unbind-missing-segment",
        "unbind-given-bind",
        "rebind-missing-segment",
        "rebind-empty-href",
        "rebind-missing-href",
    ],
)
def test_parse_binding_bodies_reject(parser: Callable[[bytes], object], body: str) -> None:
    with pytest.raises(DAVError) as info:
        parser(body.encode())
    assert info.value.status == 400
    assert info.value.message


# ----------------------------------------------------------------- MKCOL

EXTENDED_MKCOL = (
    b'<?xml version="1.0" encoding="utf-8" ?><D:mkcol xmlns:D="DAV:" xmlns:E="urn:e">'
    b"<D:set><D:prop><D:resourcetype><D:collection/><E:calendar/></D:resourcetype>"
    b"<D:displayname>Lisa's Events</D:displayname></D:prop></D:set>"
    b"<D:set xml:lang='en'><D:prop><E:note>hi</E:note></D:prop></D:set><E:junk/></D:mkcol>"
)


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        (b"", None, MkcolRequest(())),
        (b"", "text/plain", MkcolRequest(())),
        (b'<D:mkcol xmlns:D="DAV:"/>', "text/xml", MkcolRequest(())),
        (
            EXTENDED_MKCOL,
            "Application/XML; charset=utf-8",
            MkcolRequest(
                (
                    PropSet(
                        "{DAV:}resourcetype",
                        '<D:resourcetype xmlns:D="DAV:" xmlns:ns0="urn:e"><D:collection/>'
                        "<ns0:calendar/></D:resourcetype>",
                    ),
                    PropSet(
                        "{DAV:}displayname",
                        '<D:displayname xmlns:D="DAV:">Lisa\'s Events</D:displayname>',
                    ),
                    PropSet(
                        "{urn:e}note", '<ns0:note xmlns:ns0="urn:e" xml:lang="en">hi</ns0:note>'
                    ),
                )
            ),
        ),
    ],
    ids=["empty", "empty-any-type", "no-set", "extended"],
)
def test_parse_mkcol(body: bytes, content_type: str | None, expected: MkcolRequest) -> None:
    assert parse_mkcol(body, content_type) == expected


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"afafafaf", "xzy-foo/bar-512", 415),  # litmus mkcol_with_body
        (b"afafafaf", None, 415),
        (EXTENDED_MKCOL, None, 415),
        (EXTENDED_MKCOL, "application/octet-stream", 415),
        (EXTENDED_MKCOL, "application/xml-dtd", 415),
        (b'<D:propertyupdate xmlns:D="DAV:"/>', "application/xml", 415),
        (b"<mkcol/>", "text/xml", 415),
        (b"afafafaf", "application/xml", 400),
        (b" ", "application/xml", 400),
        (b'<D:mkcol xmlns:D="DAV:"><D:set/></D:mkcol>', "application/xml", 400),
        (b'<D:mkcol xmlns:D="DAV:"><D:set><D:prop/></D:set></D:mkcol>', "text/xml", 400),
        (HOSTILE["billion-laughs"], "application/xml", 403),
        (HOSTILE["billion-laughs"], "text/plain", 415),
    ],
)
def test_parse_mkcol_rejects(body: bytes, content_type: str | None, status: int) -> None:
    with pytest.raises(DAVError) as info:
        parse_mkcol(body, content_type)
    assert info.value.status == status


# ----------------------------------------------------------------- writers


@pytest.mark.parametrize(
    ("raw", "text", "attr"),
    [
        ("", "", ""),
        ("plain", "plain", "plain"),
        ("a&b<c>d", "a&amp;b&lt;c&gt;d", "a&amp;b&lt;c&gt;d"),
        ("]]>", "]]&gt;", "]]&gt;"),
        ("say \"hi\" 'x'", "say \"hi\" 'x'", "say &quot;hi&quot; &apos;x&apos;"),
        ("a\tb\nc\rd", "a\tb\nc&#13;d", "a&#9;b&#10;c&#13;d"),
        ("&amp;", "&amp;amp;", "&amp;amp;"),
        (
            "\U00010000\u00e9\ue000\ufffd",
            "\U00010000\u00e9\ue000\ufffd",
            "\U00010000\u00e9\ue000\ufffd",
        ),
    ],
)
def test_escape(raw: str, text: str, attr: str) -> None:
    assert escape_text(raw) == text
    assert escape_attr(raw) == attr
    assert (ET.fromstring(f"<x>{text}</x>").text or "") == raw
    assert ET.fromstring(f'<x a="{attr}"/>').get("a") == raw
    assert ET.fromstring(f"<x a='{attr}'/>").get("a") == raw


@pytest.mark.parametrize(
    "bad", ["\x00", "a\x01", "\x0b", "\x1f", "\ud800", "\udfff", "\ufffe", "\uffff"]
)
@pytest.mark.parametrize("escape", [escape_text, escape_attr])
def test_escape_rejects_chars_xml_cannot_carry(escape: Callable[[str], str], bad: str) -> None:
    with pytest.raises(ValueError, match=r"XML 1\.0"):
        escape(bad)


@pytest.mark.parametrize(
    ("name", "inner", "expected"),
    [
        ("{DAV:}getetag", '"abc"', '<D:getetag>"abc"</D:getetag>'),
        ("{DAV:}collection", "", "<D:collection/>"),
        ("{urn:z}color", "red", '<ns0:color xmlns:ns0="urn:z">red</ns0:color>'),
        ("{urn:z}color", "", '<ns0:color xmlns:ns0="urn:z"/>'),
        ('{http://x/?a=1&b="2"}p', "", '<ns0:p xmlns:ns0="http://x/?a=1&amp;b=&quot;2&quot;"/>'),
        ("{}x", "v", '<x xmlns="">v</x>'),
        ("{}x", "", '<x xmlns=""/>'),
    ],
)
def test_element_xml(name: str, inner: str, expected: str) -> None:
    assert element_xml(name, inner) == expected
    outer = ET.fromstring(
        f'<D:prop xmlns:D="DAV:" xmlns="urn:default" xmlns:ns0="urn:clash">{expected}</D:prop>'
    )
    assert outer[0].tag == (name[2:] if name.startswith("{}") else name)


@pytest.mark.parametrize("name", ["getetag", "{DAV:}", "{DAV:getetag", ""])
def test_element_xml_rejects_non_clark_names(name: str) -> None:
    with pytest.raises(ValueError, match="Clark"):
        element_xml(name)


def test_element_xml_nests_value_fragments() -> None:
    (update,) = parse_proppatch(set_body("<a xmlns=''>1</a>"))
    assert isinstance(update, PropSet)
    doc = element_xml("{DAV:}prop", update.value_xml + element_xml("{urn:q}b"))
    outer = ET.fromstring(f'<D:multistatus xmlns:D="DAV:" xmlns="urn:d">{doc}</D:multistatus>')
    assert [child.tag for child in outer[0]] == ["a", "{urn:q}b"]
