"""Choose storage backends by URL scheme, importing each lazily.

``sqlite:///path/meta.sqlite3`` (default) for metadata, ``file:///path/blobs`` (default)
for content; ``postgresql://user@host:port/db`` for metadata shared by several machines
(needs the ``postgresql`` extra); ``s3://bucket/prefix?endpoint=URL&region=NAME`` for
content in an S3-compatible object store (``blobs_s3``, the ``s3`` extra, credentials
from the ``AWS_*`` environment variables; ``&orphan_age=SECONDS``: how old an unnamed
upload must be before a start-up sweep deletes it, an hour by default).  Other schemes
are added here as backends land.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from davbind.storage.interface import BlobStore, MetadataStore


def _local_path(url: str) -> Path:
    parsed = urlparse(url)
    return Path(unquote(parsed.path if not parsed.netloc else parsed.netloc + parsed.path))


def _ensure_dir(path: Path) -> None:
    """Create ``path`` if missing; an existing one on a read-only file system is fine
    (the stores then open read-only)."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)


def open_blobs(url: str, *, durable: bool = False) -> BlobStore:
    """``durable``: content is on disk before its commit (``durability = "strict"``);
    else it is flushed after it, and verified after a crash (``blobs_file``)."""
    scheme = urlparse(url).scheme
    if scheme == "file":
        from davbind.storage.blobs_file import FileBlobStore

        path = _local_path(url)
        _ensure_dir(path)
        return FileBlobStore(path, durable)
    if scheme == "s3":
        # an object store is durable once it answers: ``durable`` changes nothing there
        try:
            from davbind.storage.blobs_s3 import S3BlobStore
        except ImportError as exc:
            raise ValueError(
                f"{url!r} needs the S3 client library: pip install 'davbind[s3]'"
            ) from exc
        return S3BlobStore.from_url(url)
    raise ValueError(f"unsupported blob store URL scheme {scheme!r} in {url!r}")


def open_metadata(url: str, blobs: BlobStore) -> MetadataStore:
    scheme = urlparse(url).scheme
    if scheme == "sqlite":
        from davbind.storage.sqlite import SqliteMetadataStore

        path = _local_path(url)
        _ensure_dir(path.parent)
        return SqliteMetadataStore(path, blobs)
    if scheme in ("postgresql", "postgres"):
        try:
            from davbind.storage.postgres import PostgresMetadataStore
        except ImportError as exc:
            raise ValueError(
                f"a {scheme}:// metadata store needs the PostgreSQL driver: "
                "pip install 'davbind[postgresql]'"
            ) from exc

        return PostgresMetadataStore(url, blobs)
    raise ValueError(f"unsupported metadata store URL scheme {scheme!r} in {url!r}")


def default_urls(data_dir: Path) -> tuple[str, str]:
    """(metadata URL, blob URL) for the embedded default inside ``data_dir``."""
    data_dir = data_dir.resolve()
    return f"sqlite://{data_dir / 'meta.sqlite3'}", f"file://{data_dir / 'blobs'}"
