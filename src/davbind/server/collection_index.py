"""The HTML page a browser gets for GET on a collection (RFC 4918 §9.4 leaves the answer
to the server).

The page lists the collection's members in segment order (code points, as a listing
does) with their size and last-modification time, and links to each by its absolute
href.  It is produced in chunks of about 256 KiB over one read snapshot
(``StorageThreads.stream``), so memory stays flat and no thread is held however many
members there are.

The page carries no script, and its headers forbid any (``Content-Security-Policy``
allowing nothing but the inline style) and content sniffing: member names are chosen by
whoever stores them, and must never run script in the server's origin.  Every name and
href is HTML-escaped; hrefs are percent-encoded as in a multistatus (RFC 4918 §8.3.1).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from dataclasses import dataclass

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import encode_segment, href
from davbind.server import http_conditions
from davbind.server.access import PathAccess
from davbind.server.http import Request
from davbind.server.liveprops import iso_date
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import Resource

HEADERS = (
    ("Content-Type", "text/html; charset=utf-8"),
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'"),
    ("X-Content-Type-Options", "nosniff"),
)
"""Header fields of every index page (module doc)."""

FLUSH = 256 * 1024
"""Bytes of page text per chunk sent."""

_STYLE = (
    "body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:64em;padding:0 1em;"
    "color:#222;background:#fff}"
    "h1{font-size:1.3em;font-weight:600;word-break:break-all}"
    "h1 a{text-decoration:none}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{padding:.25em .6em;text-align:left;border-bottom:1px solid #e4e4e4}"
    "th{font-weight:600;border-bottom:2px solid #ccc}"
    "td.n{word-break:break-all}"
    "td.s,th.s{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "td.m{white-space:nowrap;font-variant-numeric:tabular-nums;color:#555}"
    "a{color:#0645ad}"
    "tr:hover td{background:#f6f8fa}"
    "p.c{color:#666;font-size:.9em}"
    "@media (prefers-color-scheme:dark){body{color:#ddd;background:#161616}"
    "a{color:#8ab4f8}td.m,p.c{color:#aaa}th,td{border-color:#333}tr:hover td{background:#222}}"
)

_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$()*+,;=:@]*")
"""A segment that ``encode_segment`` leaves as it is and that holds no character HTML
text or a double-quoted attribute must escape."""

_UNITS = ("KiB", "MiB", "GiB", "TiB", "PiB")


def human_size(size: int) -> str:
    """``size`` bytes for a reader: "512 B", "1.5 KiB", "20 MiB" (three figures at most)."""
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in _UNITS:
        value /= 1024
        if value < 1024 or unit == _UNITS[-1]:
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


@dataclass(frozen=True, slots=True)
class Head:
    """What decides the status and header fields: the collection as this snapshot shows
    it, and False when the conditional headers ask for 304."""

    resource: Resource
    fresh: bool


def start(txn: Txn, request: Request) -> tuple[Head, Iterator[bytes]]:
    """For ``StorageThreads.stream``: find the collection again in this snapshot, check
    the conditional headers (RFC 9110 §13.2.2) and return the page's chunks (none for a
    304).  The caller found a collection at that URL in an earlier snapshot; one that is
    gone or became a file since is answered as such (404, 409)."""
    paths = PathAccess(txn, request.access)
    resource = locate(txn, request.segments, paths).readable()
    if not resource.is_collection:
        raise DAVError(409, "the collection was replaced by a file while it was being read")
    if not http_conditions.check(request, resource, safe=True):
        return Head(resource, False), iter(())
    members = paths.filtered(request.segments, txn.members(resource.key))
    return Head(resource, True), page(request.segments, members)


def page(segments: tuple[str, ...], batches: Iterator[list[tuple[str, Resource]]],
         ) -> Iterator[bytes]:  # fmt: skip
    """The index page of the collection at ``segments`` with members ``batches`` (as
    ``Txn.members`` gives them), in chunks of about ``FLUSH`` bytes."""
    base = href(segments, True)
    title = html.escape("/" + "".join(s + "/" for s in segments))  # decoded: for a person
    buf = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>Index of {title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Index of {_breadcrumbs(segments)}</h1>"
        "<table><thead><tr><th>Name</th><th class=\"s\">Size</th>"
        "<th>Last modified (UTC)</th></tr></thead><tbody>"
    ]
    if segments:
        parent = html.escape(href(segments[:-1], True), quote=True)
        buf.append(f"<tr><td class=\"n\"><a href=\"{parent}\">../</a></td><td></td><td></td></tr>")
    size = sum(map(len, buf))
    count = 0
    base = html.escape(base, quote=True)
    for batch in batches:
        count += len(batch)
        for seg, res in batch:
            if _PLAIN.fullmatch(seg):  # the common case: nothing to encode or escape
                link = name = seg
            else:
                link = html.escape(encode_segment(seg), quote=True)
                name = html.escape(seg)
            if res.is_collection:
                row = (f"<tr><td class=\"n\"><a href=\"{base}{link}/\">{name}/</a></td>"
                       "<td class=\"s\">—</td>")  # fmt: skip
            else:
                row = (f"<tr><td class=\"n\"><a href=\"{base}{link}\">{name}</a></td>"
                       f"<td class=\"s\" title=\"{res.size} bytes\">{human_size(res.size)}</td>")
            stamp = iso_date(res.modified)  # e.g. 2024-05-01T12:34:56Z
            row += (f"<td class=\"m\"><time datetime=\"{stamp}\">{stamp[:10]} {stamp[11:19]}"
                    "</time></td></tr>")
            buf.append(row)
            size += len(row)
        if size >= FLUSH:
            yield "".join(buf).encode()
            buf, size = [], 0
    members = "1 member" if count == 1 else f"{count} members"
    buf.append(f"</tbody></table><p class=\"c\">{members}</p></body></html>\n")
    yield "".join(buf).encode()


CRUMBS = 16
"""Ancestors the heading links to; further up, the path is plain text (each link is as
long as the path, and a page's size must not grow with the square of its depth)."""


def _breadcrumbs(segments: tuple[str, ...]) -> str:
    """The collection's path, the nearest ancestors (and the root) links to their own
    index pages."""
    parts = ["<a href=\"/\">/</a>"]
    linked_from = max(0, len(segments) - CRUMBS)
    if linked_from:
        parts.append(html.escape("".join(s + "/" for s in segments[:linked_from])))
    for i in range(linked_from, len(segments)):
        link = html.escape(href(segments[: i + 1], True), quote=True)
        parts.append(f"<a href=\"{link}\">{html.escape(segments[i])}/</a>")
    return "".join(parts)
