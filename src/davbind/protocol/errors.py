"""The one exception type protocol and server code raise for an HTTP-level failure.

RFC 4918 §16: an error response that has no other body carries ``<D:error>`` with one
or more precondition/postcondition elements; RFC 5842 §4–§6 name the binding
preconditions.  ``DAVError`` holds the status, the condition element names (local names
in the ``DAV:`` namespace, e.g. ``"lock-token-submitted"``), optional hrefs to put inside
the first condition (RFC 4918 §16 ``lock-token-submitted`` and ``no-conflicting-lock``
carry hrefs) and a human message.  The server maps it to a response in exactly one place.
"""

from __future__ import annotations

from dataclasses import dataclass, field

REASONS: dict[int, str] = {
    100: "Continue",
    200: "OK",
    201: "Created",
    204: "No Content",
    206: "Partial Content",
    207: "Multi-Status",
    208: "Already Reported",
    304: "Not Modified",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    411: "Length Required",
    412: "Precondition Failed",
    413: "Content Too Large",
    414: "URI Too Long",
    415: "Unsupported Media Type",
    416: "Range Not Satisfiable",
    422: "Unprocessable Content",
    423: "Locked",
    424: "Failed Dependency",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    507: "Insufficient Storage",
    508: "Loop Detected",
}


def status_line(status: int) -> str:
    """``HTTP/1.1 207 Multi-Status`` as used in ``<D:status>`` (RFC 4918 §14.28)."""
    return f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"


@dataclass(eq=False)
class DAVError(Exception):
    """An HTTP failure with an optional ``<D:error>`` body (RFC 4918 §16).

    Not frozen: the interpreter sets ``__traceback__`` on exceptions, which a frozen or
    slotted dataclass refuses inside ``contextlib.contextmanager`` frames.
    """

    status: int
    message: str = ""
    conditions: tuple[str, ...] = ()
    hrefs: tuple[str, ...] = field(default=())
    headers: tuple[tuple[str, str], ...] = field(default=())
    privileges: tuple[str, ...] = field(default=())
    """For ``need-privileges``: the privileges missing on ``hrefs[0]`` (RFC 3744 §7.1.1)."""

    def __str__(self) -> str:
        cond = f" [{', '.join(self.conditions)}]" if self.conditions else ""
        return f"{self.status} {REASONS.get(self.status, '')}{cond}: {self.message}"
