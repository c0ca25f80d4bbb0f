"""Errors as RFC 9457 problem documents, for clients that accept JSON (decision D-3).

A request whose ``Accept`` names ``application/json`` or ``application/problem+json``
(with a non-zero quality) gets every 4xx/5xx as ``application/problem+json``::

    {"type": "about:blank", "title": "Forbidden", "status": 403,
     "detail": "binding would create a cycle", "dav:precondition": "cycle-allowed"}

``title`` is the status phrase (RFC 9457 §4.2.1, ``about:blank``), ``detail`` the human
message, ``dav:precondition`` or ``dav:postcondition`` the name of the first condition
element the XML ``<D:error>`` body would carry (RFC 4918 §16, RFC 5842 §4-§6),
``dav:conditions`` all of them, ``dav:hrefs`` the hrefs the first condition holds (lock
roots for ``lock-token-submitted``); a 508 names the binding that closes the loop in
``dav:loop-binding``.  The schema is ``json_schema.ERROR``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from davbind.protocol.errors import REASONS, DAVError
from davbind.server.propfind_json import ENCODER

CONTENT_TYPE = "application/problem+json"
_JSON_TYPES = ("application/json", "application/problem+json")

POSTCONDITIONS = frozenset({
    "preserved-live-properties",  # RFC 4918 §16
    "new-binding",  # RFC 5842 §4, §6
    "lost-binding",  # RFC 5842 §6
})  # fmt: skip
"""Condition names that RFC 4918 / RFC 5842 define as postconditions; any other is a
precondition."""


def wants_json(accept: str | None) -> bool:
    """Does an ``Accept`` header value (RFC 9110 §12.5.1) name a JSON type with q > 0?"""
    if not accept or "json" not in accept:
        return False
    for item in accept.split(","):
        media, _, params = item.partition(";")
        if media.strip().lower() not in _JSON_TYPES:
            continue
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality > 0:
            return True
    return False


def accepts_json(scope: Mapping[str, Any]) -> bool:
    """``wants_json`` of an ASGI request's ``Accept`` header(s), read from the scope
    itself (an error may come before a ``Request`` exists)."""
    values = [v.decode("latin-1") for k, v in scope.get("headers", ()) if k == b"accept"]
    return wants_json(", ".join(values))


def document(err: DAVError) -> bytes:
    """The problem document of ``err``."""
    doc: dict[str, object] = {
        "type": "about:blank",
        "title": REASONS.get(err.status, "Error"),
        "status": err.status,
        "detail": err.message or REASONS.get(err.status, "Error"),
    }
    if err.conditions:
        first = err.conditions[0]
        kind = "dav:postcondition" if first in POSTCONDITIONS else "dav:precondition"
        doc[kind] = first
        doc["dav:conditions"] = list(err.conditions)
    if err.hrefs:
        doc["dav:hrefs"] = list(err.hrefs)
        if err.status == 508:
            doc["dav:loop-binding"] = err.hrefs[0]
    return (ENCODER.encode(doc) + "\n").encode()
