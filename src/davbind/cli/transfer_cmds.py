"""``davbind get`` and ``davbind put``: files between here and the server.

The rules kept here:

- Downloads land like ``curl -o`` / ``wget`` leave them: mode 0666 less the umask, written
  to a temporary name beside the destination and renamed into place only when complete
  (an interrupted download never leaves a truncated file under the final name).
  ``--no-clobber`` never replaces an existing local file; a file never replaces a local
  directory; ``get`` of a collection needs ``-r`` (as ``rm`` does).
- Uploads are labelled with the media type guessed from the file name (as ``curl -T``
  does; RFC 9110 §8.3), so a browser shows a ``.txt`` or ``.svg`` instead of saving it;
  ``--content-type`` overrides the guess.

Location arguments, credentials and exit codes: see ``connection``.
"""

from __future__ import annotations

import contextlib
import mimetypes
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote

import click

from davbind.cli.connection import Options, connection, fail, resolve
from davbind.client import Client, TreeNode
from davbind.client.errors import ProtocolError, StatusError
from davbind.client.hrefs import href_key

BIG = 1024 * 1024  # transfers from this size get a progress bar on a terminal
COMPRESSED = {"gzip": "application/gzip", "bzip2": "application/x-bzip2",
              "xz": "application/x-xz", "br": "application/x-brotli",
              "compress": "application/x-compress"}  # fmt: skip


def transfer_bar(*leading: Any) -> Any:
    """A rich ``Progress`` on stderr: the ``leading`` columns, then bar, bytes, speed and
    time left (rich is imported only when a bar is shown)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )  # fmt: skip

    columns = (*leading, BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())  # fmt: skip
    return Progress(*columns, console=Console(stderr=True), transient=True)


@contextlib.contextmanager
def progress_bar(label_: str, enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A rich progress bar on stderr when ``enabled`` and the transfer turns out big."""
    if not enabled:
        yield None
        return
    from rich.progress import TextColumn

    bar = transfer_bar(TextColumn("{task.description}"))
    task = bar.add_task(label_, total=None, visible=False)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total, visible=(total or done) >= BIG)

    with bar:
        yield update


def show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


# --------------------------------------------------------------------------- local files


class Clobber(Exception):
    """The local destination exists and may not be replaced."""


@contextlib.contextmanager
def local_file(target: Path, no_clobber: bool) -> Iterator[IO[bytes]]:
    """A new file to write ``target`` into, put in place when the block ends cleanly."""
    if target.is_dir():
        raise Clobber(f"{target} is a directory; not replacing it with a file")
    if no_clobber and target.exists():
        raise Clobber(f"{target} exists (--no-clobber)")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.part")
    # O_EXCL: never write through a link planted under the temporary name; 0o666 and
    # the umask give the mode curl and wget give (mkstemp would give 0600).
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        _place(tmp, target, no_clobber)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _place(tmp: Path, target: Path, no_clobber: bool) -> None:
    if not no_clobber:
        if target.is_dir():  # appeared during the download
            raise Clobber(f"{target} is a directory; not replacing it with a file")
        os.replace(tmp, target)
        return
    try:  # a hard link fails if the name is taken meanwhile: no check-then-act race
        os.link(tmp, target)
    except FileExistsError:
        raise Clobber(f"{target} exists (--no-clobber)") from None
    except OSError:  # no hard links on this file system
        if target.exists():
            raise Clobber(f"{target} exists (--no-clobber)") from None
        os.replace(tmp, target)
        return
    os.unlink(tmp)


def _download(client: Client, href: str, out: Path, no_clobber: bool, show: bool) -> None:
    with progress_bar(out.name, show) as update, local_file(out, no_clobber) as stream:
        client.get(href, stream, progress=update)


# --------------------------------------------------------------------------- get


@click.command("get")
@click.argument("url")
@click.argument("dest", required=False)
@click.option("-r", "--recursive", is_flag=True, help="Download a collection and its members.")
@click.option("-n", "--no-clobber", is_flag=True,
              help="Never replace a local file (with -r: skip it and say so).")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def get_cmd(opts: Options, url: str, dest: str | None, recursive: bool, no_clobber: bool,
            progress: bool | None) -> None:  # fmt: skip
    """Download URL to DEST (default: its name here; "-" for standard output)."""
    target = resolve(url)
    name = unquote(href_key(target.path).rsplit("/", 1)[-1])
    try:
        with opts.client(target) as client:
            if recursive:
                _get_tree(client, target.path, Path(dest or name or "."), no_clobber)
                return
            if _is_collection(client, target.path):
                raise click.UsageError(f"{url} is a collection (use -r)")
            if dest == "-":
                client.get(target.path, sys.stdout.buffer)
                return
            out = Path(dest) if dest else Path(name)
            if out.is_dir():
                out = out / name
            _download(client, target.path, out, no_clobber, show_progress(progress))
    except Clobber as exc:
        raise fail(str(exc), 1) from exc


def _is_collection(client: Client, path: str) -> bool:
    """Asked before a GET (whose answer for a collection is whatever page the server
    makes of it); a server that will not say leaves it to the GET to succeed or fail."""
    try:
        entry = client.propfind(path, "0", ["{DAV:}resourcetype"]).root
    except (StatusError, ProtocolError):
        return False
    return entry is not None and entry.collection


def _get_tree(client: Client, path: str, dest: Path, no_clobber: bool) -> None:
    """Each resource downloaded once; another binding of a file becomes a hard link."""
    listing = client.walk(path)
    root = listing.tree()
    local: dict[str, Path] = {}
    stack: list[tuple[TreeNode, Path]] = [(root, dest)]
    while stack:
        node, where = stack.pop()
        if node.entry.collection:
            if node.kind != "resource":
                click.echo(f"skipped {node.href}: same collection as {node.entry.href}", err=True)
                continue
            if where.exists() and not where.is_dir():
                raise Clobber(f"{where} is a file; not replacing it with a directory")
            where.mkdir(parents=True, exist_ok=True)
            stack.extend((c, where / c.name) for c in reversed(node.children))
            continue
        if no_clobber and (where.exists() or where.is_symlink()):
            click.echo(f"kept {where}: it exists (--no-clobber)", err=True)
            continue
        first = local.get(node.entry.href)
        if first is not None and not where.exists():
            with contextlib.suppress(OSError):
                os.link(first, where)
                continue
        _download(client, node.href, where, no_clobber, False)
        local.setdefault(node.entry.href, where)


# --------------------------------------------------------------------------- put


def guess_type(name: str) -> str:
    """The media type of a file name, as ``curl -T`` picks it; a compressed file is its
    compression format (``.tar.gz`` is ``application/gzip``)."""
    kind, encoding = mimetypes.guess_type(name, strict=False)
    if encoding is not None:
        return COMPRESSED.get(encoding, "application/octet-stream")
    return kind or "application/octet-stream"


@click.command("put")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Upload directories and their contents.")
@click.option("--content-type", metavar="TYPE",
              help="Media type of every file sent [guessed from each name].")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def put_cmd(opts: Options, sources: tuple[str, ...], url: str, recursive: bool,
            content_type: str | None, progress: bool | None) -> None:  # fmt: skip
    """Upload SOURCES to URL (into it when URL ends in "/" or there are several)."""
    target = resolve(url)
    into = target.path.endswith("/") or len(sources) > 1
    show = show_progress(progress)
    with opts.client(target) as client:
        for source in sources:
            src = Path(source)
            remote = target.path.rstrip("/") + "/" + src.name if into else target.path
            if src.is_dir():
                if not recursive:
                    raise click.UsageError(f"{source} is a directory (use -r)")
                _put_tree(client, src, remote, content_type, show)
            else:
                _put_file(client, src, remote, content_type, show)


def _put_file(client: Client, src: Path, remote: str, content_type: str | None,
              show: bool) -> None:  # fmt: skip
    with progress_bar(src.name, show) as update:
        client.put(remote, src, content_type=content_type or guess_type(src.name),
                   progress=update)  # fmt: skip


def _put_tree(client: Client, src: Path, remote: str, content_type: str | None,
              show: bool) -> None:  # fmt: skip
    client.makedirs(remote)
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        rel = Path(folder).relative_to(src).as_posix()
        base = remote.rstrip("/") + ("" if rel == "." else "/" + rel)
        for name in dirs:
            client.makedirs(f"{base}/{name}")
        for name in sorted(files):
            _put_file(client, Path(folder) / name, f"{base}/{name}", content_type, show)
