"""The JSON Schemas (draft 2020-12) of davbind's JSON bodies (decision D-3), and the GET
that serves them.

``LISTING`` describes a PROPFIND answer in JSON (``propfind_json``), ``ERROR`` a problem
document (``problem``, RFC 9457).  They are served at ``SCHEMA_PATH`` + ``listing.json``
/ ``error.json`` (``/.well-known/davbind/schema/``, RFC 8615 well-known URIs) as
``application/schema+json``; ``docs/json-schema/`` holds the same text (a test keeps
the two equal).  Those URLs answer GET and HEAD only; every other method, and every
other path, is the store's.
"""

from __future__ import annotations

import json
from typing import Any

from davbind.protocol.errors import DAVError
from davbind.server.http import Request, Response
from davbind.server.services import Services

SCHEMA_PATH = "/.well-known/davbind/schema/"
_SEGMENTS = (".well-known", "davbind", "schema")
CONTENT_TYPE = "application/schema+json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

_DATE = {
    "type": "string",
    "description": "RFC 3339 date-time, UTC",
    "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$",
}
_CLARK = r"^(\{[^{}]*\})?[^{}]+$"
_URN = {"type": "string", "pattern": "^urn:uuid:[0-9a-f-]{36}$"}
_NAMES = {"type": "array", "items": {"type": "string", "pattern": _CLARK}}


def _object(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props,
            "additionalProperties": False}  # fmt: skip


_XML_VALUE = _object(
    ["text", "xml"],
    text={"type": "string", "description": "the character data of the element"},
    xml={"type": "string", "description": "the element as stored, namespaces declared"},
)
_ACTIVELOCK = _object(
    ["scope", "type", "depth", "owner", "timeout", "root"],
    scope={"enum": ["exclusive", "shared"]},
    type={"const": "write"},
    depth={"enum": ["0", "infinity"]},
    owner={"oneOf": [{"type": "null"}, {"$ref": "#/$defs/xml_value"}]},
    timeout={"type": "integer", "minimum": 0, "description": "seconds left"},
    token={"type": "string", "description": "the lock token (RFC 4918 §6.5)"},
    root={"type": "string", "description": "href of the lock root"},
)
_LIVE = {
    "{DAV:}creationdate": _DATE,
    "{DAV:}getlastmodified": _DATE,
    "{DAV:}getcontentlength": {"type": "integer", "minimum": 0},
    "{DAV:}getcontenttype": {"type": "string"},
    "{DAV:}getetag": {"type": "string", "description": "the entity tag, quotes included"},
    "{DAV:}displayname": {"type": "string"},
    "{DAV:}resourcetype": {
        "type": "array", "uniqueItems": True,
        "items": {"type": "string", "description": "local name in DAV:, else Clark name"},
    },
    "{DAV:}supportedlock": {
        "type": "array",
        "items": _object(["scope", "type"], scope={"enum": ["exclusive", "shared"]},
                         type={"const": "write"}),
    },
    "{DAV:}lockdiscovery": {"type": "array", "items": {"$ref": "#/$defs/activelock"}},
    "{DAV:}resource-id": _URN,
    "{DAV:}parent-set": {
        "type": "array",
        "items": _object(["href", "segment"], href={"type": "string"},
                         segment={"type": "string"}),
    },
}  # fmt: skip

_HREFS = {"type": "array", "items": {"type": "string"}}
_BODY = [{"required": ["props"]}, {"required": ["propnames"]}]
_WHEN_208 = {
    "if": {"properties": {"status": {"const": 208}}},
    "then": {"required": ["first_reported_at"]},
}
_WHEN_FOUND = {
    "if": {"properties": {"status": {"enum": [200, 208]}}},
    "then": {"required": ["collection"], "oneOf": _BODY},
    "else": {"not": {"anyOf": _BODY}},
}
_ENTRY: dict[str, Any] = {
    **_object(
        ["href", "status"],
        href={"type": "string"},
        status={"enum": [200, 208, 508]},
        resource_id=_URN,
        collection={"type": "boolean"},
        props={"$ref": "#/$defs/props"},
        propnames=_NAMES,
        missing=_NAMES,
        first_reported_at={
            "type": "string", "description": "208: href of the earlier entry for this resource",
        },
        aliases={**_HREFS, "description": "client fold only: the resource's other hrefs"},
        loops={**_HREFS, "description": "client fold only: aliases on a binding loop"},
        paths={**_HREFS, "description": "davbind info only: every path to the resource"},
    ),
    "allOf": [_WHEN_208, _WHEN_FOUND],
}

LISTING: dict[str, Any] = {
    "$schema": DRAFT,
    "$id": SCHEMA_PATH + "listing.json",
    "title": "davbind PROPFIND answer in JSON",
    **_object(["responses"], responses={"type": "array", "items": {"$ref": "#/$defs/entry"}}),
    "$defs": {
        "entry": _ENTRY,
        "props": {
            "type": "object",
            "properties": _LIVE,
            "propertyNames": {"pattern": _CLARK},
            "additionalProperties": {"$ref": "#/$defs/xml_value"},
        },
        "xml_value": _XML_VALUE,
        "activelock": _ACTIVELOCK,
    },
}

_CONDITION = {"type": "string", "pattern": r"^[A-Za-z_][\w.-]*$"}
ERROR: dict[str, Any] = {
    "$schema": DRAFT,
    "$id": SCHEMA_PATH + "error.json",
    "title": "davbind error: an RFC 9457 problem document",
    **_object(
        ["type", "title", "status", "detail"],
        type={"type": "string"},
        title={"type": "string"},
        status={"type": "integer", "minimum": 400, "maximum": 599},
        detail={"type": "string"},
        **{
            "dav:precondition": _CONDITION,
            "dav:postcondition": _CONDITION,
            "dav:conditions": {"type": "array", "items": _CONDITION, "minItems": 1},
            "dav:hrefs": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "dav:loop-binding": {"type": "string"},
        },
    ),
}

SCHEMAS = {"listing.json": LISTING, "error.json": ERROR}


def text(name: str) -> str:
    """The served (and documented) text of one schema."""
    return json.dumps(SCHEMAS[name], indent=2, ensure_ascii=False) + "\n"


def is_schema_path(segments: tuple[str, ...]) -> bool:
    return segments[:3] == _SEGMENTS and len(segments) == 4


async def get(services: Services, request: Request) -> Response:
    """GET/HEAD of a schema under ``SCHEMA_PATH`` (``wellknown.get`` routes here)."""
    segs = request.segments
    if segs[3] not in SCHEMAS:
        raise DAVError(404, f"no schema named {segs[3]!r}; there are {', '.join(SCHEMAS)}")
    body = text(segs[3]).encode()
    headers = [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))),
               ("Cache-Control", "max-age=3600")]  # fmt: skip
    return Response(200, headers, body)
