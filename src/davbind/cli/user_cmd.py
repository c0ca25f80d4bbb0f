"""``davbind user``: accounts and app passwords, kept in the data directory's metadata
store.

Like ``serve`` and ``fsck`` it opens the data directory itself (``--data``, or
``DAVBIND_DATA_DIR``), and may run while the server does: each change is one write
transaction.  A running server sees a new user at once, and a password change, a
removal or a revocation within its ``auth_cache_seconds`` (60 s by default).

Exit status: 0 done, 1 refused (the user exists, is unknown, ...), 2 bad usage or a
store that cannot be opened.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import click

from davbind.storage.accounts import AppToken, BadUserName, TokenScope, User, check_user_name
from davbind.storage.credentials import hash_password, mint_token, token_digest
from davbind.storage.grants import Privilege
from davbind.storage.homes import ALIAS_PARENT, HOME_PARENT, make_home, remove_home
from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import AlreadyExists, NotFound, StorageError
from davbind.storage.open import default_urls, open_blobs, open_metadata

T = TypeVar("T")

CONFIG_KEY = "davbind.config"


def _remember_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[CONFIG_KEY] = value


_DATA = click.option("--data", "data_dir", default="davbind-data", envvar="DAVBIND_DATA_DIR",
                     show_default=True, type=click.Path(file_okay=False, path_type=Path),
                     help="Data directory of the server.")  # fmt: skip
_CONFIG = click.option(
    "--config", type=click.Path(exists=True, dir_okay=False), envvar="DAVBIND_CONFIG",
    expose_value=False, callback=_remember_config,
    help="The server's TOML configuration: its metadata_url and blobs_url (a PostgreSQL "
         "store shared by several nodes) are used instead of the data directory's.",
)  # fmt: skip


def DATA(command: Callable[..., None]) -> Callable[..., None]:
    """``--data`` and ``--config``: where the store is, as ``serve`` finds it."""
    return _CONFIG(_DATA(command))
PASSWORD_STDIN = click.option(
    "--password-stdin", is_flag=True, help="Read the password from the first line of stdin."
)


def _fail(message: str, code: int) -> None:
    click.echo(f"davbind user: {message}", err=True)
    raise SystemExit(code)


def _urls(data_dir: Path) -> tuple[Path, str, str]:
    """The data directory and storage URLs, from ``--config`` (and ``DAVBIND_*``) as
    ``serve`` reads them when a configuration is given, else from ``--data``."""
    ctx = click.get_current_context()
    config = ctx.meta.get(CONFIG_KEY)
    if config is None:
        meta_url, blobs_url = default_urls(data_dir)
        return data_dir, meta_url, blobs_url
    from davbind.server.settings import SettingsError, load_settings

    given = ctx.get_parameter_source("data_dir") != click.core.ParameterSource.DEFAULT
    try:
        settings = load_settings(config, {"data_dir": str(data_dir) if given else None})
    except SettingsError as exc:
        _fail(str(exc), 2)
        raise  # unreachable
    settings = settings.resolved()
    return Path(settings.data_dir), settings.metadata_url, settings.blobs_url


@contextmanager
def _store(data_dir: Path, *, create: bool = False) -> Iterator[MetadataStore]:
    data_dir, meta_url, blobs_url = _urls(data_dir)
    # a new store only where ``serve`` would make one: a missing or empty folder
    local = meta_url == default_urls(data_dir)[0]
    if local and not (data_dir / "meta.sqlite3").is_file() and (
        not create or (data_dir.exists() and any(data_dir.iterdir()))
    ):
        _fail(f"{data_dir} is not a davbind data directory (no meta.sqlite3)", 2)
    try:
        if local:
            data_dir.mkdir(parents=True, exist_ok=True)
        store = open_metadata(meta_url, open_blobs(blobs_url))
    except (StorageError, OSError, RuntimeError) as exc:
        _fail(f"cannot open {data_dir}: {exc}", 2)
        raise  # unreachable: _fail exits
    try:
        yield store
    except AlreadyExists as exc:
        _fail(f"{exc} exists already", 1)
    except NotFound as exc:
        _fail(f"{exc} not found", 1)
    except StorageError as exc:
        _fail(str(exc), 1)
    finally:
        store.close()


def _write(data_dir: Path, work: Callable[[Txn], T], *, create: bool = False) -> T:
    with _store(data_dir, create=create) as store, store.write() as txn:
        return work(txn)


def _read(data_dir: Path, work: Callable[[Txn], T]) -> T:
    with _store(data_dir) as store, store.read() as txn:
        return work(txn)


def _name(name: str) -> str:
    try:
        return check_user_name(name)
    except BadUserName as exc:
        _fail(str(exc), 2)
        raise


def _password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    if not password:
        _fail("the password is empty", 2)
    return password


@click.group("user")
def user() -> None:
    """Manage accounts and app passwords (the server's data directory)."""


@user.command("add")
@click.argument("name")
@PASSWORD_STDIN
@DATA
def add_cmd(name: str, password_stdin: bool, data_dir: Path) -> None:
    """Create a user and their home collection."""
    name = _name(name)
    pwhash = hash_password(_password(password_stdin))

    def add(txn: Txn) -> None:
        now = time.time()
        txn.add_user(User(name, pwhash, now, now))
        make_home(txn, name)

    _write(data_dir, add, create=True)
    click.echo(f"added user {name}: home /{'/'.join(HOME_PARENT)}/{name}/, "
               f"also /{'/'.join(ALIAS_PARENT)}/{name}/")  # fmt: skip


@user.command("passwd")
@click.argument("name")
@PASSWORD_STDIN
@DATA
def passwd_cmd(name: str, password_stdin: bool, data_dir: Path) -> None:
    """Change a user's password (app passwords stay valid)."""
    name = _name(name)
    pwhash = hash_password(_password(password_stdin))
    _write(data_dir, lambda txn: txn.set_password(name, pwhash, time.time()))
    click.echo(f"changed the password of {name}")


@user.command("list")
@DATA
def list_cmd(data_dir: Path) -> None:
    """List users and how many app passwords each has."""

    def rows(txn: Txn) -> list[tuple[User, int]]:
        return [(u, len(txn.tokens(u.name))) for u in txn.users()]

    for account, tokens in _read(data_dir, rows):
        created = time.strftime("%Y-%m-%d", time.gmtime(account.created))
        click.echo(f"{account.name}\tcreated {created}\t{tokens} app password(s)")


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def _size(text: str) -> int | None:
    """``none`` or a size such as ``500M``, ``10G`` (binary units)."""
    value = text.strip().lower().removesuffix("ib").removesuffix("b")
    if value in ("none", "unlimited", ""):
        return None
    unit = value[-1] if value[-1] in _UNITS else ""
    try:
        number = float(value[: len(value) - len(unit)])
    except ValueError:
        number = -1.0
    if number < 0 or number != number:
        _fail(f"bad size {text!r}: use e.g. 500M, 10G or none", 2)
    return int(number * _UNITS[unit])


@user.command("quota")
@click.argument("name")
@click.argument("size", required=False)
@DATA
def quota_cmd(name: str, size: str | None, data_dir: Path) -> None:
    """Show NAME's usage and quota, or set the quota to SIZE (e.g. 10G; none: unlimited).
    Usage is the logical size of what NAME owns (RFC 4331); writes past the quota get
    507 Insufficient Storage, deletions always work."""
    name = _name(name)
    limit = None if size is None else _size(size)

    def work(txn: Txn) -> tuple[int, int | None]:
        if txn.user(name) is None:
            raise NotFound(f"user {name}")
        if size is not None:
            txn.set_quota(name, limit)
        return txn.usage(name), txn.quota(name)

    used, quota = _write(data_dir, work) if size is not None else _read(data_dir, work)
    shown = "none" if quota is None else f"{quota} bytes"
    click.echo(f"{name}\tuses {used} bytes\tquota {shown}")


@user.command("remove")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also unbind the home collection /home/NAME/.")
@DATA
def remove_cmd(name: str, purge: bool, data_dir: Path) -> None:
    """Remove a user and their app passwords (the home stays unless --purge)."""
    name = _name(name)

    def remove(txn: Txn) -> None:
        txn.remove_user(name)
        for grant in txn.grants_to(name):  # a later user of that name inherits nothing
            txn.set_grant(grant.key, name, Privilege.NONE)
        txn.set_quota(name, None)
        remove_home(txn, name, purge=purge)

    _write(data_dir, remove)
    click.echo(f"removed user {name}" + (" and their home" if purge else ""))


@user.group("token")
def token() -> None:
    """App passwords for sync clients: add, list, revoke."""


@token.command("add")
@click.argument("name")
@click.option("--label", required=True, help="What the app password is for (a device).")
@click.option("--read-only", is_flag=True, help="Allow only methods that change nothing.")
@DATA
def token_add_cmd(name: str, label: str, read_only: bool, data_dir: Path) -> None:
    """Make an app password for NAME; it is shown once, only its hash is kept."""
    name = _name(name)
    new = mint_token()

    def add(txn: Txn) -> None:
        if txn.user(name) is None:
            raise NotFound(f"user {name}")
        digest = token_digest(txn.token_secret(), new.token)
        scope: TokenScope = "read" if read_only else "write"
        txn.add_token(AppToken(new.id, name, label, scope, digest, time.time()))

    _write(data_dir, add)
    click.echo(new.token)
    click.echo(f"app password {new.id} for {name} ({label}, "
               f"{'read-only' if read_only else 'read-write'}): shown once", err=True)  # fmt: skip


@token.command("list")
@click.argument("name")
@DATA
def token_list_cmd(name: str, data_dir: Path) -> None:
    """List NAME's app passwords (id, scope, label, creation date)."""
    name = _name(name)
    for t in _read(data_dir, lambda txn: txn.tokens(name)):
        created = time.strftime("%Y-%m-%d %H:%M", time.gmtime(t.created))
        click.echo(f"{t.id}\t{t.scope}\t{t.label}\t{created}")


@token.command("revoke")
@click.argument("name")
@click.argument("token_id")
@DATA
def token_revoke_cmd(name: str, token_id: str, data_dir: Path) -> None:
    """Revoke one of NAME's app passwords by its id."""
    name = _name(name)
    _write(data_dir, lambda txn: txn.revoke_token(name, token_id))
    click.echo(f"revoked app password {token_id} of {name}")
