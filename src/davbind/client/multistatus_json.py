"""Reading davbind's JSON form of a multistatus (``Accept: application/json``), into the
same :class:`~davbind.client.multistatus.Response` values the XML parser gives.

The rule kept here: a JSON answer and the XML answer to the same PROPFIND read as equal
``Response`` values, so ``listing.fold_responses`` gives equal listings from both.  Each
typed value is turned back into the element the XML form carries (and parsed by the
same code, ``multistatus.element_value``): ``getcontentlength`` 14 reads as "14", an
RFC 3339 ``getlastmodified`` as its IMF-fixdate (RFC 9110 §5.6.7), ``resourcetype``,
``supportedlock``, ``lockdiscovery``, ``resource-id`` and ``parent-set`` as their
elements, a dead property (``{"text", "xml"}``) as its stored element, parsed with the
hardened parser.  The answer is read incrementally: each entry becomes a ``Response`` as
soon as its closing brace arrives, so memory holds one entry at a time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from xml.etree.ElementTree import Element, tostring

from davbind.client.errors import ProtocolError, TruncatedResponse
from davbind.client.multistatus import (
    PropStat,
    PropValue,
    Response,
    element_value,
    parse_parent_set,
    small_tree,
)
from davbind.protocol.xmlbody import escape_text

CONTENT_TYPE = "application/json"
_HEAD = '{"responses":['
_DECODER = json.JSONDecoder()
_WHITE = " \t\r\n"


def is_json(content_type: str | None) -> bool:
    """Is this the media type of the JSON form (or of a problem document)?"""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media in ("application/json", "application/problem+json")


def _xml_value(name: str, xml: str) -> PropValue:
    root = small_tree(xml.encode())
    if root is None or root.tag != name:
        raise ProtocolError(f"{name}: its XML value is not a {name} element")
    return element_value(root)


def _element(name: str, inner: str) -> PropValue:
    local = name[len("{DAV:}") :]
    if not inner:
        return PropValue("")
    return _xml_value(name, f'<D:{local} xmlns:D="DAV:">{inner}</D:{local}>')


def _href(text: str) -> str:
    return f"<D:href>{escape_text(text)}</D:href>"


def _activelock(lock: Mapping[str, Any]) -> str:
    owner = lock.get("owner")
    token = lock.get("token")
    return (
        "<D:activelock>"
        f"<D:locktype><D:{lock['type']}/></D:locktype>"
        f"<D:lockscope><D:{lock['scope']}/></D:lockscope>"
        f"<D:depth>{escape_text(str(lock['depth']))}</D:depth>"
        f"{owner['xml'] if owner else ''}"
        f"<D:timeout>Second-{int(lock['timeout'])}</D:timeout>"
        f"{f'<D:locktoken>{_href(token)}</D:locktoken>' if token else ''}"
        f"<D:lockroot>{_href(lock['root'])}</D:lockroot>"
        "</D:activelock>"
    )


def _http_date(text: str) -> str:
    stamp = datetime.fromisoformat(text)
    return format_datetime(stamp.astimezone(UTC), usegmt=True)


def _typename(name: str) -> str:
    """A ``resourcetype`` entry: a DAV: local name, or a Clark name."""
    if name.startswith("{"):
        ns, local = name[1:].split("}", 1)
        return f'<x:{local} xmlns:x="{escape_text(ns)}"/>'
    return f"<D:{name}/>"


def value(name: str, raw: Any) -> PropValue:
    """The ``PropValue`` the XML form gives for property ``name`` with JSON value ``raw``."""
    if isinstance(raw, dict) and "xml" in raw:  # a dead property
        return _xml_value(name, raw["xml"])
    if name == "{DAV:}getlastmodified" and isinstance(raw, str):
        return PropValue(_http_date(raw))
    if isinstance(raw, bool) or raw is None:
        raise ProtocolError(f"{name}: unexpected JSON value {raw!r}")
    if name == "{DAV:}resource-id" and isinstance(raw, str):  # RFC 5842 §3.1: an href
        return _element(name, _href(raw))
    if isinstance(raw, (str, int, float)):
        return PropValue(str(raw))
    if name == "{DAV:}resourcetype":
        return _element(name, "".join(_typename(t) for t in raw))
    if name == "{DAV:}supportedlock":
        return _element(name, "".join(
            f"<D:lockentry><D:lockscope><D:{e['scope']}/></D:lockscope>"
            f"<D:locktype><D:{e['type']}/></D:locktype></D:lockentry>" for e in raw))  # fmt: skip
    if name == "{DAV:}lockdiscovery":
        return _element(name, "".join(_activelock(lk) for lk in raw))
    if name == "{DAV:}parent-set":
        return _element(name, "".join(
            f"<D:parent>{_href(p['href'])}<D:segment>{escape_text(p['segment'])}</D:segment>"
            "</D:parent>" for p in raw))  # fmt: skip
    raise ProtocolError(f"{name}: no XML form for JSON value {raw!r}")


def entry_response(item: Mapping[str, Any]) -> Response:
    """One JSON entry as the ``Response`` its XML ``<D:response>`` reads as."""
    try:
        hrefs = (str(item["href"]),)
        status = int(item["status"])
        if "props" not in item and "propnames" not in item:  # the status form (508)
            return Response(hrefs, status)
        if "propnames" in item:
            found = {n: PropValue("") for n in item["propnames"]}
        else:
            found = {n: value(n, v) for n, v in item["props"].items()}
        missing = {n: PropValue("") for n in item.get("missing", ())}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ProtocolError(f"malformed JSON listing entry: {exc!r}") from exc
    stats = []
    if found or not missing or status != 200:  # the XML form's choice (server/render.py)
        stats.append(PropStat(status, found))
    if missing:
        stats.append(PropStat(404, missing))
    return Response(hrefs, None, tuple(stats))


class JsonMultistatusParser:
    """Incremental reader of the JSON form: ``feed()`` chunks, get finished responses.

    davbind writes ``{"responses":[`` then the entries separated by commas and ``]}``;
    each entry is decoded as soon as it is whole.  Any other layout of a valid JSON
    document is read whole at ``close()``."""

    description = ""
    sync_token: str | None = None

    def __init__(self) -> None:
        self._buf = ""
        self._bytes = b""
        self._started = False
        self._done = False
        self._whole: list[str] | None = None  # another layout: kept for close()

    def feed(self, data: bytes) -> list[Response]:
        self._bytes += data
        try:
            text = self._bytes.decode()
            self._bytes = b""
        except UnicodeDecodeError:  # a character split between chunks
            cut = len(self._bytes) - 3
            text, self._bytes = self._bytes[:cut].decode("utf-8", "replace"), self._bytes[cut:]
        if self._whole is not None:
            self._whole.append(text)
            return []
        self._buf += text
        return self._drain()

    def _drain(self) -> list[Response]:
        out: list[Response] = []
        buf = self._buf.lstrip(_WHITE)
        if not self._started:
            if len(buf) < len(_HEAD):
                self._buf = buf
                return out
            if not buf.startswith(_HEAD):
                self._whole = [buf]
                self._buf = ""
                return out
            self._started = True
            buf = buf[len(_HEAD) :]
        pos = 0
        while not self._done:
            while pos < len(buf) and buf[pos] in _WHITE + ",":
                pos += 1
            if pos < len(buf) and buf[pos] == "]":
                self._done = True
                pos += 1
                break
            try:
                item, end = _DECODER.raw_decode(buf, pos)
            except json.JSONDecodeError:
                break  # not whole yet
            out.append(entry_response(item))
            pos = end
        self._buf = buf[pos:]
        return out

    def close(self) -> list[Response]:
        if self._whole is not None:
            try:
                doc = json.loads("".join(self._whole) + self._bytes.decode("utf-8", "replace"))
                items = doc["responses"]
            except (ValueError, KeyError, TypeError) as exc:
                raise ProtocolError(f"JSON multistatus is malformed: {exc}") from exc
            return [entry_response(i) for i in items]
        if not self._done or self._buf.strip(_WHITE) != "}":
            raise TruncatedResponse("JSON multistatus body ends before its last ']}'")
        return []


def problem_details(body: bytes) -> tuple[tuple[str, ...], str] | None:
    """(condition names, message) of an RFC 9457 problem document, None if not one."""
    try:
        doc = json.loads(body[: 256 * 1024])
    except ValueError:
        return None
    if not isinstance(doc, dict):
        return None
    conditions = doc.get("dav:conditions") or [
        doc[k] for k in ("dav:precondition", "dav:postcondition") if k in doc
    ]
    message = doc.get("detail") or doc.get("title") or ""
    return tuple(str(c) for c in conditions), str(message).strip()[:500]


# ------------------------------------------------------------------ the other way round


def _local(tag: str) -> str:
    return tag[len("{DAV:}") :] if tag.startswith("{DAV:}") else tag


def _first_child(elem: Element | None) -> str:
    return _local(elem[0].tag) if elem is not None and len(elem) else ""


def _xml_form(name: str, prop: PropValue) -> dict[str, str]:
    """The documented ``{"text", "xml"}`` form of a value kept as XML."""
    if prop.xml is not None:
        return {"text": prop.text, "xml": prop.xml}
    ns, _, local = name[1:].partition("}") if name.startswith("{") else ("", "", name)
    decl = f' xmlns:x="{escape_text(ns)}"' if ns else ""
    tag = f"x:{local}" if ns else local
    return {"text": prop.text, "xml": f"<{tag}{decl}>{escape_text(prop.text)}</{tag}>"}


def _timeout(text: str) -> int:
    seconds = text.strip().removeprefix("Second-")
    return int(seconds) if seconds.isdigit() else 0


def _lock(lock: Element) -> dict[str, Any]:
    owner = lock.find("{DAV:}owner")
    item: dict[str, Any] = {
        "scope": _first_child(lock.find("{DAV:}lockscope")),
        "type": _first_child(lock.find("{DAV:}locktype")),
        "depth": (lock.findtext("{DAV:}depth") or "").strip(),
        "owner": None if owner is None else {
            "text": "".join(owner.itertext()).strip(),
            "xml": tostring(owner, encoding="unicode").strip(),
        },
        "timeout": _timeout(lock.findtext("{DAV:}timeout") or ""),
        "root": (lock.findtext("{DAV:}lockroot/{DAV:}href") or "").strip(),
    }  # fmt: skip
    token = lock.findtext("{DAV:}locktoken/{DAV:}href")
    if token:
        item["token"] = token.strip()
    return item


def typed(name: str, prop: PropValue) -> Any:
    """The JSON value (``json_schema.LISTING``) of a property as read from either form:
    the inverse of :func:`value`, for ``davbind ls/tree/info --json``."""
    elem = prop.element
    if name == "{DAV:}getcontentlength" and prop.text.strip().isdigit():
        return int(prop.text)
    if name == "{DAV:}getlastmodified":
        try:
            stamp = parsedate_to_datetime(prop.text)
        except (TypeError, ValueError):
            return prop.text
        return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if name == "{DAV:}resourcetype":
        return [_local(c) for c in prop.children]
    if name == "{DAV:}resource-id":
        return prop.hrefs[0] if prop.hrefs else prop.text
    if name == "{DAV:}supportedlock":
        return [{"scope": _first_child(e.find("{DAV:}lockscope")),
                 "type": _first_child(e.find("{DAV:}locktype"))}
                for e in (elem.iter("{DAV:}lockentry") if elem is not None else ())]  # fmt: skip
    if name == "{DAV:}lockdiscovery":
        return [_lock(lk) for lk in (elem.iter("{DAV:}activelock") if elem is not None else ())]
    if name == "{DAV:}parent-set":
        return [{"href": p.href, "segment": p.segment} for p in parse_parent_set(prop)]
    if name in _TEXT_PROPS:
        return prop.text
    return _xml_form(name, prop)


_TEXT_PROPS = frozenset(
    "{DAV:}" + n for n in ("creationdate", "getetag", "getcontenttype", "displayname")
)
