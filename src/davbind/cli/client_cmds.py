"""Client commands: ``ls``, ``tree``, ``info``, ``mkdir``, ``rm``, ``mv``, ``cp``, ``bind``,
``unbind``, ``rebind`` — each a few lines over ``davbind.client`` (``get`` and ``put`` are
in ``transfer_cmds``).

Listings come from ``Client.propfind`` / ``Client.walk`` with ``DAV:parent-set`` asked for
in the same request, so every resource is shown once with all the other paths it lives
at, also those outside the listing, and loops are marked (``render``; RFC 5842 §2, §3.2,
§7).  ``--json`` prints the shapes of the published listing schema (decision D-3):
``ls``/``tree`` a ``{"responses": [...]}`` document, ``info`` one entry, each entry with
typed ``props`` plus the fold's ``aliases`` and ``loops`` (``info``: ``paths``).

Location arguments, credentials and exit codes: see ``connection``.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator

import click

from davbind.cli.connection import Options, connection, fail, resolve, second
from davbind.cli.render import (
    PARENT_SET,
    elsewhere,
    entry_json,
    label,
    long_line,
    nodes_of,
    render_tree,
    show_value,
    shown_keys,
    summary,
)
from davbind.client import LIST_PROPS, Client, Entry, Listing
from davbind.client.errors import NotFound, StatusError

PROPS = (*LIST_PROPS, PARENT_SET)


# --------------------------------------------------------------------------- listing


@click.command("ls")
@click.argument("url")
@click.option("-l", "long_", is_flag=True, help="Long format: type, size, modification time.")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON document: {"responses": [...]}, one entry per resource.')
@connection
def ls_cmd(opts: Options, url: str, long_: bool, as_json: bool) -> None:
    """List a collection (Depth 1); other paths of each resource and loops are marked."""
    target = resolve(url)
    with opts.client(target) as client:
        listing = client.propfind(target.path, "1", PROPS)
    root = listing.tree()
    nodes = root.children if root.entry.collection else (root,)
    if as_json:
        seen: dict[int, Entry] = {}
        for node in nodes:
            seen.setdefault(id(node.entry), node.entry)
        click.echo(json.dumps({"responses": [entry_json(e) for e in seen.values()]}, indent=2))
        return
    shown = shown_keys(listing)
    for node in nodes:
        click.echo(long_line(node, shown) if long_ else label(node, shown))


def _tree_listing(client: Client, path: str, max_depth: int | None) -> Listing:
    """Depth 0 or 1 when that is all ``--max-depth`` lets through, else a walk (whose
    Depth-infinity answer still holds everything: the caller cuts it)."""
    if max_depth is not None and max_depth <= 1:
        return client.propfind(path, str(max_depth), PROPS)
    return client.walk(path, PROPS, max_depth=max_depth)


@click.command("tree")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON document: {"responses": [...]}, one entry per resource.')
@click.option("--max-depth", "-L", type=click.IntRange(min=0), default=None,
              help="Show at most this many levels below URL.")
@connection
def tree_cmd(opts: Options, url: str, as_json: bool, max_depth: int | None) -> None:
    """Everything below URL, each resource once; aliases and loops are marked."""
    target = resolve(url)
    with opts.client(target) as client:
        listing = _tree_listing(client, target.path, max_depth)
    if listing.note:
        click.echo(f"note: {listing.note}", err=True)
    roots = listing.roots()
    kept: dict[int, Entry] = {}
    for root in roots:
        for node, _ in nodes_of(root, max_depth):
            kept.setdefault(id(node.entry), node.entry)
    if as_json:
        click.echo(json.dumps({"responses": [entry_json(e) for e in kept.values()]}, indent=2))
        return
    shown = shown_keys(listing)
    for root in roots:
        for line in render_tree(root, shown, max_depth):
            click.echo(line)
    click.echo(f"\n{summary(list(kept.values()))}")


@click.command("info")
@click.argument("url")
@click.option("--json", "as_json", is_flag=True, help="JSON object.")
@connection
def info_cmd(opts: Options, url: str, as_json: bool) -> None:
    """All properties of one resource, resource-id and every path it lives at."""
    target = resolve(url)
    with opts.client(target) as client:
        entry = client.info(target.path)
    others = elsewhere(entry.href, entry)
    paths = [entry.href, *(p for p, _ in others)]
    if as_json:
        data = entry_json(entry)
        data["paths"] = paths
        click.echo(json.dumps(data, indent=2))
        return
    rows = [("href", entry.href), ("resource-id", entry.resource_id or "-"),
            ("type", "collection" if entry.collection else "file"),
            ("size", "-" if entry.size is None else str(entry.size))]  # fmt: skip
    rows += [("binding", entry.href)] if others else []
    rows += [("binding", p + (" (loop)" if kind == "loop" else "")) for p, kind in others]
    for key, text in rows:
        click.echo(f"{key + ':':<13}{text}")
    click.echo("properties:")
    for prop, value in sorted(entry.props.items()):
        if prop != PARENT_SET:
            click.echo(f"  {prop}: {show_value(value)}")


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
        target = resolve(url)
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
        target = resolve(url)
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
        target = resolve(source)
        with opts.client(target) as client, binding_support(client, name, target.path):
            action(client, target.path, second(target, dest), not no_clobber)

    return command


@contextlib.contextmanager
def binding_support(client: Client, method: str, path: str) -> Iterator[None]:
    """A 405 or 501 to BIND, UNBIND or REBIND from a server whose ``DAV`` header lacks
    ``bind`` (RFC 5842 §8.1) says "no bindings here", not "not allowed on this one"."""
    if method not in ("bind", "unbind", "rebind"):
        yield
        return
    try:
        yield
    except StatusError as exc:
        if exc.status not in (405, 501):
            raise
        try:
            classes = client.options(path)
        except StatusError:
            raise exc from None
        if "bind" in classes:
            raise
        raise fail(
            f"{method.upper()} refused ({exc.status}): the server does not support RFC 5842 "
            f"bindings (its DAV header lacks \"bind\": {', '.join(sorted(classes)) or 'empty'})",
            1,
        ) from exc


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
        target = resolve(url)
        with opts.client(target) as client, binding_support(client, "unbind", target.path):
            client.unbind(target.path)
