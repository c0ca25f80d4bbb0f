"""Request builders and response interpreters shared by ``Client`` and ``AsyncClient``.

The rule kept here: the two clients only move bytes.  Everything about what to send
(method, headers, XML body) and what an answer means (success, typed error, lock token,
whether a failed Depth-infinity PROPFIND may be retried as a Depth-1 walk) is decided in
this module, once, without I/O.

RFC 4918 §9.1 (PROPFIND), §9.2 (PROPPATCH), §9.3 (MKCOL), §9.6 (DELETE), §9.7 (PUT),
§9.8/§9.9 (COPY/MOVE), §9.10/§9.11 (LOCK/UNLOCK), §10 (headers), §16 (errors);
RFC 5842 §4–§6 (BIND/UNBIND/REBIND bodies, each segment percent-encoded),
§8.2 (``DAV: bind`` request header).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from davbind.client.errors import ProtocolError, StatusError, status_error
from davbind.client.hrefs import last_segment, normalize_path, parent_href
from davbind.client.multistatus import Response, parse_error_body, parse_multistatus
from davbind.client.multistatus_json import is_json, problem_details
from davbind.protocol.headers import dav_request_classes
from davbind.protocol.paths import encode_segment
from davbind.protocol.xmlbody import element_xml, escape_text

DAV = "{DAV:}"
XML = 'application/xml; charset="utf-8"'
PROLOG = '<?xml version="1.0" encoding="utf-8"?>\n'

#: What ``ls``, ``propfind`` and ``walk`` ask for by default.
LIST_PROPS: tuple[str, ...] = tuple(
    DAV + n
    for n in (
        "resourcetype", "getcontentlength", "getetag", "getlastmodified",
        "getcontenttype", "displayname", "resource-id",
    )
)  # fmt: skip
#: Asked for on top of ``allprop`` by ``info`` (RFC 5842 §3: not in allprop).
INFO_INCLUDE: tuple[str, ...] = (DAV + "resource-id", DAV + "parent-set")

Depth = str  # "0", "1" or "infinity"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request to send, with the statuses that mean success."""

    method: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    expect: frozenset[int] = frozenset({200})


@dataclass(frozen=True, slots=True)
class LockToken:
    """A granted lock (RFC 4918 §9.10): its token, the URL it is rooted at, timeout."""

    token: str
    url: str
    timeout: str | None = None


def _if(lock_token: str | None) -> tuple[tuple[str, str], ...]:
    return (("If", f"(<{lock_token}>)"),) if lock_token else ()


def _overwrite(overwrite: bool) -> tuple[str, str]:
    return ("Overwrite", "T" if overwrite else "F")


ACCEPT_LISTING = "application/json, application/xml;q=0.9, text/xml;q=0.8"
"""What a PROPFIND accepts: davbind's JSON form first, the XML multistatus otherwise."""


def propfind_body(props: Sequence[str] | None, include: Sequence[str] = ()) -> bytes:
    """``<D:propfind>`` naming ``props``; ``None`` means ``allprop`` (+ ``include``)."""
    if props is None:
        inc = "".join(element_xml(n) for n in include)
        inner = "<D:allprop/>" + (f"<D:include>{inc}</D:include>" if inc else "")
    else:
        inner = "<D:prop>" + "".join(element_xml(n) for n in props) + "</D:prop>"
    return f'{PROLOG}<D:propfind xmlns:D="DAV:">{inner}</D:propfind>'.encode()


def propfind(
    url: str,
    depth: Depth,
    props: Sequence[str] | None = LIST_PROPS,
    *,
    include: Sequence[str] = (),
    bind: bool = True,
    prefer_json: bool = False,
) -> Request:
    """PROPFIND; ``bind`` sends ``DAV: bind`` so the server may answer 208 (RFC 5842 §8.2).
    ``prefer_json`` asks for JSON first (a davbind server answers in its JSON form,
    decision D-3; any other in XML): only for a caller that reads the answer by its
    Content-Type (``operations.Multistatus``)."""
    if depth not in ("0", "1", "infinity"):
        raise ValueError(f"depth must be '0', '1' or 'infinity', not {depth!r}")
    headers = [("Depth", depth), ("Content-Type", XML)]
    if prefer_json:
        headers.append(("Accept", ACCEPT_LISTING))
    if bind:
        headers.append(("DAV", "bind"))
    return Request("PROPFIND", url, tuple(headers), propfind_body(props, include), frozenset({207}))


def options(url: str) -> Request:
    return Request("OPTIONS", url, expect=frozenset({200, 204}))


def get(url: str, start: int | None = None, end: int | None = None) -> Request:
    """GET, optionally a byte range ``[start, end)`` (RFC 9110 §14.2)."""
    if start is None and end is None:
        return Request("GET", url)
    first = start or 0
    last = "" if end is None else str(end - 1)
    return Request("GET", url, (("Range", f"bytes={first}-{last}"),), expect=frozenset({200, 206}))


def put(
    url: str,
    *,
    content_type: str | None = None,
    size: int | None = None,
    overwrite: bool = True,
    lock_token: str | None = None,
) -> Request:
    """PUT headers; the body is streamed by the client (RFC 4918 §9.7)."""
    headers = [("Content-Type", content_type or "application/octet-stream")]
    if size is not None:
        headers.append(("Content-Length", str(size)))
    if not overwrite:
        headers.append(("If-None-Match", "*"))
    return Request("PUT", url, (*headers, *_if(lock_token)), expect=frozenset({200, 201, 204}))


def mkcol(url: str) -> Request:
    return Request("MKCOL", url, expect=frozenset({201}))


def delete(url: str, *, lock_token: str | None = None) -> Request:
    return Request("DELETE", url, _if(lock_token), expect=frozenset({200, 204}))


def copy(
    url: str, destination: str, *, overwrite: bool = True, depth: Depth = "infinity"
) -> Request:
    headers = (("Destination", destination), _overwrite(overwrite), ("Depth", depth))
    return Request("COPY", url, headers, expect=frozenset({201, 204}))


def move(
    url: str, destination: str, *, overwrite: bool = True, lock_token: str | None = None
) -> Request:
    headers = (("Destination", destination), _overwrite(overwrite), *_if(lock_token))
    return Request("MOVE", url, headers, expect=frozenset({201, 204}))


def split_binding(url: str) -> tuple[str, str]:
    """``http://h/a/b/c`` -> (``http://h/a/b/``, encoded segment ``c``) for BIND & co."""
    parts = urlsplit(url)
    path = normalize_path(parts.path or "/")
    parent = parent_href(path)
    if parent is None:
        raise ValueError("the root collection has no binding to change")
    return f"{parts.scheme}://{parts.netloc}{parent}", encode_segment(last_segment(path))


def _binding_body(root: str, segment: str, href: str | None) -> bytes:
    inner = f"<D:segment>{escape_text(segment)}</D:segment>"
    if href is not None:
        inner += f"<D:href>{escape_text(href)}</D:href>"
    return f'{PROLOG}<D:{root} xmlns:D="DAV:">{inner}</D:{root}>'.encode()


def bind(new_url: str, existing_url: str, *, overwrite: bool = True) -> Request:
    """BIND (RFC 5842 §4): make ``new_url`` a further binding of ``existing_url``."""
    collection, segment = split_binding(new_url)
    body = _binding_body("bind", segment, urlsplit(existing_url).path)
    headers = (("Content-Type", XML), _overwrite(overwrite))
    return Request("BIND", collection, headers, body, frozenset({200, 201, 204}))


def unbind(url: str, *, lock_token: str | None = None) -> Request:
    """UNBIND (RFC 5842 §5): remove the binding ``url``; other bindings keep the resource."""
    collection, segment = split_binding(url)
    headers = (("Content-Type", XML), *_if(lock_token))
    return Request(
        "UNBIND", collection, headers, _binding_body("unbind", segment, None), frozenset({200, 204})
    )


def rebind(new_url: str, existing_url: str, *, overwrite: bool = True) -> Request:
    """REBIND (RFC 5842 §6): move the binding ``existing_url`` to ``new_url`` atomically."""
    collection, segment = split_binding(new_url)
    body = _binding_body("rebind", segment, urlsplit(existing_url).path)
    headers = (("Content-Type", XML), _overwrite(overwrite))
    return Request("REBIND", collection, headers, body, frozenset({200, 201, 204}))


def lock(
    url: str,
    *,
    exclusive: bool = True,
    depth: Depth = "0",
    timeout: int | None = None,
    owner: str | None = None,
) -> Request:
    """LOCK a resource (RFC 4918 §9.10); a write lock, the only kind (§7)."""
    scope = "<D:exclusive/>" if exclusive else "<D:shared/>"
    own = f"<D:owner>{escape_text(owner)}</D:owner>" if owner else ""
    body = (
        f'{PROLOG}<D:lockinfo xmlns:D="DAV:"><D:lockscope>{scope}</D:lockscope>'
        f"<D:locktype><D:write/></D:locktype>{own}</D:lockinfo>"
    ).encode()
    headers = [("Content-Type", XML), ("Depth", depth)]
    headers.append(("Timeout", f"Second-{timeout}" if timeout is not None else "Infinite"))
    return Request("LOCK", url, tuple(headers), body, frozenset({200, 201}))


def unlock(url: str, token: str) -> Request:
    return Request("UNLOCK", url, (("Lock-Token", f"<{token}>"),), expect=frozenset({200, 204}))


def proppatch(
    url: str,
    set_props: Mapping[str, str] | None = None,
    remove: Iterable[str] = (),
    *,
    lock_token: str | None = None,
) -> Request:
    """PROPPATCH (RFC 4918 §9.2); values are text, names Clark names (``{ns}local``)."""
    sets = "".join(element_xml(n, escape_text(v)) for n, v in (set_props or {}).items())
    removes = "".join(element_xml(n) for n in remove)
    inner = (f"<D:set><D:prop>{sets}</D:prop></D:set>" if sets else "") + (
        f"<D:remove><D:prop>{removes}</D:prop></D:remove>" if removes else ""
    )
    if not inner:
        raise ValueError("proppatch needs at least one property to set or remove")
    body = f'{PROLOG}<D:propertyupdate xmlns:D="DAV:">{inner}</D:propertyupdate>'.encode()
    headers = (("Content-Type", XML), *_if(lock_token))
    return Request("PROPPATCH", url, headers, body, frozenset({200, 207}))


# --------------------------------------------------------------------------- interpreters


def failure(request: Request, status: int, content_type: str | None, body: bytes) -> StatusError:
    """The typed error for an unexpected status (RFC 4918 §16 body read leniently)."""
    problem = problem_details(body) if is_json(content_type) else None
    conditions, message = problem or parse_error_body(body, content_type)
    return status_error(
        status, method=request.method, url=request.url, conditions=conditions, message=message
    )


def check(request: Request, status: int, content_type: str | None, body: bytes) -> None:
    """Raise unless ``status`` means success; a 207 to DELETE/COPY/MOVE/... lists failures."""
    if status == 207 and 207 not in request.expect:
        _raise_multistatus(request, body)
    elif status not in request.expect:
        raise failure(request, status, content_type, body)


def _raise_multistatus(request: Request, body: bytes) -> None:
    """RFC 4918 §9.6.1, §9.8.8: a 207 to a method on a collection reports what failed."""
    bad = [r for r in parse_multistatus(body) if r.status is not None and r.status >= 300]
    if not bad:
        return
    first = bad[0]
    detail = "; ".join(f"{r.href}: {r.status}" for r in bad[:5])
    raise status_error(
        first.status or 500, method=request.method, url=request.url,
        conditions=first.conditions, message=first.description or detail,
    )  # fmt: skip


def check_proppatch(request: Request, status: int, body: bytes) -> None:
    """A PROPPATCH 207 fails as a whole when any property did (RFC 4918 §9.2)."""
    if status != 207:
        return
    for response in parse_multistatus(body):
        for ps in response.propstats:
            if ps.status is not None and not 200 <= ps.status < 300:
                names = ", ".join(sorted(ps.props))
                raise status_error(
                    ps.status,
                    method=request.method,
                    url=request.url,
                    conditions=ps.conditions,
                    message=ps.description or f"refused: {names}",
                )


def lock_token(request: Request, headers: Mapping[str, str], timeout: str | None) -> LockToken:
    """The token of a granted lock from the ``Lock-Token`` header (RFC 4918 §10.5)."""
    raw = headers.get("lock-token", "").strip()
    if not (raw.startswith("<") and raw.endswith(">")) or len(raw) < 3:
        raise ProtocolError(f"LOCK {request.url}: answer has no Lock-Token header")
    return LockToken(raw[1:-1], request.url, timeout)


def dav_classes(headers: Mapping[str, str]) -> frozenset[str]:
    """Compliance classes of an OPTIONS answer (``1, 2, 3, bind``), lowercased."""
    value = headers.get("dav")
    return dav_request_classes([value]) if value else frozenset()


#: Statuses of a Depth-infinity PROPFIND that are not worth retrying with Depth 1.
NO_FALLBACK = frozenset({401, 404, 407})


def may_fall_back(error: StatusError) -> bool:
    """Any refusal of Depth infinity (403 ``propfind-finite-depth`` and the rest, RFC
    4918 §9.1) is retried as a Depth-1 walk, except those the walk would meet again."""
    return error.status not in NO_FALLBACK


def cut_short(response: Response) -> bool:
    """A response that says the Depth-infinity answer is incomplete: 507 (truncated,
    RFC 4918 §11.5 as RFC 6578 uses it) or 508 met mid-stream (RFC 5842 §7.2)."""
    return response.status in (507, 508)


def describe(error: StatusError) -> str:
    """A one-line reason for a walk's note."""
    cond = f" {error.condition}" if error.condition else ""
    return f"{error.status}{cond}"
