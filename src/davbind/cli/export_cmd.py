"""``davbind export URL DIR``: take a tree out of a WebDAV server into a local directory.

The members of the collection URL go into DIR (created when missing), the mirror of
``davbind import``.  The listing is ``Client.walk``: one Depth-infinity PROPFIND with
``DAV: bind`` where the server allows it, else a Depth-1 walk.

The rules it keeps:

- Each file resource is downloaded once.  Its other paths — the same ``DAV:resource-id``
  (RFC 5842 §3.1) — become hard links to the first one, or copies where the file system
  refuses links (another device, no link support).
- A collection bound at several paths is written out under each of them (directories
  cannot be hard-linked), its files linked as above.  A binding that leads back into a
  collection it is inside of (a binding loop, RFC 5842 §2.2) is skipped with a note.
- A member name that cannot be a local file name (``.``, ``..``, containing ``/`` or NUL
  once decoded) is skipped with a note: nothing is ever written outside DIR.
- Modification times come from ``DAV:getlastmodified`` (``os.utime``), directories last
  so that writing their members does not change them again.
- Resumable: a local file of the same size and modification time is not fetched again;
  a download lands under a temporary name and is renamed only when complete.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import click

from davbind.cli.bulk import Pool, Tally, Worker, human_bytes, open_client, tree_progress
from davbind.cli.connection import Options, connection, resolve
from davbind.cli.transfer_cmds import show_progress
from davbind.client import Entry, Listing, TreeNode


@dataclass
class Plan:
    """Where every resource of a listing goes locally."""

    dirs: list[tuple[Path, Entry]] = field(default_factory=list)
    files: dict[str, tuple[Entry, list[Path]]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add_file(self, entry: Entry, where: Path) -> None:
        self.files.setdefault(entry.href, (entry, []))[1].append(where)


def _safe_name(name: str) -> bool:
    return name not in ("", ".", "..") and "/" not in name and "\x00" not in name


def plan(listing: Listing, dest: Path) -> Plan:
    """Walk the tree view of ``listing`` into local paths below ``dest`` (see module doc).

    Iterative, so a deep tree cannot exhaust the stack; ``ancestors`` holds the
    collections a path is inside of, which is what makes a binding a loop."""
    result = Plan()
    root = listing.tree()
    canonical = {node.entry.href: node for node in _nodes(root) if node.kind == "resource"}
    if not root.entry.collection:
        result.add_file(root.entry, dest / root.name)
        return result
    stack: list[tuple[TreeNode, Path, frozenset[str]]] = [(root, dest, frozenset())]
    while stack:
        node, where, ancestors = stack.pop()
        entry = node.entry
        if not entry.collection:
            result.add_file(entry, where)
            continue
        if entry.href in ancestors:
            result.notes.append(f"skipped {where}: binding loop back to {entry.href}")
            continue
        result.dirs.append((where, entry))
        inside = ancestors | {entry.href}
        source = canonical.get(entry.href, node)
        for child in reversed(source.children):
            if _safe_name(child.name):
                stack.append((child, where / child.name, inside))
            else:
                result.notes.append(f"skipped {child.href}: {child.name!r} is not a file name")
    return result


def _nodes(root: TreeNode) -> Iterator[TreeNode]:
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(node.children)


def _mtime(entry: Entry) -> float | None:
    modified = entry.modified
    return modified.timestamp() if modified is not None else None


def up_to_date(path: Path, entry: Entry) -> bool:
    """A local copy from an earlier run: same size and same modification time."""
    mtime = _mtime(entry)
    try:
        info = path.stat()
    except OSError:
        return False
    return (
        path.is_file() and mtime is not None and info.st_size == entry.size
        and int(info.st_mtime) == int(mtime)
    )  # fmt: skip


def file_mode() -> int:
    """The mode a new file gets here (downloads land in a private temporary file)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def set_mtime(path: Path, entry: Entry) -> None:
    mtime = _mtime(entry)
    if mtime is not None:
        os.utime(path, (mtime, mtime), follow_symlinks=False)


@dataclass
class Links:
    linked: int = 0
    copied: int = 0


def place(first: Path, other: Path, links: Links) -> None:
    """``other`` becomes a hard link to ``first``, else a copy of it."""
    if other.exists():
        if other.is_file() and os.path.samefile(first, other):
            return
        other.unlink()
    try:
        os.link(first, other)
        links.linked += 1
    except OSError:
        shutil.copy2(first, other)
        links.copied += 1


@click.command("export")
@click.argument("url")
@click.argument("dest", type=click.Path(file_okay=False, path_type=Path))
@click.option("-j", "--jobs", type=click.IntRange(1, 64), default=4, show_default=True,
              help="Files fetched at once.")  # fmt: skip
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def export_cmd(opts: Options, url: str, dest: Path, jobs: int, progress: bool | None) -> None:
    """Copy everything below URL into the local directory DEST: several bindings of a file
    become hard links, modification times are kept; rerun to resume."""
    started = time.monotonic()
    target = resolve(url)
    main = open_client(opts, target)
    try:
        listing = main.client.walk(target.path)
    finally:
        main.client.close()
    if listing.note:
        click.echo(f"note: {listing.note}", err=True)
    layout = plan(listing, dest)
    for note in layout.notes:
        click.echo(f"note: {note}", err=True)
    dest.mkdir(parents=True, exist_ok=True)
    for where, _ in layout.dirs:
        where.mkdir(parents=True, exist_ok=True)
    tally = Tally()
    todo = []
    for entry, paths in layout.files.values():
        if up_to_date(paths[0], entry):
            tally.skipped += 1
        else:
            todo.append((entry, paths[0]))
    total = sum(entry.size or 0 for entry, _ in todo)
    mode = file_mode()

    with tree_progress("export", len(todo), total, show_progress(progress)) as advance:

        def fetch(worker: Worker, item: tuple[Entry, Path]) -> None:
            entry, where = item
            size = worker.client.get(entry.href, where)
            os.chmod(where, mode)
            set_mtime(where, entry)
            tally.done(size)
            advance(size)

        pool = Pool(opts, target, jobs)
        try:
            pool.run(todo, fetch, tally, lambda item: item[0].href)
        finally:
            pool.close()
    links = Links()
    for _, paths in layout.files.values():
        if not paths[0].is_file():  # its download failed, and is reported
            continue
        for other in paths[1:]:
            try:
                place(paths[0], other, links)
            except OSError as exc:
                tally.fail(str(other), exc.strerror or exc)
    for where, entry in reversed(layout.dirs):
        set_mtime(where, entry)
    report(tally, layout, links, url, dest, time.monotonic() - started)


def report(tally: Tally, layout: Plan, links: Links, url: str, dest: Path, seconds: float) -> None:
    """The summary line on stdout, failures on stderr; exit 1 when anything failed."""
    loops = sum(1 for note in layout.notes if "binding loop" in note)
    dirs = sum(1 for where, _ in layout.dirs if where != dest)
    line = (
        f"exported {tally.files} files ({human_bytes(tally.bytes)}) and {dirs} directories "
        f"from {url} to {dest} in {seconds:.1f} s; "
        f"{tally.skipped} already there, {links.linked} hard links, {links.copied} copies"
    )
    if loops:
        line += f", {loops} binding loops skipped"
    tally.finish(line)
