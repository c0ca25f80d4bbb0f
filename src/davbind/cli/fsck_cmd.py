"""``davbind fsck DATA``: find content that is missing or not what its metadata says.

It opens the data directory itself (like ``serve``, the one other command that imports
storage) and may run while the server does: the scan reads one snapshot, and ``--mark``
and ``--remove`` are one write transaction each.  Exit status: 0 when nothing is damaged
or everything found was dealt with (``--mark``, ``--remove --yes``), 1 when damage is
reported and left as it is, 2 for bad usage or a store that cannot be opened.
"""

from __future__ import annotations

from pathlib import Path

import click

from davbind.storage import fsck
from davbind.storage.model import StorageError
from davbind.storage.open import default_urls, open_blobs, open_metadata


@click.command("fsck")
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--quick", is_flag=True,
              help="Check that content exists with the right size; do not hash it.")
@click.option("--mark", is_flag=True,
              help="Record what is damaged: GET and HEAD of it then answer 500 at once.")
@click.option("--remove", is_flag=True,
              help="Unbind every resource whose content is damaged (needs --yes).")
@click.option("--yes", is_flag=True, help="Confirm --remove.")
def fsck_cmd(data_dir: Path, quick: bool, mark: bool, remove: bool, yes: bool) -> None:
    """Check every stored content against its size and SHA-256 digest."""
    if mark and remove:
        _fail("--mark and --remove exclude each other", 2)
    if not (data_dir / "meta.sqlite3").is_file():
        _fail(f"{data_dir} is not a davbind data directory (no meta.sqlite3)", 2)
    meta_url, blobs_url = default_urls(data_dir)
    try:
        blobs = open_blobs(blobs_url)
        store = open_metadata(meta_url, blobs)
    except (StorageError, OSError) as exc:
        _fail(f"cannot open {data_dir}: {exc}", 2)
        return
    try:
        found = list(fsck.scan(store, blobs, quick=quick))
        for damage in found:
            where = ", ".join(damage.paths) or "(no path from the root)"
            click.echo(f"{where}: {damage.reason} (content {damage.digest})")
        kind = "existence and size" if quick else "existence, size and digest"
        click.echo(f"{len(found)} damaged content(s) found ({kind} checked)", err=True)
        if mark:
            fsck.mark(store, found)
            click.echo(f"marked {len(found)} content(s): GET and HEAD answer 500", err=True)
        elif remove and found:
            if not yes:
                count = sum(len(d.keys) for d in found)
                _fail(f"--remove would unbind {count} resource(s): add --yes to do it", 1)
            removed = fsck.remove(store, found)
            click.echo(f"removed {removed} binding(s)", err=True)
        elif found:
            raise SystemExit(1)
    except StorageError as exc:
        _fail(str(exc), 1)
    finally:
        store.close()


def _fail(message: str, code: int) -> None:
    click.echo(f"davbind fsck: {message}", err=True)
    raise SystemExit(code)
