"""The storage interfaces: ``MetadataStore`` + ``Txn`` and ``BlobStore`` (docs/architecture.md).

Every backend implements these Protocols and passes tests/storage (the contract suite).
A ``Txn`` is a snapshot for reads or an exclusive writer; it never sees half of another
writer's change.  Garbage collection is by reachability from the root (RFC 5842 §5;
decision A-27 in docs/protocol-decisions.md) and runs inside the transaction that
removed the binding.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO, Protocol

from davbind.storage.accounts import AccountsTxn
from davbind.storage.grants import GrantsTxn
from davbind.storage.model import DeadProp, Lock, MemberStamp, Resource

INLINE_MAX = 64 * 1024
"""Content of at most this many bytes may be kept by the metadata store itself
(``Txn.store_inline``): committed with the metadata in one transaction, no file, no
fsync of its own.  Readers look inline first for content up to this size, so lowering
it in a later release needs a migration of the rows above the new limit."""


class Txn(AccountsTxn, GrantsTxn, Protocol):
    """One transaction over resources, bindings, dead properties and locks."""

    @property
    def root(self) -> Resource: ...

    @property
    def root_key(self) -> int:
        """The root collection's key (it never changes), without reading its row."""
        ...

    def get(self, key: int) -> Resource:
        """The resource with that key; ``NotFound`` if it is gone."""
        ...

    def lookup(self, parent: int, segment: str) -> Resource | None:
        """The resource bound as ``segment`` in ``parent``, if any."""
        ...

    def resolve(self, segments: Sequence[str]) -> Resource:
        """Walk bindings from the root; ``NotFound`` / ``NotACollection`` on the way."""
        ...

    def children(self, parent: int) -> Iterator[tuple[str, Resource]]:
        """The bindings of ``parent`` sorted by segment (code points), lazily."""
        ...

    def members(self, parent: int) -> Iterator[list[tuple[str, Resource]]]:
        """The bindings of ``parent`` in the order of ``children``, read in batches of a
        few hundred (a listing renders a batch in one loop)."""
        ...

    def member_stamps(self, parent: int) -> Iterator[list[tuple[str, MemberStamp]]]:
        """``members`` without the rows: the batches of a listing whose renderings are
        mostly known already (a fraction of the cost of building every ``Resource``)."""
        ...

    def resources_of(self, keys: Sequence[int]) -> dict[int, Resource]:
        """The resources of those of ``keys`` that exist, in a few queries."""
        ...

    def parents(self, key: int) -> list[tuple[int, str]]:
        """Every binding to ``key`` as (parent key, segment) (RFC 5842 §3.2)."""
        ...

    def ancestors(self, key: int) -> set[int]:
        """Every resource from which ``key`` is reachable through bindings (``key`` excluded
        unless it is on a loop)."""
        ...

    def descendants(self, key: int) -> set[int]:
        """Every resource reachable from ``key`` through bindings (``key`` excluded unless it
        is on a loop).  Terminates on loops."""
        ...

    def edges_below(self, key: int) -> Iterator[tuple[int, int, bool]]:
        """(parent, child, child is a collection) for every binding whose parent is
        reachable from ``key`` (``key`` included); each binding once, so loops end."""
        ...

    def has_locks(self) -> bool:
        """Whether any unexpired lock exists at all (lets listings skip lock lookups)."""
        ...

    def create(
        self,
        parent: int,
        segment: str,
        *,
        collection: bool,
        digest: str | None = None,
        size: int = 0,
        content_type: str | None = None,
        modified: float | None = None,
    ) -> Resource:
        """Make a new resource with a new rid and bind it; ``AlreadyExists`` if taken.
        ``modified``: its last-modified time, when the client says (else now)."""
        ...

    def bind(self, parent: int, segment: str, child: int) -> None:
        """Add a binding; ``AlreadyExists`` if the segment is taken."""
        ...

    def replace(self, parent: int, segment: str, child: int) -> int:
        """Point an existing binding at ``child``; collect what the old target lost.
        Returns the old child key; ``NotFound`` if there is no such binding."""
        ...

    def reachable(self, key: int) -> bool:
        """Whether ``key`` has a path from the root (RFC 5842 §5, decision A-27)."""
        ...

    def unbind(self, parent: int, segment: str) -> int:
        """Remove a binding and collect what became unreachable; returns the child key."""
        ...

    def store_blob(self, upload: Upload) -> tuple[str, int]:
        """Make a finished upload durable and referenceable; returns (digest, size)."""
        ...

    def store_inline(self, data: bytes) -> tuple[str, int]:
        """Keep ``data`` (at most ``INLINE_MAX`` bytes) content-addressed in the metadata
        store, durable with this transaction; returns (digest, size).  Content already
        stored under that digest (inline or as a blob) is not stored again."""
        ...

    def read_inline(self, digest: str) -> bytes | None:
        """Content kept by ``store_inline``, or ``None`` (then it is in the blob store)."""
        ...

    def set_content(
        self, key: int, digest: str | None, size: int, content_type: str | None,
        modified: float | None = None,
    ) -> Resource:
        """Replace a non-collection's content (new version, new etag); ``modified`` as
        for ``create``."""
        ...


    def dead_props(self, key: int) -> list[DeadProp]:
        """The dead properties of ``key``, by name."""
        ...

    def dead_props_of(self, keys: Sequence[int]) -> dict[int, list[DeadProp]]:
        """The dead properties of each of ``keys`` that has any, in one query (a listing
        asks once per batch of members, not once per member)."""
        ...

    def set_dead_prop(self, key: int, prop: DeadProp) -> None: ...

    def remove_dead_prop(self, key: int, name: str) -> None: ...

    def copy_dead_props(self, source: int, target: int) -> None:
        """Replace the target's dead properties with the source's."""
        ...

    def damage(self, digest: str) -> str | None:
        """Why the content ``digest`` is known damaged (``davbind fsck --mark``), or None."""
        ...

    def set_damage(self, marks: dict[str, str]) -> None:
        """Replace every damage mark with ``marks`` (digest -> reason)."""
        ...

    def content_refs(self) -> Iterator[tuple[int, str, int]]:
        """(key, digest, size) of every resource with content (for ``storage.fsck``)."""
        ...

    def locks_on(self, keys: Iterable[int]) -> list[Lock]:
        """Unexpired locks whose locked resource is one of ``keys``."""
        ...

    def locks_rooted_at_or_below(self, root: str) -> list[Lock]:
        """Unexpired locks whose lock-root path is ``root`` or below it."""
        ...

    def lock(self, token: str) -> Lock | None: ...

    def all_locks(self, limit: int) -> list[Lock] | None:
        """Every unexpired lock, or ``None`` when there are more than ``limit``."""
        ...

    def add_lock(self, lock: Lock) -> None: ...

    def refresh_lock(self, token: str, timeout: int) -> Lock: ...

    def remove_lock(self, token: str) -> None: ...


class MetadataStore(Protocol):
    """Opens transactions; shared by every request of a process."""

    def read(self) -> AbstractContextManager[Txn]: ...

    def write(self) -> AbstractContextManager[Txn]: ...

    def generation(self) -> int:
        """A number that changes whenever any transaction commits, in any process.

        Equal values at two instants mean nothing was committed in between, so whatever
        was read at the first instant is still what a read would return at the second."""
        ...

    def close(self) -> None: ...


class Upload(Protocol):
    """Content being streamed into the blob store, hashed on the way."""

    def write(self, chunk: bytes) -> None: ...

    def finish(self) -> tuple[str, int]:
        """Flush (and fsync, when the store is ``durable``); returns (sha256 hex digest,
        size)."""
        ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    """Content-addressed blobs (SHA-256): identical content is stored once."""

    durable: bool
    """True: ``commit`` returns once the content is on disk.  False: the metadata store
    records new content as unsynced and calls ``sync`` after its commit (module doc of
    ``blobs_file``)."""

    def begin(self) -> Upload: ...

    def commit(self, upload: Upload) -> bool:
        """Store a finished upload's content under its digest (idempotent); True if the
        content was not stored before."""
        ...

    def sync(self, digest: str) -> bool:
        """Make the stored content durable; False if there is no such content."""
        ...

    def verify(self, digest: str) -> bool:
        """Whether the stored content is complete: its bytes hash to ``digest``."""
        ...

    def open(self, digest: str) -> BinaryIO: ...

    def path(self, digest: str) -> Path | None:
        """A local file path for zero-copy sends, when the backend has one."""
        ...

    def delete(self, digest: str) -> None: ...

    def digests(self) -> Iterator[str]:
        """Every stored digest (for orphan sweeps)."""
        ...
