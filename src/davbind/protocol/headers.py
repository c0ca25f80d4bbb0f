"""Parsers for the WebDAV request headers other than ``If`` (see ``ifheader``).

Each parser takes the raw header value (``None`` when the header is absent) and returns
a plain value, or raises :class:`DAVError`: 400 for a malformed header, 502 for a
Destination on another server.  Timeout is the one lenient header: a value we do not
understand falls back to the server maximum instead of failing the LOCK.

RFC 4918 §10.1 (DAV), §10.2 (Depth), §10.3 (Destination, a Simple-ref as in §8.3),
§10.5 (Lock-Token), §10.6 (Overwrite), §10.7 (Timeout); RFC 3986 §3 for URI syntax;
RFC 7240 §2 and RFC 8144 for Prefer.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass

from davbind.protocol.errors import DAVError

MAX_URL_LENGTH = 8192
MAX_TIMEOUT_SECONDS = 2**32 - 1  # RFC 4918 §10.7: DAVTimeOutVal ≤ 2^32-1

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BAD_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_REG_NAME = re.compile(r"[A-Za-z0-9\-._~%!$&'()*+,;=]+")
_IP_LITERAL = re.compile(r"\[[0-9A-Za-z:.\-_~%!$&'()*+,;=]+\]")
_BAD_CODED_URL = re.compile(r"[\s<>\x00-\x1f\x7f]")
_SECONDS = re.compile(r"second-([0-9]+)", re.IGNORECASE)
_CODED_URL_OR_ITEM = re.compile(r"<[^>]*>?|[^,<]+")


class Depth(enum.Enum):
    """RFC 4918 §10.2 ``Depth: 0 / 1 / infinity``."""

    ZERO = "0"
    ONE = "1"
    INFINITY = "infinity"


ALL_DEPTHS: frozenset[Depth] = frozenset(Depth)


def parse_depth(
    value: str | None, *, default: Depth, allowed: frozenset[Depth] = ALL_DEPTHS
) -> Depth:
    """The Depth header; ``default`` when absent, 400 when malformed or not ``allowed``."""
    if value is None:
        return default
    try:
        depth = Depth(value.strip().lower())
    except ValueError:
        raise DAVError(400, f"Invalid Depth {value!r}: expected 0, 1 or infinity") from None
    if depth not in allowed:
        accepted = ", ".join(d.value for d in Depth if d in allowed)
        raise DAVError(400, f"Depth {depth.value!r} is not allowed here (allowed: {accepted})")
    return depth


def parse_overwrite(value: str | None) -> bool:
    """RFC 4918 §10.6 ``Overwrite: T / F``; absent means T."""
    if value is None:
        return True
    flag = value.strip().upper()
    if flag == "T":
        return True
    if flag == "F":
        return False
    raise DAVError(400, f"Invalid Overwrite {value!r}: expected T or F")


@dataclass(frozen=True, slots=True)
class SimpleRef:
    """A Simple-ref (RFC 4918 §8.3): an http(s) absolute URI or an absolute path.

    ``origin`` is (lowercased scheme, lowercased host, port) for an absolute URI and
    ``None`` for an absolute path.  ``path`` is the raw, still percent-encoded absolute
    path without query or fragment; an absolute URI with an empty path gives ``"/"``.
    """

    origin: tuple[str, str, int] | None
    path: str


def parse_simple_ref(value: str, *, name: str) -> SimpleRef:
    """Parse a Simple-ref (Destination, If Resource-Tag); 400 naming ``name`` if bad."""
    text = value.strip()
    if len(text) > MAX_URL_LENGTH:
        raise DAVError(400, f"{name} is longer than {MAX_URL_LENGTH} characters")
    if _CONTROL.search(text):
        raise DAVError(400, f"{name} contains control characters")
    not_absolute = DAVError(400, f"{name} {text!r} is not an absolute URI or absolute path")
    origin: tuple[str, str, int] | None = None
    if text.startswith("/"):
        if text.startswith("//"):  # a network-path reference, not a Simple-ref
            raise not_absolute
        rest = text
    else:
        match = _SCHEME.match(text)
        if match is None:
            raise not_absolute
        scheme = match.group(1).lower()
        if scheme not in _DEFAULT_PORTS:
            raise DAVError(400, f"{name} must be an http or https URL, not {scheme}:")
        rest = text[match.end() :]
        if not rest.startswith("//"):
            raise not_absolute
        rest = rest[2:]
        end = next((i for i, ch in enumerate(rest) if ch in "/?#"), len(rest))
        origin = _origin(scheme, rest[:end])
        if origin is None:
            raise DAVError(400, f"{name} {text!r} has an invalid host or port")
        rest = rest[end:]
    path = re.split(r"[?#]", rest, maxsplit=1)[0] or "/"
    if _BAD_PERCENT.search(path):
        raise DAVError(400, f"{name} {text!r} has an invalid percent-encoding")
    return SimpleRef(origin, path)


def _origin(scheme: str, authority: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) with the scheme's default port filled in; None if invalid."""
    hostport = authority.rpartition("@")[2]  # userinfo never identifies the server
    if hostport.startswith("["):
        close = hostport.find("]") + 1
        host, port_text = hostport[:close], hostport[close:]
        valid_host = close > 0 and _IP_LITERAL.fullmatch(host) is not None
    else:
        colon = hostport.find(":")
        host, port_text = (hostport, "") if colon < 0 else (hostport[:colon], hostport[colon:])
        valid_host = _REG_NAME.fullmatch(host) is not None
    if not valid_host or (port_text and not port_text.startswith(":")):
        return None
    digits = port_text[1:]
    if not digits:  # RFC 3986 §6.2.3: an empty port is the default port
        return scheme, host.lower(), _DEFAULT_PORTS.get(scheme, 0)
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 5 and int(digits) < 65536):
        return None
    return scheme, host.lower(), int(digits)


def parse_destination(value: str | None, *, scheme: str, host: str) -> str:
    """RFC 4918 §10.3: the raw absolute path of the Destination on this server.

    ``scheme`` and ``host`` describe the request (``host`` is its Host header).  An
    absolute URI naming another scheme, host or port is refused with 502.
    """
    if value is None or not value.strip():
        raise DAVError(400, "Destination header is required")
    ref = parse_simple_ref(value, name="Destination")
    if ref.origin is not None and ref.origin != _origin(scheme.lower(), host.strip()):
        raise DAVError(502, "Destination is on another server")
    return ref.path


def parse_timeout(value: str | None, *, maximum: int) -> int:
    """RFC 4918 §10.7: seconds from the first understood TimeType, capped at ``maximum``.

    Lenient on purpose: the server may choose any timeout, so junk means ``maximum``.
    """
    if value is None:
        return maximum
    for item in value.split(","):
        entry = item.strip()
        if entry.lower() == "infinite":
            return maximum
        match = _SECONDS.fullmatch(entry)
        if match is not None:
            digits = match.group(1).lstrip("0") or "0"
            # More than 10 digits is over 2^32-1 anyway; int() of huge strings is refused.
            seconds = int(digits) if len(digits) <= 10 else MAX_TIMEOUT_SECONDS
            return min(seconds, MAX_TIMEOUT_SECONDS, maximum)
    return maximum


def dav_request_classes(values: Sequence[str]) -> frozenset[str]:
    """RFC 4918 §10.1: compliance classes of every DAV request header line, lowercased.

    Coded-URLs (``<...>``, which may contain commas) are skipped.
    """
    classes: set[str] = set()
    for line in values:
        for match in _CODED_URL_OR_ITEM.finditer(line):
            item = match.group().strip()
            if item and not item.startswith("<"):
                classes.add(item.lower())
    return frozenset(classes)


def parse_lock_token_header(value: str | None) -> str:
    """RFC 4918 §10.5 ``Lock-Token: <Coded-URL>``: the lock token without brackets."""
    if value is None or not value.strip():
        raise DAVError(400, "Lock-Token header is required")
    text = value.strip()
    token = text[1:-1]
    if not (text.startswith("<") and text.endswith(">")) or not token:
        raise DAVError(400, f"Lock-Token {value!r} must be a Coded-URL such as <urn:uuid:...>")
    if _BAD_CODED_URL.search(token):
        raise DAVError(400, f"Lock-Token {value!r} contains characters not allowed in a URI")
    return token


def parse_prefer(values: Sequence[str]) -> frozenset[str]:
    """RFC 7240 §2 / RFC 8144: the preferences of every Prefer line, parameters dropped.

    Names and values are lowercased, quotes removed, ``name=""`` reduced to ``name``
    (RFC 7240 §2: an empty value is the same as no value).
    """
    preferences: set[str] = set()
    for line in values:
        for item in _split_unquoted(line, ","):
            name, equals, raw_value = _split_unquoted(item, ";")[0].partition("=")
            name = name.strip().lower()
            word = _unquote(raw_value.strip()).lower() if equals else ""
            if name:
                preferences.add(f"{name}={word}" if word else name)
    return frozenset(preferences)


def _split_unquoted(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside quoted-strings (RFC 9110 §5.6.4)."""
    parts: list[str] = []
    start, quoted, escaped = 0, False, False
    for index, char in enumerate(text):
        if escaped:
            escaped = False
        elif quoted and char == "\\":
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == separator and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _unquote(word: str) -> str:
    if len(word) >= 2 and word[0] == word[-1] == '"':
        return re.sub(r"\\(.)", r"\1", word[1:-1])
    return word


METHOD_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def unknown_method(method: str) -> DAVError:
    """RFC 9110 §15.6.2: a method the server does not implement for any resource is 501
    (405 is for a method known but not allowed on the target); one that is not a token
    (§5.6.2, §9.1) is a malformed request."""
    if METHOD_TOKEN.fullmatch(method):
        return DAVError(501, f"method {method} is not implemented")
    return DAVError(400, "malformed request method")
