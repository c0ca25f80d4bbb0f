"""davbind's WebDAV client: listings folded into one entry per resource, with aliases.

``Client`` / ``AsyncClient`` speak RFC 4918 and RFC 5842 over httpx;
``fold_multistatus`` turns any server's multistatus into a :class:`Listing` of
:class:`Entry` values (one per resource, ``aliases`` for its other hrefs, 208 in both
forms, grouped by ``DAV:resource-id``; a 208 that cannot be tied to a resource is in
``Listing.unresolved``).  ``Client.info`` adds ``Entry.placement``: every path of the
resource (``DAV:parent-set``) and whether it is on a binding loop.  Errors are
:class:`DAVClientError` subclasses carrying the status, the precondition element and
the server's message.  The client depends on ``davbind.protocol`` only, never on the
server or storage.
"""

from __future__ import annotations

from davbind.client.async_client import AsyncClient
from davbind.client.auth import DAVAuth
from davbind.client.errors import (
    Conflict,
    DAVClientError,
    Forbidden,
    ForbiddenXML,
    InsufficientStorage,
    Locked,
    LoopDetected,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    ProtocolError,
    StatusError,
    TransportError,
    TruncatedResponse,
    Unauthorized,
)
from davbind.client.listing import (
    Entry,
    Folder,
    Listing,
    TreeNode,
    fold_multistatus,
    fold_responses,
)
from davbind.client.messages import INFO_INCLUDE, LIST_PROPS, LockToken
from davbind.client.multistatus import (
    MultistatusParser,
    Parent,
    PropStat,
    PropValue,
    Response,
    iter_responses,
    parse_multistatus,
)
from davbind.client.sync_client import Client
from davbind.client.transfer import Progress

__all__ = [
    "INFO_INCLUDE",
    "LIST_PROPS",
    "AsyncClient",
    "Client",
    "Conflict",
    "DAVAuth",
    "DAVClientError",
    "Entry",
    "Folder",
    "Forbidden",
    "ForbiddenXML",
    "InsufficientStorage",
    "Listing",
    "LockToken",
    "Locked",
    "LoopDetected",
    "MethodNotAllowed",
    "MultistatusParser",
    "NotFound",
    "Parent",
    "PreconditionFailed",
    "Progress",
    "PropStat",
    "PropValue",
    "ProtocolError",
    "Response",
    "StatusError",
    "TransportError",
    "TreeNode",
    "TruncatedResponse",
    "Unauthorized",
    "fold_multistatus",
    "fold_responses",
    "iter_responses",
    "parse_multistatus",
]
