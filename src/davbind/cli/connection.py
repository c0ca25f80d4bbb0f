"""What a client command's arguments point at, and how it logs in.

A location argument is one of

- a URL, ``http(s)://[user[:password]@]host[:port]/path``;
- ``NAME:path`` for a remote added with ``davbind remote add`` (``NAME:/`` is its URL);
- a bare path (``/docs/a.txt`` or ``docs/a.txt``), below ``$DAVBIND_URL``; as the second
  argument of ``mv``, ``cp``, ``bind`` and ``rebind``, below the first argument's base
  (the server root for a URL, else the remote or ``$DAVBIND_URL``).

Credentials, first found wins: ``--user``/``--password`` (or ``$DAVBIND_USER`` /
``$DAVBIND_PASSWORD``), ``user:password@`` in the URL, the remote's user; a user without
a password takes the one kept for it (keyring or ``~/.netrc``, see ``remotes``), else is
asked for on a terminal, else is an error.  With no user at all, ``~/.netrc`` is read.
Errors become one line on stderr and these exit codes: 0 done, 1 the server refused
(the message names the status, the precondition and the server's reason), 2 usage,
3 no connection, 4 the answer was not valid WebDAV.
"""

from __future__ import annotations

import contextlib
import functools
import getpass
import os
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import click

from davbind.cli.remotes import Remote, RemoteError, load_remotes, stored_password
from davbind.client import Client, DAVClientError
from davbind.client.auth import credentials_from_netrc
from davbind.client.errors import ProtocolError, StatusError, TransportError

F = TypeVar("F", bound=Callable[..., Any])
REMOTE = re.compile(r"([A-Za-z0-9][A-Za-z0-9_-]*):(?!//)(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Target:
    """A resolved location: the server root, the path on it, the base bare paths are
    resolved against, credentials from the URL and the remote it came from."""

    base: str  # scheme://host:port/
    path: str  # absolute path on the server
    root: str  # URL that a bare second argument is relative to
    auth: tuple[str, str | None] | None = None
    remote: Remote | None = None

    @property
    def url(self) -> str:
        return self.base.rstrip("/") + self.path


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}/", parts.path or "/"


def parse_url(url: str) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise click.BadParameter(f"{url!r} is not an http(s) URL", param_hint="URL")
    auth = None
    if parts.username:
        auth = (unquote(parts.username), unquote(parts.password) if parts.password else None)
    base, path = _origin(url)
    return Target(base, path, base, auth)


def _below(root: str, path: str, remote: Remote | None = None) -> Target:
    """``path`` (decoded or encoded) below the collection URL ``root``."""
    top = parse_url(root)
    prefix = top.path.rstrip("/")
    full = prefix + "/" + path.lstrip("/") if path.strip("/") else prefix + "/"
    return Target(top.base, full, root, top.auth, remote)


def resolve(arg: str, root: str | None = None) -> Target:
    """The :class:`Target` of a location argument (see the module doc)."""
    if "://" in arg:
        return parse_url(arg)
    match = REMOTE.fullmatch(arg)
    if match is not None and not arg.startswith("/"):
        try:
            remotes = load_remotes()
        except RemoteError as exc:
            raise click.UsageError(str(exc)) from exc
        remote = remotes.get(match.group(1))
        if remote is None:
            raise click.BadParameter(
                f"no remote named {match.group(1)!r} (see davbind remote list)", param_hint="URL"
            )
        return _below(remote.url, match.group(2), remote)
    if root is not None:
        return _below(root, arg)
    base = os.environ.get("DAVBIND_URL")
    if not base:
        raise click.BadParameter(
            f"{arg!r} is not a URL: give http(s)://host/path, NAME:/path for a remote, "
            "or set DAVBIND_URL to the server's URL",
            param_hint="URL",
        )
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).hostname:
        raise click.BadParameter(f"DAVBIND_URL={base!r} is not an http(s) URL")
    return _below(base, arg)


def second(first: Target, arg: str) -> str:
    """The server path of a second argument on the same server as ``first``."""
    other = resolve(arg, first.root)
    if other.base != first.base:
        raise click.BadParameter(f"{arg!r} is on another server than {first.base}")
    return other.path


# --------------------------------------------------------------------------- logging in


def stdin_is_tty() -> bool:
    return sys.stdin.isatty()


def ask_password(user: str, where: str) -> str:
    """Ask on the terminal (never echoed); a pipe or script gets an error instead."""
    if not stdin_is_tty():
        raise click.UsageError(
            f"no password for {user!r}: give --password or $DAVBIND_PASSWORD "
            "(it is asked for only on a terminal)"
        )
    return getpass.getpass(f"Password for {user} at {where}: ")


@dataclass(frozen=True, slots=True)
class Options:
    user: str | None
    password: str | None
    insecure: bool
    timeout: float
    _asked: dict[tuple[str, str], str] = field(default_factory=dict, compare=False)

    def credentials(self, target: Target) -> tuple[str, str] | None:
        user, password = self.user or None, self.password
        if user is None and target.auth is not None:
            user, password = target.auth
        if user is None and target.remote is not None and target.remote.user:
            user, password = target.remote.user, None
        if user is None:
            return credentials_from_netrc(target.base)
        if password is None:
            password = self._password(target, user)
        return user, password

    def _password(self, target: Target, user: str) -> str:
        key = (target.root, user)
        if key not in self._asked:
            kept = stored_password(target.root, user)
            self._asked[key] = kept if kept is not None else ask_password(user, target.root)
        return self._asked[key]

    def client(self, target: Target) -> Client:
        return Client(
            target.base,
            auth=self.credentials(target),
            verify=not self.insecure,
            timeout=self.timeout,
        )


def connection(func: F) -> F:
    """Add the connection options; the command receives ``opts: Options``."""

    @click.option("-u", "--user", envvar="DAVBIND_USER", help="User name [$DAVBIND_USER].")
    @click.option("--password", envvar="DAVBIND_PASSWORD",
                  help="Password [$DAVBIND_PASSWORD]; asked for on a terminal if missing.")
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
    except BrokenPipeError:
        raise  # the reader went away (``| head``): click ends quietly
    except StatusError as exc:
        raise fail(str(exc), 1) from exc
    except TransportError as exc:
        raise fail(f"cannot reach the server: {exc}", 3) from exc
    except ProtocolError as exc:
        raise fail(f"bad answer from the server: {exc}", 4) from exc
    except RemoteError as exc:
        raise fail(str(exc), 2) from exc
    except (DAVClientError, OSError) as exc:
        raise fail(str(exc), 1) from exc


def fail(message: str, code: int) -> click.exceptions.Exit:
    click.echo(f"davbind: {message}", err=True)
    return click.exceptions.Exit(code)
