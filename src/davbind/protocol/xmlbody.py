"""Request-body parsing into frozen dataclasses, and the small XML writers they need.

What it holds: one parser per WebDAV request body — PROPFIND (RFC 4918 §9.1, §14.20),
PROPPATCH (§9.2, §14.19), LOCK (§9.10, §14.13), extended MKCOL (RFC 5689 §3, with the
RFC 4918 §9.3 / §8.4 415 rule), BIND / UNBIND / REBIND (RFC 5842 §4, §5, §6) — plus
``escape_text``, ``escape_attr`` and ``element_xml`` for writers of response bodies.

The rules it keeps:

- Untrusted XML goes through defusedxml with DTDs, entity declarations and external
  references all forbidden. Any DOCTYPE fails at its first token, before any entity is
  expanded, as 403 with ``DAV:no-external-entities`` (RFC 4918 §16, §20.6).
- Not well-formed XML (including namespace errors such as ``xmlns:p=""``, which XML
  Namespaces 1.0 forbids), a wrong root element or a missing required child is 400
  (RFC 4918 §8.2; we use 400 rather than 422 for well-formed but wrong bodies, B-4-6).
- Unknown elements and attributes are ignored and order does not matter unless the RFC
  says so (RFC 4918 §17).
- Property names are Clark names ``"{namespace}local"``; a name in no namespace is
  ``"{}local"``, so every name starts with ``"{"``.
- Property values and lock owners are kept as self-contained XML fragments: the element
  re-serialised with every namespace it uses declared on itself and an ``xml:lang`` in
  scope copied onto it, so they can be embedded verbatim in any ``<D:prop>`` and keep the
  infoset RFC 4918 §4.3 requires (names, attributes, element and character children).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal, cast
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as _defused
from defusedxml import DefusedXmlException

from davbind.protocol.errors import DAVError

_DAV = "{DAV:}"
_XML_NS = "http://www.w3.org/XML/1998/namespace"
_XML_LANG = "{" + _XML_NS + "}lang"
_PROP = _DAV + "prop"
_SET = _DAV + "set"
_REMOVE = _DAV + "remove"
_PROPFIND_MODES = frozenset({_PROP, _DAV + "allprop", _DAV + "propname"})
_XML_MEDIA_TYPES = frozenset({"application/xml", "text/xml"})
_SCOPES: dict[str, Literal["exclusive", "shared"]] = {
    _DAV + "exclusive": "exclusive",
    _DAV + "shared": "shared",
}


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class PropfindRequest:
    """A parsed PROPFIND body (RFC 4918 §9.1, §14.20)."""

    kind: Literal["allprop", "propname", "prop"]
    names: tuple[str, ...] = ()  # kind == "prop": Clark names, document order, no duplicates
    include: tuple[str, ...] = ()  # kind == "allprop": the <D:include> names


@dataclass(frozen=True, slots=True)
class PropSet:
    """Set one property; ``value_xml`` is the whole property element as a fragment."""

    name: str
    value_xml: str


@dataclass(frozen=True, slots=True)
class PropRemove:
    """Remove one property (RFC 4918 §14.23)."""

    name: str


@dataclass(frozen=True, slots=True)
class LockInfo:
    """A LOCK request body (RFC 4918 §14.13); only write locks exist (§14.15)."""

    scope: Literal["exclusive", "shared"]
    owner_xml: str | None  # the whole <D:owner> element as a fragment (§14.17)


@dataclass(frozen=True, slots=True)
class BindRequest:
    """RFC 5842 §4: bind ``segment`` in the Request-URI collection to ``href``."""

    segment: str
    href: str


@dataclass(frozen=True, slots=True)
class UnbindRequest:
    """RFC 5842 §5: remove the binding ``segment`` from the Request-URI collection."""

    segment: str


@dataclass(frozen=True, slots=True)
class RebindRequest:
    """RFC 5842 §6: move the binding ``href`` to ``segment`` in the Request-URI collection."""

    segment: str
    href: str


@dataclass(frozen=True, slots=True)
class MkcolRequest:
    """An extended MKCOL body (RFC 5689 §3); ``props`` empty for a plain MKCOL."""

    props: tuple[PropSet, ...]


# --------------------------------------------------------------------------- writers

# XML 1.0 §2.2 Char: everything else below U+10FFFF that is not one of these is legal.
_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _check_chars(s: str) -> None:
    bad = _ILLEGAL_CHARS.search(s)
    if bad is not None:
        raise ValueError(f"character U+{ord(bad.group()):04X} cannot appear in XML 1.0")


def escape_text(s: str) -> str:
    """Escape character data; ``\\r`` becomes ``&#13;`` so it survives re-parsing.

    Raises ValueError for a character XML 1.0 cannot carry at all (e.g. U+0001):
    silently dropping it would change the data.
    """
    _check_chars(s)
    if "&" in s:
        s = s.replace("&", "&amp;")
    if "<" in s:
        s = s.replace("<", "&lt;")
    if ">" in s:
        s = s.replace(">", "&gt;")
    if "\r" in s:
        s = s.replace("\r", "&#13;")
    return s


def escape_attr(s: str) -> str:
    """Escape an attribute value for either quote style; whitespace other than the
    space is written as a character reference so attribute normalisation keeps it."""
    s = escape_text(s)
    if '"' in s:
        s = s.replace('"', "&quot;")
    if "'" in s:
        s = s.replace("'", "&apos;")
    if "\n" in s:
        s = s.replace("\n", "&#10;")
    if "\t" in s:
        s = s.replace("\t", "&#9;")
    return s


def _split(clark: str) -> tuple[str, str]:
    if clark.startswith("{"):
        ns, sep, local = clark[1:].partition("}")
        if sep and local:
            return ns, local
        raise ValueError(f"not a Clark name: {clark!r}")
    return "", clark


@lru_cache(maxsize=2048)
def _tags(name: str) -> tuple[str, str, str]:
    """(start tag, end tag, empty-element tag) for a Clark name, as ``element_xml`` uses."""
    if not name.startswith("{"):
        raise ValueError(f"not a Clark name: {name!r}")
    ns, local = _split(name)
    if ns == "DAV:":
        return f"<D:{local}>", f"</D:{local}>", f"<D:{local}/>"
    if ns == "":
        return f'<{local} xmlns="">', f"</{local}>", f'<{local} xmlns=""/>'
    decl = f'ns0:{local} xmlns:ns0="{escape_attr(ns)}"'
    return f"<{decl}>", f"</ns0:{local}>", f"<{decl}/>"


def element_xml(name: str, inner_xml: str = "") -> str:
    """Render an element by Clark name around already-serialised ``inner_xml``.

    ``DAV:`` names use the ``D`` prefix, which the enclosing document declares; any
    other namespace (and the empty one) is declared on the element itself.
    """
    start, end, empty = _tags(name)
    return f"{start}{inner_xml}{end}" if inner_xml else empty


def _fragment(root: Element[str], lang: str | None) -> str:
    """Serialise ``root`` as a standalone fragment (see the module docstring).

    Iterative, so a deeply nested value cannot exhaust the Python stack.
    """
    prefixes: dict[str, str] = {}
    needs_empty_default = False
    for elem in root.iter():
        ns = _split(elem.tag)[0]
        if ns == "":
            needs_empty_default = True
        names = [elem.tag, *elem.attrib] if elem.attrib else [elem.tag]
        for key in names:
            ns = _split(key)[0]
            if ns and ns != _XML_NS and ns not in prefixes:
                prefixes[ns] = "D" if ns == "DAV:" else f"ns{len(prefixes) - ('DAV:' in prefixes)}"

    qnames: dict[str, str] = {}

    def qname(clark: str) -> str:
        q = qnames.get(clark)
        if q is None:
            ns, local = _split(clark)
            if ns == "":
                q = local
            elif ns == _XML_NS:
                q = "xml:" + local
            else:
                q = f"{prefixes[ns]}:{local}"
            qnames[clark] = q
        return q

    out: list[str] = []
    stack: list[tuple[Element[str], bool]] = [(root, True)]
    while stack:
        elem, opening = stack.pop()
        if opening:
            out.append("<" + qname(elem.tag))
            if elem is root:
                out.extend(f' xmlns:{p}="{escape_attr(ns)}"' for ns, p in prefixes.items())
                if needs_empty_default:
                    out.append(' xmlns=""')
                if lang is not None and _XML_LANG not in elem.attrib:
                    out.append(f' xml:lang="{escape_attr(lang)}"')
            for key, value in elem.attrib.items():
                out.append(f' {qname(key)}="{escape_attr(value)}"')
            if len(elem) or elem.text:
                out.append(">")
                if elem.text:
                    out.append(escape_text(elem.text))
                stack.append((elem, False))
                stack.extend((child, True) for child in reversed(elem))
                continue
            out.append("/>")
        else:
            out.append(f"</{qname(elem.tag)}>")
        if elem is not root and elem.tail:
            out.append(escape_text(elem.tail))
    return "".join(out)


# --------------------------------------------------------------------------- parsing


def _parse(body: bytes) -> Element[str]:
    try:
        root = _defused.fromstring(
            body, forbid_dtd=True, forbid_entities=True, forbid_external=True
        )
    except DefusedXmlException as exc:
        raise DAVError(
            403,
            f"DTDs and entity declarations are not accepted in request bodies ({exc!r})",
            ("no-external-entities",),
        ) from exc
    except (ParseError, ValueError, LookupError) as exc:
        raise DAVError(400, f"request body is not well-formed XML: {exc}") from exc
    return cast("Element[str]", root)


def _show(clark: str) -> str:
    ns, local = _split(clark)
    return f"<D:{local}>" if ns == "DAV:" else f"<{local} xmlns={ns!r}>"


def _parse_root(body: bytes, name: str) -> Element[str]:
    root = _parse(body)
    if root.tag != name:
        raise DAVError(400, f"request body must be {_show(name)}, not {_show(root.tag)}")
    return root


def _one(parent: Element[str], name: str) -> Element[str]:
    found = [child for child in parent if child.tag == name]
    if len(found) != 1:
        what = "has no" if not found else "has more than one"
        raise DAVError(400, f"{_show(parent.tag)} {what} {_show(name)} element")
    return found[0]


def _clark(tag: str) -> str:
    return tag if tag.startswith("{") else "{}" + tag


def _dedupe(names: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def _properties(
    instruction: Element[str], lang: str | None
) -> list[tuple[Element[str], str | None]]:
    """The property elements of every <D:prop> in a set/remove, with the xml:lang in scope."""
    lang = instruction.get(_XML_LANG, lang)
    props = [child for child in instruction if child.tag == _PROP]
    if not props:
        raise DAVError(400, f"{_show(instruction.tag)} has no <D:prop> element")
    found: list[tuple[Element[str], str | None]] = []
    for prop in props:
        if len(prop) == 0:
            raise DAVError(400, f"<D:prop> inside {_show(instruction.tag)} names no property")
        prop_lang = prop.get(_XML_LANG, lang)
        found.extend((child, prop_lang) for child in prop)
    return found


def parse_propfind(body: bytes) -> PropfindRequest:
    """PROPFIND body (RFC 4918 §9.1, §14.20); an empty body means allprop."""
    if not body.strip():
        return PropfindRequest("allprop")
    root = _parse_root(body, _DAV + "propfind")
    modes = [child for child in root if child.tag in _PROPFIND_MODES]
    if len(modes) != 1:
        raise DAVError(
            400, "<D:propfind> must contain exactly one of <D:prop>, <D:allprop>, <D:propname>"
        )
    mode = modes[0]
    if mode.tag == _PROP:
        return PropfindRequest("prop", names=_dedupe([_clark(c.tag) for c in mode]))
    if mode.tag == _DAV + "propname":
        return PropfindRequest("propname")
    # <D:include> is meaningful only beside <D:allprop> (§14.8); elsewhere it is ignored.
    include = [_clark(c.tag) for inc in root if inc.tag == _DAV + "include" for c in inc]
    return PropfindRequest("allprop", include=_dedupe(include))


def parse_proppatch(body: bytes) -> tuple[PropSet | PropRemove, ...]:
    """PROPPATCH body (RFC 4918 §9.2, §14.19): set/remove instructions in document order."""
    if not body.strip():
        raise DAVError(400, "PROPPATCH requires a <D:propertyupdate> body")
    root = _parse_root(body, _DAV + "propertyupdate")
    lang = root.get(_XML_LANG)
    updates: list[PropSet | PropRemove] = []
    for instruction in root:
        if instruction.tag == _SET:
            updates.extend(
                PropSet(_clark(p.tag), _fragment(p, p_lang))
                for p, p_lang in _properties(instruction, lang)
            )
        elif instruction.tag == _REMOVE:
            updates.extend(PropRemove(_clark(p.tag)) for p, _ in _properties(instruction, lang))
    if not updates:
        raise DAVError(400, "<D:propertyupdate> contains no <D:set> or <D:remove>")
    return tuple(updates)


def parse_lockinfo(body: bytes) -> LockInfo | None:
    """LOCK body (RFC 4918 §9.10, §14.13); an empty body (a refresh) gives None."""
    if not body.strip():
        return None
    root = _parse_root(body, _DAV + "lockinfo")
    scopes = [c.tag for c in _one(root, _DAV + "lockscope") if c.tag in _SCOPES]
    if len(scopes) != 1:
        raise DAVError(400, "<D:lockscope> must hold exactly one of <D:exclusive>, <D:shared>")
    if not any(c.tag == _DAV + "write" for c in _one(root, _DAV + "locktype")):
        raise DAVError(400, "<D:locktype> must be <D:write>, the only lock type (RFC 4918 §7)")
    owners = [child for child in root if child.tag == _DAV + "owner"]
    if len(owners) > 1:
        raise DAVError(400, "<D:lockinfo> has more than one <D:owner> element")
    owner_xml = _fragment(owners[0], root.get(_XML_LANG)) if owners else None
    return LockInfo(_SCOPES[scopes[0]], owner_xml)


def _text_of(parent: Element[str], name: str) -> str:
    text = "".join(_one(parent, name).itertext()).strip()
    if not text:
        raise DAVError(400, f"{_show(name)} in {_show(parent.tag)} is empty")
    return text


def _segment_of(parent: Element[str]) -> str:
    """A present but empty ``<D:segment/>`` is returned as "": refusing it is the
    ``DAV:name-allowed`` precondition's job (403, B-4-P5), not a parse error."""
    return "".join(_one(parent, _DAV + "segment").itertext()).strip()


def parse_bind(body: bytes) -> BindRequest:
    """BIND body (RFC 5842 §4): ``<D:bind>`` with segment and href, in either order."""
    root = _parse_root(body, _DAV + "bind")
    return BindRequest(_segment_of(root), _text_of(root, _DAV + "href"))


def parse_unbind(body: bytes) -> UnbindRequest:
    """UNBIND body (RFC 5842 §5): ``<D:unbind>`` with a segment."""
    root = _parse_root(body, _DAV + "unbind")
    return UnbindRequest(_segment_of(root))


def parse_rebind(body: bytes) -> RebindRequest:
    """REBIND body (RFC 5842 §6): ``<D:rebind>`` with segment and href, in either order."""
    root = _parse_root(body, _DAV + "rebind")
    return RebindRequest(_segment_of(root), _text_of(root, _DAV + "href"))


def parse_mkcol(body: bytes, content_type: str | None) -> MkcolRequest:
    """MKCOL body: none, or RFC 5689 ``<D:mkcol>``; any other body is 415 (RFC 4918 §9.3).

    A ``<D:mkcol>`` without ``<D:set>`` sets nothing (lenient, as RFC 4918 §17 asks).
    """
    if not body:
        return MkcolRequest(())
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type not in _XML_MEDIA_TYPES:
        raise DAVError(415, f"MKCOL accepts only an XML <D:mkcol> body, not {media_type!r}")
    root = _parse(body)
    if root.tag != _DAV + "mkcol":
        raise DAVError(415, f"MKCOL body must be <D:mkcol> (RFC 5689), not {_show(root.tag)}")
    lang = root.get(_XML_LANG)
    props = [
        PropSet(_clark(p.tag), _fragment(p, p_lang))
        for instruction in root
        if instruction.tag == _SET
        for p, p_lang in _properties(instruction, lang)
    ]
    return MkcolRequest(tuple(props))
