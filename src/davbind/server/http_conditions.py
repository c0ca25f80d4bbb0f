"""HTTP conditional requests: If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since (RFC 9110 §13), evaluated in the order of RFC 9110 §13.2.2."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

from davbind.protocol.errors import DAVError
from davbind.server.http import Request
from davbind.storage.model import Resource


def _etags(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _weak_eq(a: str, b: str) -> bool:
    return a.removeprefix("W/") == b.removeprefix("W/")


def _date(value: str) -> float | None:
    try:
        return parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


def check(request: Request, resource: Resource | None, *, safe: bool) -> bool:
    """Raise 412 when a precondition fails; return False when a safe request should get
    304 Not Modified."""
    if_match = request.header("if-match")
    if if_match is not None:
        tags = _etags(if_match)
        if resource is None or not (
            "*" in tags or any(t == resource.etag for t in tags)
        ):
            raise DAVError(412, "If-Match did not match the current entity tag")
    elif resource is not None and (ius := request.header("if-unmodified-since")):
        when = _date(ius)
        if when is not None and int(resource.modified) > when:
            raise DAVError(412, "resource modified since If-Unmodified-Since")
    if_none = request.header("if-none-match")
    if if_none is not None:
        tags = _etags(if_none)
        hit = resource is not None and (
            "*" in tags or any(_weak_eq(t, resource.etag) for t in tags)
        )
        if hit:
            if safe:
                return False
            raise DAVError(412, "If-None-Match matched the current entity tag")
    elif safe and resource is not None and (ims := request.header("if-modified-since")):
        when = _date(ims)
        if when is not None and int(resource.modified) <= when:
            return False
    return True
