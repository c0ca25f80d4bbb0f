"""``davbind remote add|list|remove``: names for servers, used as ``NAME:/path``.

The remotes file never holds a password (see ``remotes``): ``add --user`` asks for it
(or takes ``--password`` / ``$DAVBIND_PASSWORD``) and keeps it in the system keyring,
else in ``~/.netrc``, and says which.
"""

from __future__ import annotations

import click

from davbind.cli.connection import ask_password, fail
from davbind.cli.remotes import (
    NAME,
    Remote,
    RemoteError,
    check_url,
    config_path,
    forget_password,
    load_remotes,
    save_remotes,
    store_password,
)


@click.group("remote")
def remote() -> None:
    """Named servers: after `remote add NAME URL`, `davbind ls NAME:/path` works."""


@remote.command("add")
@click.argument("name")
@click.argument("url")
@click.option("-u", "--user", help="User name; its password is asked for and kept safely.")
@click.option("--password", envvar="DAVBIND_PASSWORD",
              help="Password [$DAVBIND_PASSWORD; asked for on a terminal].")
def add(name: str, url: str, user: str | None, password: str | None) -> None:
    """Add (or replace) the remote NAME for the collection at URL."""
    if not NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name!r}: use letters, digits, '-' and '_' (starting with a letter or digit)",
            param_hint="NAME",
        )
    try:
        entry = Remote(name, check_url(url), user or None)
        remotes = load_remotes()
        where = None
        if entry.user is not None:
            secret = password if password is not None else ask_password(entry.user, entry.url)
            where = store_password(entry.url, entry.user, secret)
        remotes[name] = entry
        file = save_remotes(remotes)
    except RemoteError as exc:
        raise fail(str(exc), 2) from exc
    except OSError as exc:
        raise fail(str(exc), 1) from exc
    click.echo(f"remote {name} -> {entry.url} saved in {file}")
    if where is not None:
        click.echo(f"password for {entry.user} kept in {where}")


@remote.command("list")
def list_() -> None:
    """Show the remotes: name, URL, user."""
    try:
        remotes = load_remotes()
    except RemoteError as exc:
        raise fail(str(exc), 2) from exc
    for item in sorted(remotes.values(), key=lambda r: r.name):
        click.echo(f"{item.name:16} {item.url}" + (f"  (user {item.user})" if item.user else ""))


@remote.command("remove")
@click.argument("name")
def remove(name: str) -> None:
    """Forget the remote NAME (and its password in the keyring)."""
    try:
        remotes = load_remotes()
        gone = remotes.pop(name, None)
        if gone is None:
            raise fail(f"no remote named {name!r} in {config_path()}", 1)
        save_remotes(remotes)
    except RemoteError as exc:
        raise fail(str(exc), 2) from exc
    click.echo(f"removed remote {name}")
    if gone.user is not None:
        note = forget_password(gone.url, gone.user)
        if note is not None:
            click.echo(note)
