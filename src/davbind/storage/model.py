"""Values and errors of the storage model: resources, bindings, locks (RFC 5842 §2, RFC 4918 §6).

A resource has an immutable ``rid`` (``urn:uuid:`` v4, never reused, RFC 5842 §3.1) and an
internal integer key used for joins; a binding (parent key, segment) -> child key lives
in the parent collection.  Errors are storage words, never HTTP statuses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


class StorageError(Exception):
    """Base of every storage failure."""


class NotFound(StorageError):
    """No resource (or binding) where one was named."""


class AlreadyExists(StorageError):
    """A binding with that segment exists in the collection."""


class NotACollection(StorageError):
    """A path walked through, or an operation targeted, a non-collection."""


class Conflict(StorageError):
    """The change would break the model (e.g. leave a resource unreachable)."""


class QuotaExceeded(StorageError):
    """Storage is full or a configured limit is reached."""


class StorageFull(QuotaExceeded):
    """The file system holding the store has no room left (ENOSPC, EDQUOT, SQLITE_FULL).
    Nothing of the failed change is kept (``storage.space``)."""


class ReadOnlyStore(StorageError):
    """The store was opened read-only (its directory cannot be written): reads work,
    every write is refused."""


class Unavailable(StorageError):
    """The storage service cannot be reached or refused the request (an object store
    that is down, a wrong key): nothing of the change was kept; trying later may work."""


class Damaged(StorageError):
    """Stored content is missing or does not match its digest (an integrity error)."""

    def __init__(self, digest: str, reason: str, where: str = "") -> None:
        self.digest = digest
        self.reason = reason
        self.where = where
        named = f"{where}: " if where else ""
        super().__init__(f"{named}content {digest} is damaged: {reason}")


class Resource(NamedTuple):
    """One resource, whatever the number of bindings to it.

    A named tuple rather than a frozen dataclass: a listing makes one per member, tens
    of thousands per request, and building a named tuple is about ten times cheaper.
    ``cgen`` counts every change a listing shows (content, dead properties, and for a
    collection its membership); keys are never reused, so (key, cgen) names one state
    of one resource."""

    key: int
    rid: str
    is_collection: bool
    digest: str | None
    size: int
    content_type: str | None
    version: int
    created: float
    modified: float
    cgen: int = 0
    owner: str | None = None  # a user name; None: the server's (``storage.grants``)

    @property
    def etag(self) -> str:
        """Strong entity tag, unique across the store: key and content version
        (RFC 9110 §8.8.3)."""
        return f'"{self.key:x}-{self.version:x}"'


class MemberStamp(NamedTuple):
    """What a listing needs to know of a member before its full row: whether a rendering
    it holds is still the member's (``key``, ``cgen``: see ``Resource``), whether it is
    a collection (the walk), and its owner (privileges, ``server.access``)."""

    key: int
    is_collection: bool
    cgen: int
    owner: str | None


@dataclass(frozen=True, slots=True)
class Binding:
    """``parent:(segment -> child)`` (RFC 5842 §1.1)."""

    parent: int
    segment: str
    child: int


@dataclass(frozen=True, slots=True)
class Lock:
    """A write lock (RFC 4918 §6).  ``root`` is the lock-root path (RFC 5842 §9)."""

    token: str
    resource: int
    root: str
    infinite: bool
    exclusive: bool
    owner_xml: str | None
    principal: str | None
    timeout: int
    expires: float


@dataclass(frozen=True, slots=True)
class DeadProp:
    """A dead property: Clark name and the whole element as standalone XML."""

    name: str
    xml: str
