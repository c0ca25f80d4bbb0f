"""Named remotes: ``davbind remote add NAME URL`` so that ``NAME:/path`` works anywhere a
URL does.

The rule kept here: the remotes file holds names, URLs and user names only, never a
password (it lives in ``$XDG_CONFIG_HOME/davbind/remotes.toml``, default
``~/.config/davbind/remotes.toml``, and may end up in a dotfiles repository).  Passwords
go to the system keyring when the optional ``keyring`` package is installed
(``pip install 'davbind[keyring]'``), else to a ``~/.netrc`` entry (mode 0600), which
``curl``, ``wget`` and davbind itself already read.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import netrc
import os
import re
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a TOML bare key, no ":" or "/"
KEYRING_SERVICE = "davbind"


class RemoteError(Exception):
    """A remotes file or a credential store that cannot be used; one line for the user."""


@dataclass(frozen=True, slots=True)
class Remote:
    name: str
    url: str  # http(s) URL of a collection, ending in "/"
    user: str | None = None


def config_path() -> Path:
    """``$XDG_CONFIG_HOME/davbind/remotes.toml`` (XDG Base Directory: default ~/.config)."""
    home = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(home) / "davbind" / "remotes.toml"


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"{url!r} is not an http(s) URL")
    if parts.username or parts.password:
        raise RemoteError("give the user with --user, not in the URL (passwords never go there)")
    return url if url.endswith("/") else url + "/"


def load_remotes(path: Path | None = None) -> dict[str, Remote]:
    file = path or config_path()
    try:
        with open(file, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise RemoteError(f"{file} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise RemoteError(f"cannot read {file}: {exc.strerror or exc}") from None
    table = data.get("remotes", {})
    remotes: dict[str, Remote] = {}
    for name, item in table.items() if isinstance(table, dict) else ():
        url = item.get("url") if isinstance(item, dict) else None
        user = item.get("user") if isinstance(item, dict) else None
        if not isinstance(url, str) or not isinstance(user, str | None):
            raise RemoteError(f"{file}: remote {name!r} needs url = \"...\" (and user = \"...\")")
        remotes[name] = Remote(name, url, user)
    return remotes


def save_remotes(remotes: dict[str, Remote], path: Path | None = None) -> Path:
    """Write the file whole and rename it into place (a crash leaves the old one)."""
    file = path or config_path()
    file.parent.mkdir(parents=True, exist_ok=True)
    lines = ["# davbind remotes (passwords are never stored here)\n"]
    for remote in sorted(remotes.values(), key=lambda r: r.name):
        # A JSON string without ASCII escaping is a valid TOML basic string.
        url = json.dumps(remote.url, ensure_ascii=False)
        lines.append(f"\n[remotes.{remote.name}]\nurl = {url}\n")
        if remote.user is not None:
            lines.append(f"user = {json.dumps(remote.user, ensure_ascii=False)}\n")
    fd, tmp = tempfile.mkstemp(prefix=".remotes.", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(lines))
        os.replace(tmp, file)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return file


# --------------------------------------------------------------------------- passwords


def _keyring() -> ModuleType | None:
    try:
        return importlib.import_module("keyring")
    except ImportError:
        return None


def netrc_path() -> Path:
    return Path(os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc"))


def _netrc_entry(host: str) -> tuple[str, str] | None:
    file = netrc_path()
    if not file.exists():
        return None
    try:
        found = netrc.netrc(str(file)).authenticators(host)
    except (netrc.NetrcParseError, OSError) as exc:
        raise RemoteError(f"cannot read {file}: {exc}") from None
    return (found[0], found[2] or "") if found else None


def _quote(token: str) -> str:
    """A netrc token; quoted (Python's netrc and curl read quotes) when it needs it."""
    if token and not re.search(r'[\s"\\#]', token):
        return token
    return '"' + token.replace("\\", "\\\\").replace('"', '\\"') + '"'


def store_password(url: str, user: str, password: str) -> str:
    """Keep ``password`` for ``user`` at ``url``; says where it went."""
    ring = _keyring()
    why = "keyring is not installed: pip install 'davbind[keyring]'"
    if ring is not None:
        try:
            ring.set_password(f"{KEYRING_SERVICE}:{url}", user, password)
            return "the system keyring"
        except Exception as exc:  # no usable backend here: fall back to netrc
            why = f"the keyring refused it: {type(exc).__name__}"
    host = urlsplit(url).hostname or ""
    existing = _netrc_entry(host)
    file = netrc_path()
    if existing == (user, password):
        return str(file)
    if existing is not None:
        raise RemoteError(
            f"{file} already has an entry for {host} (login {existing[0]}); change it there "
            "by hand, or install keyring (pip install 'davbind[keyring]')"
        )
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(f"\nmachine {host} login {_quote(user)} password {_quote(password)}\n")
    os.chmod(file, 0o600)  # netrc readers refuse a password file others can read
    return f"{file} ({why})"


def stored_password(url: str, user: str) -> str | None:
    """The password kept for ``user`` at ``url``: keyring first, then ``~/.netrc``."""
    ring = _keyring()
    if ring is not None:
        with contextlib.suppress(Exception):
            found = ring.get_password(f"{KEYRING_SERVICE}:{url}", user)
            if isinstance(found, str):
                return found
    try:
        entry = _netrc_entry(urlsplit(url).hostname or "")
    except RemoteError:
        return None
    return entry[1] if entry is not None and entry[0] == user else None


def forget_password(url: str, user: str) -> str | None:
    """Drop a keyring password; a netrc entry stays (it may serve other tools)."""
    ring = _keyring()
    if ring is not None:
        with contextlib.suppress(Exception):
            ring.delete_password(f"{KEYRING_SERVICE}:{url}", user)
            return "removed the password from the system keyring"
    host = urlsplit(url).hostname or ""
    with contextlib.suppress(RemoteError):
        if _netrc_entry(host) is not None:
            return f"the entry for {host} in {netrc_path()} is left in place"
    return None
