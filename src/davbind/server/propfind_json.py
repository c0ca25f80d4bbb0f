"""A JSON rendering of a PROPFIND multistatus, for clients that send
``Accept: application/json`` (davbind extension; the XML form is RFC 4918 §13).

Same entries in the same order as the XML form, streamed the same way::

    {"responses": [
      {"href": "/Coll/", "status": 200, "resource_id": "urn:uuid:…", "collection": true,
       "props": {"{DAV:}displayname": "Loop Demo", "{DAV:}resourcetype": "<D:resourcetype>…"},
       "missing": ["{DAV:}getcontentlength"]},
      {"href": "/Coll/Bar/", "status": 208, …}]}

A property whose value is plain text maps to that text; a structured value maps to its
XML fragment (``D`` is ``DAV:``).  ``status`` is 200, 208 (RFC 5842 §7.1) or, for a loop
met mid-stream, 508.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

from davbind.protocol.paths import href
from davbind.storage.model import Resource

CONTENT_TYPE = "application/json"
START = '{"responses":['
END = "]}\n"


def _value(fragment: str) -> tuple[str, str]:
    """(Clark name, value) of one serialised property element."""
    elem = ET.fromstring(f'<w xmlns:D="DAV:">{fragment}</w>')[0]
    if len(elem) == 0:
        return elem.tag, elem.text or ""
    return elem.tag, fragment


def entry(
    href_: str,
    resource: Resource,
    found: list[str],
    missing: list[str],
    status: int,
    minimal: bool,
) -> str:
    props = dict(_value(f) for f in found)
    item: dict[str, object] = {
        "href": href_,
        "status": status,
        "resource_id": resource.rid,
        "collection": resource.is_collection,
        "props": props,
    }
    if missing and not minimal:
        item["missing"] = missing
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))


def loop_entry(segments: tuple[str, ...]) -> str:
    return json.dumps({"href": href(segments, True), "status": 508})
