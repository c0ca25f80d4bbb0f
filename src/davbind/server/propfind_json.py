"""The JSON form of a PROPFIND multistatus, for clients that accept ``application/json``
(a davbind extension, decision D-3; the XML form is RFC 4918 §13).  Its JSON Schema is
``server/json_schema.py``, served under ``/.well-known/davbind/schema/``.

Same entries in the same order as the XML form, streamed the same way::

    {"responses": [
      {"href": "/Coll/", "status": 200, "resource_id": "urn:uuid:…", "collection": true,
       "props": {"{DAV:}displayname": "Coll", "{DAV:}resourcetype": ["collection"], …}},
      {"href": "/Coll/Bar/", "status": 208, "first_reported_at": "/Coll/", …}]}

Every live property has a typed value (``Values``), built from the resource row and
never from its XML text: integers for sizes, RFC 3339 strings for both dates,
``resourcetype`` a list of type names, ``supportedlock`` and ``lockdiscovery`` lists of
objects, ``parent-set`` a list of ``{href, segment}``, ``resource-id`` the URN.  A dead
property is ``{"text": …, "xml": …}``: its character data and its element as stored
(namespace declarations included).  ``status`` is 200, 208 (RFC 5842 §7.1, with
``first_reported_at``: the href of the earlier entry for the same resource) or, for a
loop met mid-stream, 508.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence

from davbind.protocol.paths import href
from davbind.server.liveprops import iso_date
from davbind.server.lock_rules import lock_href
from davbind.storage.model import DeadProp, Lock, Resource

CONTENT_TYPE = "application/json"
START = '{"responses":['
END = "]}\n"

ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)
"""One encoder for every entry: building it per call costs more than small entries."""

Value = object
"""A JSON-ready property value (str, int, list, dict)."""

SUPPORTEDLOCK: list[dict[str, str]] = [
    {"scope": "exclusive", "type": "write"},
    {"scope": "shared", "type": "write"},
]
_COLLECTION = ["collection"]
_PLAIN: list[str] = []
_OCTETS = "application/octet-stream"


def row_values(r: Resource) -> tuple[Value | None, ...]:
    """The values of ``liveprops.ROW_NAMES`` for ``r`` (``None`` where undefined), in
    that order: creationdate, getcontentlength, getcontenttype, getetag,
    getlastmodified, resourcetype, supportedlock, resource-id."""
    if r.is_collection:
        return (iso_date(r.created), None, None, r.etag, iso_date(r.modified), _COLLECTION,
                SUPPORTEDLOCK, r.rid)  # fmt: skip
    return (iso_date(r.created), r.size, r.content_type or _OCTETS, r.etag,
            iso_date(r.modified), _PLAIN, SUPPORTEDLOCK, r.rid)  # fmt: skip


ROW_VALUES: dict[str, Callable[[Resource], Value | None]] = {
    "{DAV:}creationdate": lambda r: iso_date(r.created),
    "{DAV:}getcontentlength": lambda r: None if r.is_collection else r.size,
    "{DAV:}getcontenttype": lambda r: None if r.is_collection else r.content_type or _OCTETS,
    "{DAV:}getetag": lambda r: r.etag,
    "{DAV:}getlastmodified": lambda r: iso_date(r.modified),
    "{DAV:}resourcetype": lambda r: _COLLECTION if r.is_collection else _PLAIN,
    "{DAV:}supportedlock": lambda r: SUPPORTEDLOCK,
    "{DAV:}resource-id": lambda r: r.rid,
}
"""One value of ``row_values`` at a time: a listing of a few named properties computes
only those (a test compares the two)."""


def allprop_values(r: Resource) -> dict[str, Value]:
    """The allprop row properties of ``r`` as one dict (a listing's hot path; a test
    compares it with ``row_values``)."""
    if r.is_collection:
        return {
            "{DAV:}creationdate": iso_date(r.created),
            "{DAV:}getetag": r.etag,
            "{DAV:}getlastmodified": iso_date(r.modified),
            "{DAV:}resourcetype": _COLLECTION,
            "{DAV:}supportedlock": SUPPORTEDLOCK,
        }
    return {
        "{DAV:}creationdate": iso_date(r.created),
        "{DAV:}getcontentlength": r.size,
        "{DAV:}getcontenttype": r.content_type or _OCTETS,
        "{DAV:}getetag": r.etag,
        "{DAV:}getlastmodified": iso_date(r.modified),
        "{DAV:}resourcetype": _PLAIN,
        "{DAV:}supportedlock": SUPPORTEDLOCK,
    }


_enc = json.encoder.encode_basestring  # the C string encoder the ENCODER uses
_SUPPORTEDLOCK = ENCODER.encode(SUPPORTEDLOCK)
_D = "{DAV:}"


def allprop_text(href_: str, segment: str, r: Resource, lock: str) -> str:
    """The encoded entry of a member without dead properties in a plain allprop: the
    text ``ENCODER.encode(entry(…))`` gives for ``allprop_values`` + displayname +
    lockdiscovery (``lock``, already encoded), in one string operation (a listing's hot
    path; a test compares the two)."""
    head = f'{{"href":{_enc(href_)},"status":200,"resource_id":"{r.rid}","collection":'
    dates = f'"{_D}creationdate":"{iso_date(r.created)}"'
    tail = (f'"{_D}getetag":{_enc(r.etag)},"{_D}getlastmodified":"{iso_date(r.modified)}",'
            f'"{_D}resourcetype":')  # fmt: skip
    rest = (f'"{_D}supportedlock":{_SUPPORTEDLOCK},"{_D}displayname":{_enc(segment)},'
            f'"{_D}lockdiscovery":{lock}}}}}')  # fmt: skip
    if r.is_collection:
        return f'{head}true,"props":{{{dates},{tail}["collection"],{rest}'
    ctype = _enc(r.content_type or _OCTETS)
    return (f'{head}false,"props":{{{dates},"{_D}getcontentlength":{r.size},'
            f'"{_D}getcontenttype":{ctype},{tail}[],{rest}')  # fmt: skip


def _element(xml: str) -> ET.Element:
    return ET.fromstring(xml)


def xml_value(xml: str) -> dict[str, str]:
    """The documented form of a value kept as XML (a dead property, a lock owner):
    its character data and the element itself."""
    try:
        text = "".join(_element(xml).itertext())
    except ET.ParseError:  # stored by an older release without a declaration: keep it
        text = ""
    return {"text": text, "xml": xml}


def dead_value(prop: DeadProp) -> dict[str, str]:
    return xml_value(prop.xml)


def dead_displayname(prop: DeadProp) -> str:
    """A ``displayname`` set by PROPPATCH, as the string it reads as."""
    return xml_value(prop.xml)["text"]


def activelock(lock: Lock) -> dict[str, Value]:
    """One active lock (RFC 4918 §14.1): the same facts as the XML ``activelock``,
    the timeout in seconds; the lock token is shown, as RFC 4918 §6.5 allows."""
    item: dict[str, Value] = {
        "scope": "exclusive" if lock.exclusive else "shared",
        "type": "write",
        "depth": "infinity" if lock.infinite else "0",
        "owner": xml_value(lock.owner_xml) if lock.owner_xml else None,
        "timeout": max(0, int(lock.expires - time.time())),
        "token": lock.token,
        "root": lock_href(lock.root),
    }
    return item


def lockdiscovery(locks: Sequence[Lock]) -> list[dict[str, Value]]:
    return [activelock(lk) for lk in locks]


def parent_set(xml: str) -> list[dict[str, str]]:
    """``DAV:parent-set`` (RFC 5842 §3.2) from its rendered element: ``{href, segment}``
    per binding, the texts exactly as the XML form carries them (segment encoded)."""
    root = _element(f'<w xmlns:D="DAV:">{xml}</w>')
    return [
        {"href": p.findtext("{DAV:}href") or "", "segment": p.findtext("{DAV:}segment") or ""}
        for p in root.iter("{DAV:}parent")
    ]


_NO_LOCKS: list[object] = []
NO_LOCKS = _NO_LOCKS
"""The ``lockdiscovery`` of every member while no lock exists at all."""
_CONSTANTS = {id(_COLLECTION): '["collection"]', id(_PLAIN): "[]", id(_NO_LOCKS): "[]",
              id(SUPPORTEDLOCK): _SUPPORTEDLOCK}  # fmt: skip


_KEYS: dict[str, str] = {}


def _key(name: str) -> str:
    """The encoded ``"name":`` of a property (remembered: a listing repeats a few)."""
    key = _KEYS.get(name)
    if key is None:
        if len(_KEYS) >= 4096:
            _KEYS.clear()
        key = _KEYS[name] = _enc(name) + ":"
    return key


def _text(value: Value) -> str:
    """``ENCODER.encode(value)``, without the encoder for the common types."""
    cls = value.__class__
    if cls is str:
        return _enc(value)  # type: ignore[arg-type]  # the class is str exactly
    if cls is int:
        return str(value)
    const = _CONSTANTS.get(id(value))
    return const if const is not None else ENCODER.encode(value)


def entry_text(href_: str, resource: Resource, found: Sequence[tuple[str, Value]],
               missing: list[str], status: int, first: str | None) -> str:  # fmt: skip
    """One encoded response: ``href``, ``status``, ``resource_id``, ``collection``,
    ``props`` (``found``, in order), ``missing`` (names asked for but not defined: the
    XML 404 propstat; empty under ``Prefer: return=minimal``) and, for a 208,
    ``first_reported_at`` (the href of the entry that reported the resource first).
    The text ``ENCODER.encode`` gives for that object (a test compares the two), built
    from pre-encoded names: a listing's hot path."""
    keys = _KEYS
    props = ",".join([
        f"{keys.get(n) or _key(n)}{_enc(v) if v.__class__ is str else _text(v)}"
        for n, v in found
    ])  # fmt: skip
    coll = "true" if resource.is_collection else "false"
    text = (f'{{"href":{_enc(href_)},"status":{status},"resource_id":{_enc(resource.rid)},'
            f'"collection":{coll},"props":{{{props}}}')  # fmt: skip
    if missing:
        text += ',"missing":' + ENCODER.encode(missing)
    if first is not None:
        text += ',"first_reported_at":' + _enc(first)
    return text + "}"


def names_entry(href_: str, resource: Resource, names: list[str], status: int,
                first: str | None) -> dict[str, Value]:  # fmt: skip
    """A ``propname`` response (RFC 4918 §9.1): the names instead of ``props``."""
    item: dict[str, Value] = {"href": href_, "status": status, "resource_id": resource.rid,
                              "collection": resource.is_collection, "propnames": names}
    if first is not None:
        item["first_reported_at"] = first
    return item


def loop_entry(segments: tuple[str, ...]) -> str:
    """A loop met mid-stream (RFC 5842 §7.2): the entry's href is the binding that
    closes it."""
    return ENCODER.encode({"href": href(segments, True), "status": 508})
