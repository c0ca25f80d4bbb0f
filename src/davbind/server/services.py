"""What every handler needs: settings and the two stores, built once per process."""

from __future__ import annotations

from dataclasses import dataclass

from davbind.server.respcache import ResponseCache
from davbind.server.runcache import RunCache
from davbind.server.settings import Settings
from davbind.storage.interface import BlobStore, MetadataStore


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings
    store: MetadataStore
    blobs: BlobStore
    responses: ResponseCache | None = None
    runs: RunCache | None = None  # rendered runs of listings (``runcache``)
