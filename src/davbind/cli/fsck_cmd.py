"""``davbind fsck DATA``: find content that is missing or not what its metadata says.

It opens the store itself (like ``serve``, the one other command that imports storage),
found as ``serve`` finds it: the data directory, or ``metadata_url`` and ``blobs_url``
from ``--config`` or the ``DAVBIND_*`` environment (a PostgreSQL database, an S3
bucket), read by the server's own settings loader.  It may run while servers do: the
scan reads one snapshot, and ``--mark`` and ``--remove`` are one write transaction
each.  Exit status: 0 when nothing is damaged or everything found was dealt with
(``--mark``, ``--remove --yes``), 1 when damage is reported and left as it is, 2 for bad
usage or a store that cannot be opened.
"""

from __future__ import annotations

from pathlib import Path

import click

from davbind.server.settings import SettingsError, load_settings
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
@click.option("--config", "config_file", default=None, type=click.Path(exists=True),
              help="The server's TOML configuration file (metadata_url, blobs_url).")
def fsck_cmd(
    data_dir: Path, quick: bool, mark: bool, remove: bool, yes: bool, config_file: str | None
) -> None:
    """Check every stored content against its size and SHA-256 digest."""
    if mark and remove:
        _fail("--mark and --remove exclude each other", 2)
    try:
        settings = load_settings(config_file, {"data_dir": str(data_dir)})
    except SettingsError as exc:
        _fail(str(exc), 2)
        return
    meta_url, blobs_url = settings.metadata_url, settings.blobs_url
    if meta_url == default_urls(data_dir)[0] and not (data_dir / "meta.sqlite3").is_file():
        _fail(f"{data_dir} is not a davbind data directory (no meta.sqlite3)", 2)
    try:
        blobs = open_blobs(blobs_url)
        store = open_metadata(meta_url, blobs)
    except (StorageError, OSError, ValueError) as exc:
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
