"""What every handler needs: settings, the two stores and the storage threads, built
once per process."""

from __future__ import annotations

from dataclasses import dataclass, field

from davbind.server.listing_cache import ListingCache
from davbind.server.settings import Settings
from davbind.server.storage_threads import StorageThreads
from davbind.storage.interface import BlobStore, MetadataStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: MetadataStore
    blobs: BlobStore
    threads: StorageThreads
    """Every storage call of a request goes through these (never on the event loop)."""
    listings: ListingCache = field(default_factory=ListingCache)
    """Member texts of listings of this store (one per store: keys name its resources)."""
