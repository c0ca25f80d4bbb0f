"""Client commands: ``ls``, ``tree``, ``info``, ``get``, ``put``, ``mkdir``, ``rm``, ``mv``,
``cp``, ``bind``, ``unbind``, ``rebind`` — each a few lines over ``davbind.client``.

Listings come from ``Client.ls`` / ``Client.walk``, so every resource is shown once and
its other bindings are marked (``-> /canonical (alias)``, ``(loop)`` when the binding leads
back into itself, RFC 5842 §2, §7); ``--json`` prints one object per resource with at
least ``href``, ``resource_id``, ``collection``, ``size`` and ``aliases``.

Arguments are URLs (``http://host:port/path``); the second argument of ``mv``, ``cp``,
``bind`` and ``rebind`` may be a bare path on the same server.  Credentials: ``--user`` /
``--password``, else ``DAVBIND_USER`` / ``DAVBIND_PASSWORD``, else ``user:pass@`` in the
URL, else ``~/.netrc``.  Exit codes: 0 done, 1 the server refused (the message names the
status, the precondition and the server's reason), 2 usage, 3 no connection, 4 the answer
was not valid WebDAV.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import click

from davbind.client import Client, DAVClientError, Entry, Listing, PropValue, TreeNode
from davbind.client.auth import credentials_from_netrc
from davbind.client.errors import NotFound, ProtocolError, StatusError, TransportError
from davbind.client.hrefs import href_key
from davbind.client.listing import binding_kind

F = TypeVar("F", bound=Callable[..., Any])
BIG = 1024 * 1024  # transfers from this size get a progress bar on a terminal


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed URL argument: the server root, credentials in it, the path on the server."""

    base: str
    path: str
    auth: tuple[str, str] | None


def parse_url(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    auth = None
    if parts.username:
        auth = (unquote(parts.username), unquote(parts.password or ""))
    netloc = parts.netloc.rpartition("@")[2]
    return Target(f"{parts.scheme}://{netloc}/", parts.path or "/", auth)


@dataclass(frozen=True, slots=True)
class Options:
    user: str | None
    password: str | None
    insecure: bool
    timeout: float

    def client(self, target: Target) -> Client:
        auth = target.auth
        if self.user:
            auth = (self.user, self.password or "")
        elif auth is None:
            auth = credentials_from_netrc(target.base)
        return Client(target.base, auth=auth, verify=not self.insecure, timeout=self.timeout)


def connection(func: F) -> F:
    """Add the connection options; the command receives ``opts: Options``."""

    @click.option("-u", "--user", envvar="DAVBIND_USER", help="User name [$DAVBIND_USER].")
    @click.option("--password", envvar="DAVBIND_PASSWORD", help="Password [$DAVBIND_PASSWORD].")
    @click.option("-k", "--insecure", is_flag=True, help="Do not verify TLS certificates.")
    @click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds.")
    @functools.wraps(func)
    def wrapper(
        *, user: str | None, password: str | None, insecure: bool, timeout: float, **kwargs: Any
    ) -> Any:
        with reporting():
            return func(opts=Options(user, password, insecure, timeout), **kwargs)

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def reporting() -> Iterator[None]:
    """Client errors become one line on stderr and the exit codes of the module doc."""
    try:
        yield
    except StatusError as exc:
        raise _fail(str(exc), 1) from exc
    except TransportError as exc:
        raise _fail(f"cannot reach the server: {exc}", 3) from exc
    except ProtocolError as exc:
        raise _fail(f"bad answer from the server: {exc}", 4) from exc
    except (DAVClientError, OSError) as exc:
        raise _fail(str(exc), 1) from exc


def _fail(message: str, code: int) -> click.exceptions.Exit:
    click.echo(f"davbind: {message}", err=True)
    return click.exceptions.Exit(code)


def second(first: Target, arg: str) -> str:
    """The server path of a second argument: a URL on the same server, or a bare path."""
    if "://" not in arg:
        return arg
    other = parse_url(arg)
    if other.base != first.base:
        raise click.BadParameter(f"{arg!r} is on another server than {first.base}")
    return other.path


# --------------------------------------------------------------------------- rendering


def entry_json(entry: Entry) -> dict[str, Any]:
    modified = entry.modified
    loops = [h for h in entry.aliases if binding_kind(h, entry) == "loop"]
    return {
        "href": entry.href,
        "resource_id": entry.resource_id,
        "collection": entry.collection,
        "size": entry.size,
        "aliases": list(entry.aliases),
        "loops": loops,
        "status": entry.status,
        "etag": entry.etag,
        "modified": modified.isoformat() if modified is not None else None,
        "content_type": entry.content_type,
        "displayname": entry.displayname,
    }


def label(node: TreeNode) -> str:
    name = node.name + ("/" if node.entry.collection and node.name else "")
    if node.kind == "resource":
        return name or node.href
    return f"{name}  -> {node.entry.href} ({node.kind})"


def long_line(node: TreeNode) -> str:
    entry = node.entry
    kind = "d" if entry.collection else "-"
    size = "-" if entry.size is None else str(entry.size)
    modified = entry.modified
    when = modified.strftime("%Y-%m-%d %H:%M") if modified is not None else "-" * 16
    return f"{kind} {size:>12} {when}  {label(node)}"


def render_tree(root: TreeNode) -> Iterator[str]:
    """``tree``-style lines, iteratively (a deep tree cannot exhaust the stack)."""
    yield label(root)
    stack: list[tuple[TreeNode, str, bool]] = [
        (child, "", i == len(root.children) - 1)
        for i, child in reversed(list(enumerate(root.children)))
    ]
    while stack:
        node, prefix, last = stack.pop()
        yield f"{prefix}{'└── ' if last else '├── '}{label(node)}"
        inner = prefix + ("    " if last else "│   ")
        kids = node.children
        stack.extend((c, inner, i == len(kids) - 1) for i, c in reversed(list(enumerate(kids))))


def summary(listing: Listing) -> str:
    dirs = sum(1 for e in listing if e.collection)
    files = len(listing) - dirs
    aliases = sum(len(e.aliases) for e in listing)
    loops = sum(1 for e in listing for h in e.aliases if binding_kind(h, e) == "loop")
    text = f"{_n(dirs, 'directory', 'directories')}, {_n(files, 'file', 'files')}"
    if aliases:
        text += f", {_n(aliases, 'alias', 'aliases')}"
        text += f" ({_n(loops, 'loop', 'loops')})" if loops else ""
    return text


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


def show_value(value: PropValue) -> str:
    """A property value on one line: its hrefs, its child element names, or its text."""
    if value.hrefs and set(value.children) <= {"{DAV:}href"}:
        return " ".join(value.hrefs)
    if value.children:
        return ", ".join(c.rpartition("}")[2] for c in value.children)
    return " ".join(value.text.split())


# --------------------------------------------------------------------------- listing


@click.command("ls")
@click.argument("url")
@click.option("-l", "long_", is_flag=True, help="Long format: type, size, modification time.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per resource.")
@connection
def ls_cmd(opts: Options, url: str, long_: bool, as_json: bool) -> None:
    """List a collection (Depth 1); several bindings of one resource are marked."""
    target = parse_url(url)
    with opts.client(target) as client:
        listing = client.ls(target.path)
    root = listing.tree()
    nodes = root.children if root.entry.collection else (root,)
    if as_json:
        seen: dict[int, Entry] = {}
        for node in nodes:
            seen.setdefault(id(node.entry), node.entry)
        click.echo(json.dumps([entry_json(e) for e in seen.values()], indent=2))
        return
    for node in nodes:
        click.echo(long_line(node) if long_ else label(node))


@click.command("tree")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per resource.")
@click.option("--max-depth", type=int, default=None, help="Depth limit of a Depth-1 walk.")
@connection
def tree_cmd(opts: Options, url: str, as_json: bool, max_depth: int | None) -> None:
    """Everything below URL, each resource once; aliases and loops are marked."""
    target = parse_url(url)
    with opts.client(target) as client:
        listing = client.walk(target.path, max_depth=max_depth)
    if listing.note:
        click.echo(f"note: {listing.note}", err=True)
    if as_json:
        click.echo(json.dumps([entry_json(e) for e in listing], indent=2))
        return
    for root in listing.roots():
        for line in render_tree(root):
            click.echo(line)
    click.echo(f"\n{summary(listing)}")


@click.command("info")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="JSON object.")
@connection
def info_cmd(opts: Options, url: str, as_json: bool) -> None:
    """All properties of one resource, resource-id and parent-set included."""
    target = parse_url(url)
    with opts.client(target) as client:
        entry = client.info(target.path)
    tail = "/" if entry.collection else ""
    paths = [p.href.rstrip("/") + "/" + p.segment + tail for p in entry.parents]
    if as_json:
        data = entry_json(entry)
        data["paths"] = paths
        data["parents"] = [{"href": p.href, "segment": p.segment} for p in entry.parents]
        data["props"] = {n: (v.xml or v.text) for n, v in entry.props.items()}
        click.echo(json.dumps(data, indent=2))
        return
    rows = [("href", entry.href), ("resource-id", entry.resource_id or "-"),
            ("type", "collection" if entry.collection else "file"),
            ("size", "-" if entry.size is None else str(entry.size))]  # fmt: skip
    rows += [("binding", p) for p in paths]
    for key, text in rows:
        click.echo(f"{key + ':':<13}{text}")
    click.echo("properties:")
    for prop, value in sorted(entry.props.items()):
        if prop != "{DAV:}parent-set":
            click.echo(f"  {prop}: {show_value(value)}")


# --------------------------------------------------------------------------- transfers


@contextlib.contextmanager
def progress_bar(label_: str, enabled: bool) -> Iterator[Callable[[int, int | None], None] | None]:
    """A rich progress bar on stderr when ``enabled`` and the transfer turns out big."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )  # fmt: skip

    bar = Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                   TransferSpeedColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)  # fmt: skip
    task = bar.add_task(label_, total=None, visible=False)

    def update(done: int, total: int | None) -> None:
        bar.update(task, completed=done, total=total, visible=(total or done) >= BIG)

    with bar:
        yield update


def _show_progress(flag: bool | None) -> bool:
    return sys.stderr.isatty() if flag is None else flag


@click.command("get")
@click.argument("url")
@click.argument("dest", required=False)
@click.option("-r", "--recursive", is_flag=True, help="Download a collection and its members.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def get_cmd(
    opts: Options, url: str, dest: str | None, recursive: bool, progress: bool | None
) -> None:
    """Download URL to DEST (default: its name here; "-" for standard output)."""
    target = parse_url(url)
    with opts.client(target) as client:
        if recursive:
            _get_tree(
                client,
                target.path,
                Path(dest or unquote(href_key(target.path)).rsplit("/", 1)[-1] or "."),
            )
            return
        if dest == "-":
            client.get(target.path, sys.stdout.buffer)
            return
        name = unquote(href_key(target.path).rsplit("/", 1)[-1])
        out = Path(dest) if dest else Path(name or "index.html")
        if out.is_dir():
            out = out / name
        with progress_bar(name, _show_progress(progress)) as update:
            client.get(target.path, out, progress=update)


def _get_tree(client: Client, path: str, dest: Path) -> None:
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
            where.mkdir(parents=True, exist_ok=True)
            stack.extend((c, where / c.name) for c in reversed(node.children))
            continue
        first = local.get(node.entry.href)
        if first is not None:
            with contextlib.suppress(OSError):
                os.link(first, where)
                continue
        client.get(node.href, where)
        local.setdefault(node.entry.href, where)


@click.command("put")
@click.argument("sources", nargs=-1, required=True, type=click.Path(exists=True))
@click.argument("url")
@click.option("-r", "--recursive", is_flag=True, help="Upload directories and their contents.")
@click.option("--progress/--no-progress", default=None, help="Progress bar [on a terminal].")
@connection
def put_cmd(opts: Options, sources: tuple[str, ...], url: str, recursive: bool,
            progress: bool | None) -> None:  # fmt: skip
    """Upload SOURCES to URL (into it when URL ends in "/" or there are several)."""
    target = parse_url(url)
    into = target.path.endswith("/") or len(sources) > 1
    with opts.client(target) as client:
        for source in sources:
            src = Path(source)
            remote = target.path.rstrip("/") + "/" + src.name if into else target.path
            if src.is_dir():
                if not recursive:
                    raise click.UsageError(f"{source} is a directory (use -r)")
                _put_tree(client, src, remote, _show_progress(progress))
            else:
                _put_file(client, src, remote, _show_progress(progress))


def _put_file(client: Client, src: Path, remote: str, show: bool) -> None:
    with progress_bar(src.name, show) as update:
        client.put(remote, src, progress=update)


def _put_tree(client: Client, src: Path, remote: str, show: bool) -> None:
    client.makedirs(remote)
    for folder, dirs, files in os.walk(src):
        dirs.sort()
        rel = Path(folder).relative_to(src).as_posix()
        base = remote.rstrip("/") + ("" if rel == "." else "/" + rel)
        for name in dirs:
            client.makedirs(f"{base}/{name}")
        for name in sorted(files):
            _put_file(client, Path(folder) / name, f"{base}/{name}", show)


# --------------------------------------------------------------------------- namespace


@click.command("mkdir")
@click.argument("urls", nargs=-1, required=True)
@click.option(
    "-p", "--parents", is_flag=True, help="Create missing parents; no error if it exists."
)
@connection
def mkdir_cmd(opts: Options, urls: tuple[str, ...], parents: bool) -> None:
    """Create collections (MKCOL)."""
    for url in urls:
        target = parse_url(url)
        with opts.client(target) as client:
            if parents:
                client.makedirs(target.path)
            else:
                client.mkcol(target.path)


@click.command("rm")
@click.argument("urls", nargs=-1, required=True)
@click.option("-r", "--recursive", is_flag=True, help="Allow removing collections.")
@click.option("-f", "--force", is_flag=True, help="No error for a missing resource.")
@connection
def rm_cmd(opts: Options, urls: tuple[str, ...], recursive: bool, force: bool) -> None:
    """Remove bindings (DELETE); a resource bound elsewhere stays there."""
    for url in urls:
        target = parse_url(url)
        with opts.client(target) as client:
            try:
                if not recursive and client.info(target.path).collection:
                    raise click.UsageError(f"{url} is a collection (use -r)")
                client.delete(target.path)
            except NotFound:
                if not force:
                    raise


def _two(
    name: str, help_: str, action: Callable[[Client, str, str, bool], object]
) -> click.Command:
    @click.command(name, help=help_)
    @click.argument("source")
    @click.argument("dest")
    @click.option("-n", "--no-clobber", is_flag=True, help="Fail if DEST exists (412).")
    @connection
    def command(opts: Options, source: str, dest: str, no_clobber: bool) -> None:
        target = parse_url(source)
        with opts.client(target) as client:
            action(client, target.path, second(target, dest), not no_clobber)

    return command


mv_cmd = _two(
    "mv",
    "Move SOURCE to DEST (MOVE; the resource keeps its id).",
    lambda c, s, d, o: c.move(s, d, overwrite=o),
)
cp_cmd = _two(
    "cp",
    "Copy SOURCE to DEST (COPY, Depth infinity, bindings inside kept).",
    lambda c, s, d, o: c.copy(s, d, overwrite=o),
)
bind_cmd = _two(
    "bind",
    "Make DEST another path of the resource at SOURCE (BIND, RFC 5842 §4).",
    lambda c, s, d, o: c.bind(s, d, overwrite=o),
)
rebind_cmd = _two("rebind", "Move the binding SOURCE to DEST atomically (REBIND, RFC 5842 §6).",
                  lambda c, s, d, o: c.rebind(s, d, overwrite=o))  # fmt: skip


@click.command("unbind")
@click.argument("urls", nargs=-1, required=True)
@connection
def unbind_cmd(opts: Options, urls: tuple[str, ...]) -> None:
    """Remove bindings (UNBIND, RFC 5842 §5); the resource lives on under its other paths."""
    for url in urls:
        target = parse_url(url)
        with opts.client(target) as client:
            client.unbind(target.path)
