"""Typed client exceptions, and reading the server's reason out of an error response.

The rule kept here: every failure a caller can act on is an exception carrying the HTTP
status, the precondition/postcondition element names of the ``<D:error>`` body (RFC 4918
§16; RFC 5842 §4–§6 name the binding ones, e.g. ``cycle-allowed``, ``can-overwrite``)
and the server's own message (davbind's ``<m:message>``, a ``<D:responsedescription>``,
or the first line of a text body; ``multistatus.parse_error_body`` reads them).  One
subclass per status a caller typically handles; any other status gives
:class:`StatusError` itself.  A response body the client cannot read is a
:class:`ProtocolError`, never a crash.
"""

from __future__ import annotations

from davbind.protocol.errors import REASONS


class DAVClientError(Exception):
    """Base class of every error raised by ``davbind.client``."""


class ProtocolError(DAVClientError):
    """The server's answer is not what the protocol allows (bad XML, DTD, wrong root)."""


class StatusError(DAVClientError):
    """The server answered ``status`` to ``method url``."""

    def __init__(
        self,
        status: int,
        *,
        method: str = "",
        url: str = "",
        conditions: tuple[str, ...] = (),
        message: str = "",
    ) -> None:
        self.status = status
        self.method = method
        self.url = url
        self.conditions = conditions
        self.message = message
        super().__init__(str(self))

    @property
    def condition(self) -> str | None:
        """The first precondition element's local name (``propfind-finite-depth``)."""
        return self.conditions[0] if self.conditions else None

    def __str__(self) -> str:
        where = f"{self.method} {self.url}: " if self.method else ""
        reason = REASONS.get(self.status)
        cond = f" [{', '.join(self.conditions)}]" if self.conditions else ""
        msg = f": {self.message}" if self.message else ""
        return f"{where}{self.status}{' ' + reason if reason else ''}{cond}{msg}"


class Unauthorized(StatusError):
    """401: credentials missing or refused."""


class Forbidden(StatusError):
    """403: the request will never succeed as sent (RFC 4918 §16)."""


class NotFound(StatusError):
    """404: no resource at that URL."""


class MethodNotAllowed(StatusError):
    """405: e.g. MKCOL on an existing resource, BIND on a server without bindings."""


class Conflict(StatusError):
    """409: e.g. a missing parent collection (RFC 4918 §9.3.1, §9.7.1)."""


class PreconditionFailed(StatusError):
    """412: ``Overwrite: F`` and the destination exists, or an If header failed."""


class Locked(StatusError):
    """423: the resource or a collection on the way is locked."""


class InsufficientStorage(StatusError):
    """507: quota or space exhausted."""


class LoopDetected(StatusError):
    """508: a binding loop below a Depth-infinity request (RFC 5842 §7.2)."""


_BY_STATUS: dict[int, type[StatusError]] = {
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    412: PreconditionFailed,
    423: Locked,
    507: InsufficientStorage,
    508: LoopDetected,
}


def status_error(
    status: int,
    *,
    method: str,
    url: str,
    conditions: tuple[str, ...] = (),
    message: str = "",
) -> StatusError:
    """The typed exception for a failed request (built, not raised)."""
    cls = _BY_STATUS.get(status, StatusError)
    return cls(status, method=method, url=url, conditions=conditions, message=message)


class TruncatedResponse(ProtocolError):
    """A multistatus body that ended before ``</D:multistatus>`` (connection cut)."""


class ForbiddenXML(ProtocolError):
    """A response body with a DTD, an entity declaration or an external reference."""


class TransportError(DAVClientError):
    """The server could not be reached, or the connection broke (no HTTP status)."""
