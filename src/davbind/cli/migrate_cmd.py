"""``davbind migrate --from … --to …``: copy a whole store to other backends.

Like ``serve`` and ``fsck`` it opens stores itself (``storage.migrate`` does the work).
Exit status: 0 when the target holds a verified copy, 1 when the copy cannot be made
(damaged content in the source, a target that is not empty, schemas that differ), 2 for
bad usage or a store that cannot be opened.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import click

from davbind.storage.migrate import Endpoints, MigrationError, Progress, migrate
from davbind.storage.model import StorageError
from davbind.storage.open import default_urls


def _endpoints(where: str, blobs: str | None, option: str) -> Endpoints:
    """A data directory or a metadata URL, plus the blob URL (a SQLite file's default
    blob store is the ``blobs`` directory next to it)."""
    scheme = urlparse(where).scheme
    if not scheme:
        meta, default = default_urls(Path(where))
        return Endpoints(meta, blobs or default)
    if blobs:
        return Endpoints(where, blobs)
    if scheme == "sqlite":
        return Endpoints(where, default_urls(Path(urlparse(where).path).parent)[1])
    raise click.UsageError(f"{option} is needed with a {scheme}:// metadata store")


class _Reporter:
    """Progress on stderr: each phase's start and end, and a line every few seconds."""

    def __init__(self) -> None:
        self._phase = ""
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if p.phase != self._phase:
            self._phase = p.phase
            what = "contents" if p.phase == "content" else "tables"
            click.echo(f"copying {p.total} {what}…", err=True)
        if p.done == p.total or now - self._last >= 5:
            self._last = now
            click.echo(f"  {p.phase}: {p.done}/{p.total}", err=True)


@click.command("migrate")
@click.option("--from", "source", required=True, metavar="URL|DIR",
              help="Source metadata store: sqlite:///…/meta.sqlite3, postgresql://…, "
                   "or a data directory.")
@click.option("--to", "target", required=True, metavar="URL|DIR",
              help="Target metadata store (new and empty, or an earlier copy of the source).")
@click.option("--blobs-from", metavar="URL",
              help="Source content: file:///… or s3://bucket/prefix?endpoint=… "
                   "(default: the blobs directory next to a SQLite source).")
@click.option("--blobs-to", metavar="URL", help="Target content (default as for --blobs-from).")
@click.option("--jobs", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Contents copied at a time.")
def migrate_cmd(source: str, target: str, blobs_from: str | None, blobs_to: str | None,
                jobs: int) -> None:  # fmt: skip
    """Copy a whole store (metadata and content) to other backends.

    \b
    Everything is copied with its keys and ids: resources, bindings (loops and several
    bindings to one resource included), dead properties, locks, users, app passwords and
    their key, inline content, damage marks. Stop the servers of the source first.

    \b
    1. Content: every stored content is streamed to the target blob store and hashed on
       the way; a content whose bytes do not match its digest stops the run, naming the
       resources that show it. Content the target already holds whole is skipped.
    2. Metadata: every table, in one transaction of the target. An interruption rolls
       it back whole, leaving the target's metadata empty.

    \b
    Interrupted? Run the same command again: copied content is skipped, the metadata is
    copied anew. The target's metadata must be empty, or hold a finished copy of this
    source (then it is verified and nothing is written). After the copy every table is
    compared row for row with the source.

    \b
    davbind migrate --from /srv/davbind --to postgresql://davbind@db/davbind \\
        --blobs-to 's3://bucket/davbind?endpoint=https://s3.example.net'
    """
    src = _endpoints(source, blobs_from, "--blobs-from")
    dst = _endpoints(target, blobs_to, "--blobs-to")
    started = time.monotonic()
    try:
        report = migrate(src, dst, jobs=jobs, progress=_Reporter())
    except MigrationError as exc:
        _fail(str(exc), 1)
        return
    except (StorageError, OSError, ValueError) as exc:
        _fail(f"cannot open or use a store: {exc}", 2)
        return
    if report.already_done:
        click.echo("the target already holds a copy of this source: verified, table by "
                   "table; nothing written", err=True)  # fmt: skip
        return
    rows = sum(report.rows.values())
    click.echo(
        f"copied {report.copied} content(s) ({report.bytes_copied} bytes; "
        f"{report.skipped} already in the target) and {rows} row(s) of "
        f"{len(report.rows)} tables in {time.monotonic() - started:.1f} s; verified",
        err=True,
    )


def _fail(message: str, code: int) -> None:
    click.echo(f"davbind migrate: {message}", err=True)
    sys.exit(code)
