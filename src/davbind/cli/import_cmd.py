"""``davbind import DIR URL``: bring an existing local tree into a WebDAV collection.

The contents of DIR go into the collection URL (created with its parents when missing),
like ``rclone copy DIR remote:path``.  Any WebDAV server works; on davbind the content is
stored once however many files share it (its store is content-addressed).

The rules it keeps:

- Resumable: a file already at the target with the same size and a modification time
  no older than the local one (whole seconds) is not sent again, so rerunning after an
  interrupt sends only what is missing or changed.  The comparison holds whether or not
  the server kept the times: a kept time equals the local one, an upload time is later.
  ``--all`` sends everything.
- Modification times: each PUT carries ``X-OC-Mtime`` (see ``bulk``); the summary says
  whether the server kept them.  ``DAV:getlastmodified`` is protected (RFC 4918 §15.7),
  so there is no portable way to set it afterwards.
- What is not a directory or a regular file (sockets, devices, symbolic links to
  directories) and names that are not valid UTF-8 are skipped with a note; symbolic
  links to files are uploaded as the file they point to.
- A file that cannot be read or that the server refuses is reported and the others go
  on (exit status 1); a lost connection stops the run (exit status 3).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import click

from davbind.cli.bulk import Pool, Tally, Worker, human_bytes, open_client, tree_progress
from davbind.cli.connection import Options, connection, resolve
from davbind.cli.transfer_cmds import show_progress
from davbind.client import Client, DAVClientError, Entry
from davbind.client.errors import NotFound, TransportError
from davbind.client.hrefs import href_key, normalize_path
from davbind.protocol.paths import encode_segment


@dataclass(frozen=True, slots=True)
class LocalFile:
    """A file to upload: its encoded path below the target, where it is, size, mtime."""

    rel: str
    path: Path
    size: int
    mtime: float


@dataclass(frozen=True, slots=True)
class LocalTree:
    """A scanned directory: collections parents first, files, and what was skipped."""

    dirs: tuple[str, ...]
    files: tuple[LocalFile, ...]
    notes: tuple[str, ...]


def _segment(name: str) -> str | None:
    try:
        return encode_segment(name)
    except UnicodeEncodeError:  # os.fsdecode kept undecodable bytes as surrogates
        return None


def scan(root: Path) -> LocalTree:
    """Every directory and regular file below ``root``, sorted, encoded for URLs."""
    dirs: list[str] = []
    files: list[LocalFile] = []
    notes: list[str] = []
    for folder, dirnames, filenames in os.walk(root):
        here = Path(folder)
        prefix = here.relative_to(root).as_posix()
        encoded_prefix = "" if prefix == "." else _encoded(prefix) + "/"
        keep: list[str] = []
        for name in sorted(dirnames):
            segment = _segment(name)
            if segment is None:
                notes.append(f"skipped {here / name!r}: name is not valid UTF-8")
            elif (here / name).is_symlink():
                notes.append(f"skipped {here / name}: symbolic link to a directory")
            else:
                keep.append(name)
                dirs.append(encoded_prefix + segment)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = here / name
            segment = _segment(name)
            if segment is None:
                notes.append(f"skipped {path!r}: name is not valid UTF-8")
                continue
            try:
                info = path.stat()
            except OSError as exc:
                notes.append(f"skipped {path}: {exc.strerror or exc}")
                continue
            if not path.is_file():
                notes.append(f"skipped {path}: not a regular file")
                continue
            files.append(LocalFile(encoded_prefix + segment, path, info.st_size, info.st_mtime))
    return LocalTree(tuple(dirs), tuple(files), tuple(notes))


def _encoded(rel: str) -> str:
    return "/".join(encode_segment(part) for part in rel.split("/"))


def remote_state(client: Client, path: str) -> dict[str, Entry] | None:
    """What is below the collection ``path`` already, by encoded relative path (every
    binding of a resource counted); None when ``path`` does not exist."""
    try:
        listing = client.walk(path)
    except NotFound:
        return None
    root = listing.root
    if root is not None and not root.collection:
        raise click.UsageError(f"{path} is a file on the server, not a collection")
    prefix = href_key(normalize_path(path)).rstrip("/") + "/"
    found: dict[str, Entry] = {}
    for entry in listing:
        for href in entry.hrefs:
            key = href_key(href)
            if key.startswith(prefix):
                found.setdefault(key[len(prefix) :], entry)
    return found


def already_there(local: LocalFile, remote: Entry | None) -> bool:
    """Same size and a remote time no older than the local one (see the module doc)."""
    if remote is None or remote.collection or remote.size != local.size:
        return False
    modified = remote.modified
    return modified is not None and modified.timestamp() >= int(local.mtime)


@dataclass
class Kept:
    """How many uploads the server stored with their modification time."""

    kept: int = 0

    def summary(self, sent: int) -> str:
        if sent == 0:
            return ""
        if self.kept == sent:
            return "; modification times kept"
        if self.kept == 0:
            return "; modification times NOT kept (the server ignored X-OC-Mtime)"
        return f"; modification times kept for {self.kept} of {sent} files"


@click.command("import")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("url")
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Files sent at once.")  # fmt: skip
@click.option("--all", "send_all", is_flag=True, help="Send every file, even those already there.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def import_cmd(
    opts: Options, source: Path, url: str, jobs: int, send_all: bool, progress: bool | None
) -> None:
    """Copy the contents of the local directory SOURCE into the collection URL, keeping
    modification times where the server allows; rerun to resume."""
    started = time.monotonic()
    target = resolve(url)
    tree = scan(source)
    for note in tree.notes:
        click.echo(f"note: {note}", err=True)
    main = open_client(opts, target)
    try:
        remote = remote_state(main.client, target.path)
        if remote is None:
            main.client.makedirs(target.path)
            remote = {}
        base = href_key(normalize_path(target.path)).rstrip("/") + "/"
        tally = Tally()
        made = 0
        for rel in tree.dirs:
            existing = remote.get(rel)
            if existing is not None and existing.collection:
                continue
            try:
                main.client.mkcol(base + rel + "/")
                made += 1
            except TransportError:
                raise
            except DAVClientError as exc:  # its files fail too, each with its reason
                tally.fail(unquote(rel) + "/", exc)
        todo = [f for f in tree.files if send_all or not already_there(f, remote.get(f.rel))]
        tally.skipped = len(tree.files) - len(todo)
        kept = Kept()
        pool = Pool(opts, target, jobs)
        total = sum(f.size for f in todo)
        with tree_progress("import", len(todo), total, show_progress(progress)) as advance:

            def send(worker: Worker, item: LocalFile) -> None:
                if worker.put(base + item.rel, os.fspath(item.path), item.mtime):
                    with tally.lock:
                        kept.kept += 1
                tally.done(item.size)
                advance(item.size)

            try:
                pool.run(todo, send, tally, lambda f: str(f.path))
            finally:
                pool.close()
    finally:
        main.client.close()
    report(tally, made, url, time.monotonic() - started, kept.summary(tally.files))


def report(tally: Tally, made: int, url: str, seconds: float, times: str) -> None:
    """The summary line on stdout, failures on stderr; exit 1 when anything failed."""
    line = (
        f"imported {tally.files} files ({human_bytes(tally.bytes)}) and {made} directories "
        f"into {url} in {seconds:.1f} s; {tally.skipped} already there{times}"
    )
    tally.finish(line)
