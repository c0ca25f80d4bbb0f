"""Content-addressed blob store on the local file system (``file:///path``, DESIGN.md).

Blobs live at ``<root>/ab/cd/<sha256>``.  An upload streams into ``<root>/tmp/`` while it
is hashed, is fsynced, and is renamed into place only when the metadata transaction that
references it runs (``commit``), so a crash never leaves a half-written blob under a
digest name.  Identical content is stored once: committing a digest that exists already
just drops the temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


class FileUpload:
    """An upload in progress: a temporary file plus a running SHA-256."""

    def __init__(self, tmp_dir: Path) -> None:
        fd, name = tempfile.mkstemp(dir=tmp_dir, prefix="up-")
        self._file = os.fdopen(fd, "wb", buffering=0)
        self.tmp_path = Path(name)
        self._hash = hashlib.sha256()
        self.size = 0
        self.digest: str | None = None

    def write(self, chunk: bytes) -> None:
        self._file.write(chunk)
        self._hash.update(chunk)
        self.size += len(chunk)

    def finish(self) -> tuple[str, int]:
        if self.digest is None:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self.digest = self._hash.hexdigest()
        return self.digest, self.size

    def abort(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self.tmp_path.unlink()


class FileBlobStore:
    """``BlobStore`` over a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._root_str = str(root)
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def _final(self, digest: str) -> Path:
        return Path(self._final_str(digest))

    def _final_str(self, digest: str) -> str:
        # plain strings: pathlib joins cost more than the read itself for small blobs
        return f"{self._root_str}/{digest[:2]}/{digest[2:4]}/{digest}"

    def begin(self) -> FileUpload:
        return FileUpload(self.tmp)

    def commit(self, upload: object) -> None:
        assert isinstance(upload, FileUpload)
        digest, _ = upload.finish()
        final = self._final(digest)
        if final.exists():
            upload.abort()
            return
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(upload.tmp_path, final)
        dir_fd = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def open(self, digest: str) -> BinaryIO:
        return open(self._final(digest), "rb")

    def path(self, digest: str) -> Path | None:
        return self._final(digest)

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._final(digest).unlink()

    def digests(self) -> Iterator[str]:
        for sub in self.root.glob("??/??/*"):
            if len(sub.name) == 64:
                yield sub.name

    def sweep_tmp(self) -> int:
        """Remove temporary files left by interrupted uploads (call before serving)."""
        n = 0
        for f in self.tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                f.unlink()
                n += 1
        return n
