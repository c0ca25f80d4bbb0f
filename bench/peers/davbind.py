"""davbind itself: ``davbind serve`` with its own store, filled over HTTP by the harness."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import ClassVar

from peers import Server, pip_version


class Davbind(Server):
    name = "davbind"
    kind = "subject"
    filesystem = False
    description = "davbind serve (uvicorn, httptools, uvloop; SQLite + content-addressed blobs)"
    workers = 2  # the harness may change it (--davbind-workers)
    durability = "standard"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "davbind.cli.main", "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data", str(self.workdir / "store"), "--workers", str(self.workers),
            "--durability", self.durability,
        ]  # fmt: skip

    @classmethod
    def missing(cls) -> str | None:
        return None if pip_version("davbind") else "davbind is not installed (pip install -e .)"

    def versions(self) -> dict[str, str | None]:
        here = Path(__file__).resolve().parent
        try:
            out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=here,
                                 capture_output=True, text=True, timeout=5)
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=here, capture_output=True, text=True, timeout=5)
            commit = out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
        except (OSError, subprocess.TimeoutExpired):
            commit = ""
        return {
            "davbind": pip_version("davbind"), "commit": commit or None,
            "uvicorn": pip_version("uvicorn"), "httptools": pip_version("httptools"),
            "uvloop": pip_version("uvloop"),
        }  # fmt: skip


class DavbindStrict(Davbind):
    """Reference: davbind with ``--durability strict`` (a write is answered once it is on
    disk), for the write tests only: what durable answers cost next to the default."""

    name = "davbind-strict"
    kind = "reference"
    tests = frozenset({"big", "puts"})
    description = "davbind serve --durability strict (answers writes once on disk); writes only"
    durability = "strict"


class DavbindShared(Davbind):
    """davbind with its metadata in PostgreSQL and its content in an S3 object store (the
    deployment of several nodes), filled and measured like ``davbind``.  Only started
    when the harness is given both URLs (``--davbind-metadata-url``,
    ``--davbind-blobs-url``); the S3 credentials come from the ``AWS_*`` environment."""

    name = "davbind-pg"
    description = "davbind serve on PostgreSQL (metadata) + S3 object store (content)"
    metadata_url: ClassVar[str] = ""  # set by the harness from its options
    blobs_url: ClassVar[str] = ""

    @classmethod
    def missing(cls) -> str | None:
        if not (cls.metadata_url and cls.blobs_url):
            return "needs --davbind-metadata-url and --davbind-blobs-url"
        return super().missing()

    def env(self) -> dict[str, str]:
        return {**super().env(), "DAVBIND_METADATA_URL": self.metadata_url,
                "DAVBIND_BLOBS_URL": self.blobs_url}
