"""Multistatus and error bodies, written as text fragments (RFC 4918 §13, §14.16, §16).

The writer never holds a document: ``response()`` returns one ``<D:response>`` as text,
so a caller can stream a multistatus of any size.  Property elements arrive already
serialised (live properties render themselves, dead properties are stored as XML).
Every href in one multistatus uses the same form, absolute paths (RFC 4918 §8.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from davbind.protocol.errors import DAVError, status_line
from davbind.protocol.xmlbody import escape_text

START = '<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
END = "</D:multistatus>\n"
CONTENT_TYPE = 'application/xml; charset="utf-8"'


def propstat(status: int, props: Iterable[str], error: str = "") -> str:
    """One ``<D:propstat>``: serialised property elements plus a status (RFC 4918 §14.22)."""
    inner = "".join(props)
    prop = f"<D:prop>{inner}</D:prop>" if inner else "<D:prop/>"
    err = f"<D:error>{error}</D:error>" if error else ""
    return f"<D:propstat>{prop}<D:status>{status_line(status)}</D:status>{err}</D:propstat>"


def response(href: str, propstats: Sequence[str]) -> str:
    """A propstat-form ``<D:response>`` (RFC 4918 §14.24)."""
    return f"<D:response><D:href>{escape_text(href)}</D:href>{''.join(propstats)}</D:response>"


def status_response(href: str, status: int, error: str = "", description: str = "") -> str:
    """A status-form ``<D:response>`` for a whole resource (RFC 4918 §13)."""
    err = f"<D:error>{error}</D:error>" if error else ""
    desc = (
        f"<D:responsedescription>{escape_text(description)}</D:responsedescription>"
        if description
        else ""
    )
    return (
        f"<D:response><D:href>{escape_text(href)}</D:href>"
        f"<D:status>{status_line(status)}</D:status>{err}{desc}</D:response>"
    )


DAVBIND_PRIVILEGES = frozenset({"share"})
"""Privileges of davbind's own namespace (``urn:davbind``); the others are RFC 3744's."""


def _need_privileges(resource: str, privileges: tuple[str, ...]) -> str:
    """RFC 3744 §7.1.1: one ``<D:resource>`` (an href and a privilege) per privilege."""
    inner = []
    for name in privileges:
        element = (f'<m:{name} xmlns:m="urn:davbind"/>' if name in DAVBIND_PRIVILEGES
                   else f"<D:{name}/>")  # fmt: skip
        inner.append(f"<D:resource><D:href>{escape_text(resource)}</D:href>"
                     f"<D:privilege>{element}</D:privilege></D:resource>")  # fmt: skip
    return f"<D:need-privileges>{''.join(inner)}</D:need-privileges>"


def condition_xml(err: DAVError) -> str:
    """The condition elements of ``err`` (the first one carries the hrefs, RFC 4918 §16)."""
    parts = []
    for i, name in enumerate(err.conditions):
        hrefs = err.hrefs if i == 0 else ()
        if name == "need-privileges" and hrefs and err.privileges:
            parts.append(_need_privileges(hrefs[0], err.privileges))
        elif hrefs:
            inner = "".join(f"<D:href>{escape_text(h)}</D:href>" for h in hrefs)
            parts.append(f"<D:{name}>{inner}</D:{name}>")
        else:
            parts.append(f"<D:{name}/>")
    return "".join(parts)


def error_document(err: DAVError) -> bytes:
    """A standalone ``<D:error>`` body (RFC 4918 §16), with the message as a comment-free
    ``responsedescription``-like text node in davbind's namespace-free form."""
    desc = ""
    if err.message:
        desc = f'<m:message xmlns:m="urn:davbind">{escape_text(err.message)}</m:message>'
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        f'<D:error xmlns:D="DAV:">{condition_xml(err)}{desc}</D:error>\n'
    ).encode()
