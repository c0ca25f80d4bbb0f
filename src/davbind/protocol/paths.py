"""Request paths to binding segments and back (RFC 3986 §3.3, RFC 4918 §8.3, RFC 5842 §3.2).

The rule kept here: a URL path is split on "/" *before* percent-decoding, each segment is
then decoded as strict UTF-8.  A segment that decodes to "/" (``%2F``), NUL, "." or "..",
an empty segment (``//``) or invalid UTF-8 is refused with 400: a segment names exactly
one binding, so no trick can reach outside the collection it is resolved in.
Hrefs we emit are percent-encoded per segment, collections end in "/" (RFC 4918 §5.2).
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote_to_bytes

from davbind.protocol.errors import DAVError

MAX_SEGMENT_BYTES = 255
_SAFE = "-._~!$'()*+,;=:@"


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def decode_segment(raw: str) -> str:
    """Decode one percent-encoded segment, refusing anything that is not a plain name."""
    if _BAD_ESCAPE.search(raw):
        raise DAVError(400, f"path segment {raw!r} has an invalid percent-encoding")
    try:
        seg = unquote_to_bytes(raw).decode("utf-8", errors="strict")
    except UnicodeDecodeError as exc:
        raise DAVError(400, f"path segment {raw!r} is not valid UTF-8") from exc
    check_segment(seg, status=400)
    return seg


def check_segment(seg: str, *, status: int, conditions: tuple[str, ...] = ()) -> None:
    """Raise ``DAVError(status)`` unless ``seg`` can name a binding (RFC 5842 A-7)."""
    if seg in ("", ".", ".."):
        raise DAVError(status, f"{seg!r} is not a valid path segment", conditions)
    if "/" in seg or "\x00" in seg:
        raise DAVError(status, "a path segment may not contain '/' or NUL", conditions)
    if len(seg.encode("utf-8")) > MAX_SEGMENT_BYTES:
        raise DAVError(status, f"path segment longer than {MAX_SEGMENT_BYTES} bytes", conditions)
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in seg):
        raise DAVError(status, "a path segment may not contain control characters", conditions)


def split_path(raw_path: str) -> tuple[str, ...]:
    """``/a/b%20c/`` -> ``("a", "b c")``; the root is ``()``.

    ``raw_path`` is the request target's path, still percent-encoded, query removed.
    """
    if not raw_path.startswith("/"):
        raise DAVError(400, "request path must be absolute")
    body = raw_path[1:]
    if body.endswith("/"):
        body = body[:-1]
    if not body:
        return ()
    return tuple(decode_segment(part) for part in body.split("/"))


_PLAIN = re.compile(r"[A-Za-z0-9\-._~!$'()*+,;=:@]*")


def encode_segment(seg: str) -> str:
    """Percent-encode one segment for use in an href (RFC 4918 §8.3.1)."""
    if _PLAIN.fullmatch(seg):
        return seg
    return quote(seg, safe=_SAFE)


def href(segments: tuple[str, ...], collection: bool) -> str:
    """The absolute-path href for ``segments``; collections end in "/" (RFC 4918 §5.2)."""
    if not segments:
        return "/"
    path = "/" + "/".join(encode_segment(s) for s in segments)
    return path + "/" if collection else path


def lock_path(segments: tuple[str, ...]) -> str:
    """Canonical text of a path for lock roots: decoded segments joined by "/" (no slash at end).

    Segments never contain "/", so the form is unambiguous and prefix tests are exact.
    """
    return "/" + "/".join(segments)
