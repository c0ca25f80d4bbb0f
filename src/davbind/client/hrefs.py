"""Hrefs as a client must compare them, and request URLs built from paths.

The rule kept here: two hrefs name the same URL mapping when their normalised forms are
equal, whatever the server wrote.  Normalising (RFC 3986 §5.2 and §6.2.2, RFC 4918 §8.3)

- resolves a relative href against the request URL, and drops scheme and authority when
  they are those of the request URL (RFC 4918 §8.3: a multistatus may use either form);
- removes dot segments and empty segments (``//``);
- percent-decodes every segment and re-encodes it the way davbind emits hrefs
  (``protocol.paths.encode_segment``), so ``%7e``, ``~`` and ``%7E`` agree and a
  raw space becomes ``%20``; an encoded ``/`` (``%2F``) stays part of its segment;
- keeps the trailing slash as written; :func:`href_key` drops it, because servers disagree
  on it (RFC 5842 §7.1.1 itself reports the collection ``/Coll/Bar`` without one).

An href on another origin is kept absolute (scheme and host lowercased).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import quote, unquote, urljoin, urlsplit

from davbind.protocol.paths import encode_segment

_SAFE = "-._~!$'()*+,;=:@"  # as protocol.paths.encode_segment


def _decode(segment: str) -> str:
    try:
        return unquote(segment, errors="strict")
    except UnicodeDecodeError:
        return unquote(segment, errors="surrogateescape")


def _encode(segment: str) -> str:
    try:
        return encode_segment(segment)
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates by _decode
        return quote(segment, safe=_SAFE, errors="surrogateescape")


def normalize_path(path: str) -> str:
    """An absolute path with dot and empty segments removed and segments re-encoded."""
    out: list[str] = []
    parts = path.split("/")
    for part in parts:
        if part in ("", "."):
            continue
        if part == "..":
            if out:
                out.pop()
            continue
        out.append(_encode(_decode(part)))
    trailing = path.endswith("/") or parts[-1] in (".", "..")
    if not out:
        return "/"
    return "/" + "/".join(out) + ("/" if trailing else "")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme, 0)
    return scheme, f"{host}:{port}"


# An absolute path already in canonical form: unreserved and sub-delim characters only,
# no "%" escapes, no segment starting with "." (so no dot segments), no empty segment.
_CANONICAL = re.compile(r"(?:/[A-Za-z0-9\-_~!$'()*+,;=:@][A-Za-z0-9\-._~!$'()*+,;=:@]*)*/?")


@lru_cache(maxsize=64)
def _origin_prefix(base_url: str) -> str:
    """``http://host:port`` exactly as ``base_url`` writes it (for the fast path)."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else "\0"


def normalize_href(href: str, base_url: str | None = None) -> str:
    """The canonical form of ``href`` as reported against ``base_url`` (see module doc)."""
    text = href.strip()
    # Fast path for what servers usually send (a PROPFIND may carry 100,000 hrefs).
    if base_url is not None and text.startswith(_origin_prefix(base_url) + "/"):
        rest = text[len(_origin_prefix(base_url)) :]
        if _CANONICAL.fullmatch(rest):
            return rest
    elif text.startswith("/") and _CANONICAL.fullmatch(text):
        return text
    if base_url is not None:
        text = urljoin(base_url, text)
    parts = urlsplit(text)
    path = normalize_path(parts.path or "/")
    if not parts.scheme and not parts.netloc:
        return path
    if base_url is not None and _origin(text) == _origin(base_url):
        return path
    if base_url is None and not parts.netloc:
        return path
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"


def href_key(href: str) -> str:
    """The identity of a normalised href: the trailing slash does not count."""
    return href if href == "/" or not href.endswith("/") else href[:-1]


def as_collection(href: str) -> str:
    """``href`` with exactly one trailing slash (RFC 4918 §5.2 style for collections)."""
    return href if href.endswith("/") else href + "/"


def parent_href(href: str) -> str | None:
    """The collection containing ``href`` (with a trailing slash); None for the root."""
    key = href_key(href)
    scheme_end = key.find("://")
    path_start = key.find("/", scheme_end + 3) if scheme_end >= 0 else 0
    if key[path_start:] == "/":
        return None
    return key[: key.rindex("/") + 1]


def last_segment(href: str) -> str:
    """The decoded last segment of ``href`` ("" for the root)."""
    key = href_key(href)
    return _decode(key.rsplit("/", 1)[-1])


def path_url(base_url: str, path: str) -> str:
    """The request URL for a client path below ``base_url``.

    ``path`` is a decoded path ("/a b/c.txt") or an already encoded one; each segment is
    decoded and re-encoded, so both forms give the same URL.  A trailing slash is kept.
    Absolute URLs are accepted as they are, normalised.
    """
    if "://" in path:
        parts = urlsplit(path)
        return f"{parts.scheme}://{parts.netloc}{normalize_path(parts.path or '/')}"
    base = urlsplit(base_url)
    prefix = base.path.rstrip("/")
    rel = normalize_path("/" + path.lstrip("/"))
    full = prefix + rel if rel != "/" else prefix + "/"
    return f"{base.scheme}://{base.netloc}{full}"


def is_below(href: str, ancestor: str) -> bool:
    """True when ``href`` is ``ancestor`` or inside it (keys compared segment-wise)."""
    a = href_key(ancestor)
    h = href_key(href)
    return h == a or h.startswith(a if a.endswith("/") else a + "/")
