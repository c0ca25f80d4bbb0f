"""Finding content that is not what the metadata says, and dealing with it (``davbind fsck``).

Every resource with content names it by SHA-256 digest and size.  Content up to
``INLINE_MAX`` bytes may be kept in the metadata store itself; anything else is a blob
file.  ``scan`` checks each distinct digest once:

* *missing*: neither inline content nor a blob file;
* *size mismatch*: the inline content or the file has another length;
* *digest mismatch*: its bytes hash to another digest (skipped by a ``quick`` scan,
  which reads no content).

What to do about it is the caller's choice: ``mark`` records the damage in the store
(a GET or HEAD of such a resource then answers 500 at once, naming it, instead of
sending wrong bytes with ``sendfile``; a later ``mark`` replaces the records, so
repaired content is unmarked), ``remove`` unbinds every binding to each damaged resource
(RFC 5842 §2.4: the resource goes once nothing binds it).  A scan runs over one read
snapshot and may run while the server does.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from davbind.storage.interface import BlobStore, MetadataStore, Txn

READ = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Damage:
    """One damaged content and the resources showing it (their paths from the root)."""

    digest: str
    reason: str
    keys: tuple[int, ...]
    paths: tuple[str, ...]


def _hash_file(blobs: BlobStore, digest: str) -> tuple[int, str]:
    sha = hashlib.sha256()
    size = 0
    with blobs.open(digest) as fh:
        while chunk := fh.read(READ):
            sha.update(chunk)
            size += len(chunk)
    return size, sha.hexdigest()


def _file_size(blobs: BlobStore, digest: str) -> int:
    """The stored size, reading at most one byte: a local file's, else the size the
    store records (an object store's manifest), confirmed by reading the last byte (the
    object exists and is not shorter)."""
    path = blobs.path(digest)
    if path is not None:
        return path.stat().st_size
    with blobs.open(digest) as fh:
        size = fh.seek(0, io.SEEK_END)
        if size:
            fh.seek(size - 1)
            if len(fh.read(1)) != 1:
                return size - 1
        return size


def check(txn: Txn, blobs: BlobStore, digest: str, size: int, quick: bool) -> str | None:
    """Why the content ``digest`` of ``size`` bytes is damaged, or None."""
    data = txn.read_inline(digest)
    try:
        if data is not None:
            actual, found = len(data), (None if quick else hashlib.sha256(data).hexdigest())
        elif quick:
            actual, found = _file_size(blobs, digest), None
        else:
            actual, found = _hash_file(blobs, digest)
    except FileNotFoundError:
        return "missing: no blob file and no inline content"
    if actual != size:
        return f"size mismatch: {actual} bytes stored, {size} expected"
    if found is not None and found != digest:
        return f"digest mismatch: the bytes hash to {found}"
    return None


def paths_of(txn: Txn, key: int, limit: int = 8) -> list[str]:
    """Up to ``limit`` paths from the root to ``key`` (one per binding chain)."""
    out: list[str] = []

    def up(k: int, below: str, seen: frozenset[int]) -> None:
        if len(out) >= limit:
            return
        if k == txn.root_key:
            out.append(below or "/")
            return
        for parent, segment in txn.parents(k):
            if parent not in seen:
                up(parent, "/" + segment + below, seen | {parent})

    up(key, "", frozenset({key}))
    return sorted(out)


def scan(store: MetadataStore, blobs: BlobStore, *, quick: bool = False,
         progress: Callable[[int], None] | None = None) -> Iterator[Damage]:  # fmt: skip
    """Every damaged content of the store (module doc), in the order of the first key
    showing it; ``progress(n)`` after each digest checked."""
    with store.read() as txn:
        users: dict[str, list[int]] = {}
        sizes: dict[str, int] = {}
        for key, digest, size in txn.content_refs():
            users.setdefault(digest, []).append(key)
            sizes.setdefault(digest, size)
        for n, (digest, keys) in enumerate(users.items(), 1):
            reason = check(txn, blobs, digest, sizes[digest], quick)
            if progress is not None:
                progress(n)
            if reason is None:
                continue
            paths = [p for key in keys for p in paths_of(txn, key)]
            yield Damage(digest, reason, tuple(keys), tuple(paths))


def mark(store: MetadataStore, found: list[Damage]) -> None:
    """Record ``found`` as the store's damaged content (replacing earlier records)."""
    with store.write() as txn:
        txn.set_damage({d.digest: d.reason for d in found})


def remove(store: MetadataStore, found: list[Damage]) -> int:
    """Unbind every binding to each damaged resource; returns the bindings removed.
    Marks of the removed content are dropped as well."""
    removed = 0
    with store.write() as txn:
        for damage in found:
            for key in damage.keys:
                for parent, segment in txn.parents(key):
                    if txn.lookup(parent, segment) is not None:  # an earlier unbind kept it
                        txn.unbind(parent, segment)
                        removed += 1
        txn.set_damage({})
    return removed
