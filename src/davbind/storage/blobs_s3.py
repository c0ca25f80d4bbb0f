"""Content-addressed blob store in an S3-compatible object store (``s3://bucket/prefix``).

Two kinds of objects live under the prefix:

* ``data/<uuid>``: the bytes of one upload, streamed while they are hashed: in parts of
  ``PART`` bytes as a multipart upload, at most ``PARALLEL_PARTS`` parts in flight (so an
  upload holds a bounded buffer, never the whole file, and nothing on local disk), or as
  one PUT when the whole content fits in one part;
* ``<aa>/<bb>/<sha256>``: the *manifest* of a digest, a small JSON object naming the data
  object and its size, written when the metadata transaction stores the upload
  (``commit``) with a conditional create (``If-None-Match: *``): the first upload of a
  digest wins, a later one finds it and deletes its own data object, so identical
  content is stored once, even with several servers sharing the bucket.

Why a manifest rather than copying the data to a key named by its digest: the digest is
known only after the last byte, but an object's key must be chosen before the first.  A
server-side copy re-writes every byte (0.8 s per 64 MiB measured on SeaweedFS, 40% of
the upload itself; on AWS a single copy is limited to 5 GiB) and it would run inside the
metadata store's write transaction, stalling every other write meanwhile; the manifest
is one small PUT there.  Reading it replaces the HEAD that opening a blob needs anyway
(for its size), so a download costs no extra request.

An S3 PUT is durable once answered (``durable = True``: no background flush, no
re-verification after a crash).  A missing object is ``FileNotFoundError`` (content that
is gone); any other failure of the object store (unreachable, a refused key) is
``Unavailable``, and nothing of the change is kept.  Left behind by crashes, and removed
by ``sweep_data``: data objects no manifest names (a crash between upload and commit,
or between the two deletes of ``delete``) and older than ``orphan_age`` seconds (the URL
parameter ``orphan_age``, an hour by default): a younger one may be an upload another
server sharing the bucket is about to commit.  Finding them reads every manifest (one
GET per stored content).

A GET of whole large content is not hashed on its way by default, as a local file sent
with ``sendfile(2)`` is not: the SHA-256 was half the node's CPU per byte of such a GET,
and ``davbind fsck`` (without ``--quick``) reads and hashes every stored content.  The URL
parameter ``verify_reads=true`` turns the check on (the readers ``open`` returns then
say ``verify_reads``): each such GET is hashed beside its reads and a mismatch ends the
connection before the last chunk (``server.filebody``).  Content small enough to be read
whole is checked either way.

An aborted multipart upload's parts are dropped by the object store itself once the
bucket has the usual lifecycle rule (``AbortIncompleteMultipartUpload``): the client
library cannot abort one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import parse_qs, unquote, urlparse

import obstore
from obstore.exceptions import AlreadyExistsError
from obstore.store import S3Store

from davbind.storage.s3_reader import S3Reader, s3_errors

if TYPE_CHECKING:
    from pathlib import Path

    from obstore import WritableFile
    from obstore.store import ObjectStore, S3Config

PART = 8 * 1024 * 1024
"""Bytes of one part of a multipart upload (S3's minimum is 5 MiB)."""
PARALLEL_PARTS = 4
"""Parts of one upload sent at a time: an upload buffers at most about this many parts."""
DATA_MIN_AGE = 3600.0
"""``sweep_data`` spares data objects younger than this many seconds (unless the URL says
otherwise, ``orphan_age``): they may belong to an upload about to be committed, by this
server or another one sharing the bucket."""

_MANIFEST_KEY = re.compile(r"[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64})")
_QUERY_KEYS = frozenset({"endpoint", "region", "orphan_age", "verify_reads"})
_BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def store_from_url(url: str) -> ObjectStore:
    """The object store of ``s3://bucket/prefix?endpoint=URL&region=NAME``.  Credentials
    come from the usual ``AWS_*`` environment variables (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_REGION``...); an ``http://``
    endpoint (a local test service) is allowed explicitly.  Retries are bounded so that
    an unreachable store fails a request within seconds, not minutes.

    Over HTTPS (AWS itself, or an ``https://`` endpoint) request bodies are sent with an
    unsigned payload (SigV4's ``UNSIGNED-PAYLOAD``, as AWS's own SDKs do over TLS): TLS
    already protects them, and signing means one more SHA-256 of every uploaded byte,
    more than a quarter of the node's CPU per upload (measured: 0.67 s of CPU per
    256 MiB PUT down to 0.48 s).  Over plain HTTP the payload hash is the only integrity check of a
    body in transit, so it stays, unless ``AWS_UNSIGNED_PAYLOAD=true`` says otherwise
    (that variable, read by the client library, decides in both cases when set)."""
    parsed = urlparse(url)
    if not parsed.netloc:
        raise ValueError(f"no bucket in blob store URL {url!r}")
    query = parse_qs(parsed.query)
    unknown = sorted(set(query) - _QUERY_KEYS)
    if unknown:
        raise ValueError(f"unknown parameter(s) {', '.join(unknown)} in {url!r}")
    endpoint = query.get("endpoint", [None])[-1]
    region = query.get("region", [None])[-1]
    prefix = unquote(parsed.path).strip("/") or None
    config: S3Config = {}
    if endpoint:
        config["endpoint"] = endpoint
    if region:
        config["region"] = region
    plain_http = bool(endpoint and endpoint.startswith("http://"))
    if not plain_http and "AWS_UNSIGNED_PAYLOAD" not in os.environ:
        config["unsigned_payload"] = True
    return S3Store(
        parsed.netloc,
        prefix=prefix,
        config=config,
        client_options={
            "allow_http": plain_http,
            "connect_timeout": timedelta(seconds=5),
        },
        retry_config={"max_retries": 3, "retry_timeout": timedelta(seconds=15)},
    )


def _manifest_key(digest: str) -> str:
    return f"{digest[:2]}/{digest[2:4]}/{digest}"


class S3Upload:
    """An upload in progress: a data object being written plus a running SHA-256."""

    def __init__(self, store: ObjectStore, key: str) -> None:
        self._store = store
        self.key = key
        self._writer: WritableFile | None = None
        self._hash = hashlib.sha256()
        self.size = 0
        self.digest: str | None = None
        self.committed = False  # its manifest names it: abort must keep it
        self._aborted = False

    def _open(self) -> WritableFile:
        if self._aborted:
            raise ValueError("write to an aborted upload")
        if self._writer is None:
            with s3_errors("starting an upload"):
                self._writer = obstore.open_writer(
                    self._store, self.key, buffer_size=PART, max_concurrency=PARALLEL_PARTS
                )
        return self._writer

    def write(self, chunk: bytes) -> None:
        if not chunk:
            return
        writer = self._open()
        self._hash.update(chunk)
        with s3_errors("writing an upload"):
            writer.write(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[str, int]:
        """Complete the data object (its last part, or its only PUT); returns (digest,
        size).  Once answered, the object store keeps it."""
        if self.digest is None:
            writer = self._open()
            with s3_errors("finishing an upload"):
                writer.close()
            self.digest = self._hash.hexdigest()
        return self.digest, self.size

    def abort(self) -> None:
        """Drop the data object, unless a manifest names it (idempotent).  An unfinished
        multipart upload is just abandoned (module doc)."""
        if self.committed or self._aborted:
            return
        self._aborted = True
        if self.digest is None:
            self._writer = None  # never completed: no object exists under ``key``
            return
        with s3_errors("dropping an upload"):
            obstore.delete(self._store, self.key)


class S3BlobStore:
    """``BlobStore`` over an object store (module doc)."""

    durable = True

    def __init__(self, store: ObjectStore, orphan_age: float = DATA_MIN_AGE,
                 verify_reads: bool = False) -> None:  # fmt: skip
        self._store = store
        self.orphan_age = orphan_age
        self.verify_reads = verify_reads

    @classmethod
    def from_url(cls, url: str) -> S3BlobStore:
        """The store of ``s3://bucket/prefix?endpoint=URL&region=NAME&orphan_age=SECONDS
        &verify_reads=BOOL`` (``store_from_url``; ``orphan_age``, ``verify_reads``: module
        doc)."""
        query = parse_qs(urlparse(url).query)
        raw = query.get("orphan_age", [str(DATA_MIN_AGE)])[-1]
        try:
            age = float(raw)
        except ValueError:
            age = -1.0
        if not age > 0:
            raise ValueError(f"orphan_age must be a positive number of seconds in {url!r}")
        verify = _BOOLEANS.get(query.get("verify_reads", ["false"])[-1].lower())
        if verify is None:
            raise ValueError(f"verify_reads must be true or false in {url!r}")
        return cls(store_from_url(url), age, verify)

    def begin(self) -> S3Upload:
        return S3Upload(self._store, f"data/{uuid.uuid4().hex}")

    def commit(self, upload: object) -> bool:
        """Write the manifest of a finished upload; True if the digest was not stored
        before (then the upload's data object is its content), else the data object is
        deleted."""
        assert isinstance(upload, S3Upload)
        digest, size = upload.finish()
        if upload.committed:
            return False
        manifest = json.dumps({"data": upload.key, "size": size}).encode()
        with s3_errors("storing an upload"):
            try:
                obstore.put(self._store, _manifest_key(digest), manifest, mode="create")
            except AlreadyExistsError:  # stored before: this copy is not needed
                upload.abort()
                return False
        upload.committed = True
        return True

    def _manifest(self, digest: str) -> tuple[str, int]:
        """(data key, size) of ``digest``; ``FileNotFoundError`` if it is not stored."""
        with s3_errors("reading a manifest"):
            raw = bytes(obstore.get(self._store, _manifest_key(digest)).bytes())
        entry = json.loads(raw)
        return str(entry["data"]), int(entry["size"])

    def sync(self, digest: str) -> bool:
        """Nothing to flush (an answered PUT is durable); False if it is not stored."""
        try:
            with s3_errors("looking up content"):
                obstore.head(self._store, _manifest_key(digest))
        except FileNotFoundError:
            return False
        return True

    def verify(self, digest: str) -> bool:
        """Whether the content is stored whole: its bytes, read back, hash to ``digest``
        and are as many as its manifest says."""
        try:
            key, size = self._manifest(digest)
            sha = hashlib.sha256()
            count = 0
            with s3_errors("verifying content"):
                for chunk in obstore.get(self._store, key).stream(min_chunk_size=PART):
                    sha.update(chunk)
                    count += len(chunk)
        except FileNotFoundError:
            return False
        return count == size and sha.hexdigest() == digest

    def open(self, digest: str) -> BinaryIO:
        """A reader of the content (``s3_reader``): one request here, one per read.  Its
        ``verify_reads`` says whether a GET of it is hashed (module doc)."""
        key, size = self._manifest(digest)
        return S3Reader(self._store, key, size, self.verify_reads, digest)  # type: ignore[return-value]

    def path(self, digest: str) -> Path | None:
        return None

    def delete(self, digest: str) -> None:
        """The manifest first, then the data: a crash in between leaves only an
        unnamed data object for ``sweep_data``, never a manifest naming nothing."""
        try:
            key, _ = self._manifest(digest)
        except FileNotFoundError:
            return
        with s3_errors("deleting content"):
            obstore.delete(self._store, _manifest_key(digest))
            obstore.delete(self._store, key)

    def digests(self) -> Iterator[str]:
        with s3_errors("listing content"):
            for batch in obstore.list(self._store, chunk_size=1000):
                for meta in batch:
                    match = _MANIFEST_KEY.fullmatch(meta["path"])
                    if match is not None:
                        yield match.group(1)

    def orphans(self, min_age: float | None = None) -> list[str]:
        """Keys of the data objects no manifest names and older than ``min_age``
        seconds (``orphan_age`` by default).  Reads every manifest."""
        named: set[str] = set()
        candidates: list[str] = []
        cutoff = time.time() - (self.orphan_age if min_age is None else min_age)
        with s3_errors("looking for orphaned content"):
            for batch in obstore.list(self._store, chunk_size=1000):
                for meta in batch:
                    path = meta["path"]
                    match = _MANIFEST_KEY.fullmatch(path)
                    if match is not None:
                        named.add(self._manifest(match.group(1))[0])
                    elif path.startswith("data/") and meta["last_modified"].timestamp() <= cutoff:
                        candidates.append(path)
        return [key for key in candidates if key not in named]

    def sweep_data(self, min_age: float | None = None) -> int:
        """Delete ``orphans(min_age)``; returns how many."""
        orphans = self.orphans(min_age)
        with s3_errors("deleting orphaned content"):
            for key in orphans:
                obstore.delete(self._store, key)
        return len(orphans)
