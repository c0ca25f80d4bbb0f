"""How many bytes the store takes on disk, as a Prometheus collector
(``davbind_store_bytes{part="metadata"|"blobs"}``).

Measured from the files of the local backends (an ``sqlite:`` database with its
write-ahead log; the content files of a ``file:`` blob store, uploads in progress left
out); another backend reports nothing.  Summing a large blob store means visiting every
file, so a value is kept for ``ttl`` seconds, and it is measured in the thread that
answers the scrape, never on an event loop.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

TTL = 5.0


def local_path(url: str, scheme: str) -> Path | None:
    """The file or folder of a ``scheme:`` URL, or None for another scheme."""
    parsed = urlparse(url)
    if parsed.scheme != scheme:
        return None
    return Path(unquote(parsed.netloc + parsed.path))


def metadata_bytes(url: str) -> int | None:
    path = local_path(url, "sqlite")
    if path is None:
        return None
    return sum(_size(Path(f"{path}{suffix}")) for suffix in ("", "-wal"))


def blob_bytes(url: str) -> int | None:
    root = local_path(url, "file")
    if root is None:
        return None
    return sum(_tree(root, skip="tmp"))


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _tree(folder: Path | str, skip: str = "") -> Iterator[int]:
    """Sizes of the regular files below ``folder`` (a vanished one counts 0)."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if entry.name != skip:
                    yield from _tree(entry.path)
            elif entry.is_file(follow_symlinks=False):
                yield entry.stat(follow_symlinks=False).st_size
        except FileNotFoundError:  # deleted by a commit meanwhile
            continue


class StoreSize(Collector):
    """``davbind_store_bytes``, measured at most once per ``ttl`` seconds."""

    def __init__(self, metadata_url: str, blobs_url: str, ttl: float = TTL) -> None:
        self.metadata_url = metadata_url
        self.blobs_url = blobs_url
        self.ttl = ttl
        self._lock = threading.Lock()  # scrapes may overlap: one measures, the others wait
        self._at = -float("inf")
        self._parts: dict[str, int] = {}

    def measure(self) -> dict[str, int]:
        with self._lock:
            if time.monotonic() - self._at >= self.ttl:
                parts = {"metadata": metadata_bytes(self.metadata_url),
                         "blobs": blob_bytes(self.blobs_url)}  # fmt: skip
                self._parts = {k: v for k, v in parts.items() if v is not None}
                self._at = time.monotonic()
            return self._parts

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "davbind_store_bytes", "Bytes the store takes on disk, by part", labels=["part"]
        )
        for part, size in self.measure().items():
            family.add_metric([part], size)
        yield family
