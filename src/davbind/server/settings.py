"""Server settings: built once at the edge (CLI flags, environment, TOML), then frozen.

Secure defaults: listen on 127.0.0.1; anonymous access is refused on any non-loopback
address unless ``allow_anonymous_read`` (read-only) or ``allow_anonymous_write`` is set
explicitly, and on loopback too once a user exists (``anonymous_access``).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from davbind.storage.open import default_urls

DURABILITY = ("standard", "strict")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")  # uvicorn's names
ACCESS_LOG_FORMATS = ("text", "json")


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "davbind-data"
    workers: int = 1
    metadata_url: str = ""
    blobs_url: str = ""
    max_body_bytes: int = 64 * 1024**3
    max_xml_bytes: int = 1024 * 1024
    max_propfind_responses: int = 1_000_000
    lock_timeout_max: int = 7 * 24 * 3600
    lock_timeout_default: int = 3600
    # Binding loops (RFC 5842 §2.2): refused by default, since clients that list with
    # Depth 1 (rclone, davfs2, Explorer) walk a loop until their paths get too long;
    # ``true`` allows them (Depth infinity then answers 208, or 508 to a client that did
    # not send ``DAV: bind``).
    allow_loops: bool = False
    allow_anonymous_write: bool | None = None
    allow_anonymous_read: bool | None = None
    # Authentication (server/auth.py): how long a verified credential is trusted without
    # checking it again (also the bound on revocation), and failed logins allowed a minute
    # per user and per client address.
    auth_cache_seconds: int = 60
    login_failures_per_minute: int = 5
    tls_cert: str = ""  # PEM files; both or neither
    tls_key: str = ""
    durability: str = "standard"  # or "strict": see ``durable``
    # Connection hygiene (server/connection_limits.py); times in seconds.
    header_timeout: int = 20
    keepalive_timeout: int = 15
    max_header_bytes: int = 64 * 1024
    max_header_fields: int = 200
    max_connections: int = 1000  # per worker
    log_level: str = "info"  # uvicorn's and davbind's loggers (not the access log)
    access_log: bool = True
    access_log_format: str = "text"  # or "json": one object per line
    metrics_port: int = 0  # 0: no metrics listener
    metrics_host: str = "127.0.0.1"
    # Rendered member texts of listed collections kept per worker (server/listing_cache.py);
    # 0 keeps none.
    listing_cache_mb: int = 64

    def __post_init__(self) -> None:
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(
                    f"{name} must be one of {', '.join(allowed)}, not {getattr(self, name)!r}"
                )
        if bool(self.tls_cert) != bool(self.tls_key):
            raise ValueError("tls_cert and tls_key go together: give both or neither")

    def resolved(self) -> Settings:
        """Fill the storage URLs from ``data_dir`` when not given."""
        meta, blobs = default_urls(Path(self.data_dir))
        return dataclasses.replace(
            self, metadata_url=self.metadata_url or meta, blobs_url=self.blobs_url or blobs
        )

    @property
    def durable(self) -> bool:
        """``durability = "strict"``: a 2xx answer to a write means it is on disk (blobs
        fsynced before their commit, SQLite ``synchronous=FULL``).  ``"standard"`` (the
        default): content is flushed right after the answer; a power loss can roll back
        the last moments of writes, never leave a file half-written (``blobs_file``)."""
        return self.durability == "strict"

    @property
    def anonymous_write(self) -> bool:
        """Anonymous writes: allowed on loopback, refused elsewhere unless configured."""
        if self.allow_anonymous_write is not None:
            return self.allow_anonymous_write
        return is_loopback(self.host)

    def anonymous_access(self, users_exist: bool | None) -> str:
        """``"write"``, ``"read"`` or ``"none"`` for a request without credentials.
        Explicit settings decide alone (write implies read); otherwise only loopback
        with no user at all is open, as before accounts existed.  ``users_exist`` may be
        None when the answer does not depend on it (``anonymous_needs_users``)."""
        if self.allow_anonymous_write:
            return "write"
        if self.allow_anonymous_read:
            return "read"
        if self.allow_anonymous_read is False or not is_loopback(self.host) or users_exist:
            return "none"
        return "read" if self.allow_anonymous_write is False else "write"

    @property
    def anonymous_needs_users(self) -> bool:
        """Whether ``anonymous_access`` depends on whether users exist."""
        decided = self.allow_anonymous_write or self.allow_anonymous_read is not None
        return not decided and is_loopback(self.host)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


_CHOICES = {
    "durability": DURABILITY,
    "log_level": LOG_LEVELS,
    "access_log_format": ACCESS_LOG_FORMATS,
}


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")
# port 0 would pick a random port nobody is told about; a limit of 0 would refuse all
POSITIVE = ("port", "workers", "header_timeout", "keepalive_timeout", "max_header_bytes",
            "max_header_fields", "max_connections", "login_failures_per_minute")  # fmt: skip


class SettingsError(ValueError):
    """A setting that cannot be used, with where it came from (file, variable, flag)."""


def _kind(name: str) -> str:
    text = str(_FIELDS[name].type)
    return "bool" if "bool" in text else "int" if "int" in text else "str"


def _from_env(name: str, raw: str) -> Any:
    """``DAVBIND_<NAME>`` as its field's type; a value that means nothing is an error
    naming the variable (never silently false)."""
    var = f"DAVBIND_{name.upper()}"
    kind = _kind(name)
    if kind == "bool":
        word = raw.strip().lower()
        if word in TRUE or word in FALSE:
            return word in TRUE
        raise SettingsError(f"{var}={raw!r}: use one of {', '.join(TRUE + FALSE)}")
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            raise SettingsError(f"{var}={raw!r}: not a whole number") from None
    if name in _CHOICES:  # DAVBIND_LOG_LEVEL=INFO means info
        return raw.strip().lower()
    return raw


def _check(name: str, value: Any, where: str) -> None:
    """The type and range of one value (TOML and flags are not converted, only checked)."""
    kind = _kind(name)
    if value is None and "None" in str(_FIELDS[name].type):
        return
    ok = (
        isinstance(value, bool)
        if kind == "bool"
        else isinstance(value, int) and not isinstance(value, bool)
        if kind == "int"
        else isinstance(value, str)
    )
    if not ok:
        want = {"bool": "true or false", "int": "a whole number", "str": "a string"}[kind]
        raise SettingsError(f"{name} in {where}: {value!r} is not {want}")
    if kind == "int" and (value < 0 or (name in POSITIVE and value < 1)):
        raise SettingsError(f"{name} in {where}: {value} is out of range")
    if name in ("port", "metrics_port") and value > 65535:
        raise SettingsError(f"{name} in {where}: {value} is out of range (1-65535)")
    if name in _CHOICES and value not in _CHOICES[name]:
        raise SettingsError(f"{name} in {where}: use one of {', '.join(_CHOICES[name])}")


def load_settings(config_file: str | None, overrides: dict[str, Any]) -> Settings:
    """TOML file < ``DAVBIND_*`` environment < explicit overrides (CLI flags).

    Raises :class:`SettingsError` (one line, naming the file, variable or flag) for an
    unreadable or malformed file, an unknown key, or a value of the wrong type or range.
    """
    values: dict[str, Any] = {}
    if config_file:
        try:
            with open(config_file, "rb") as fh:
                data = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{config_file} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"cannot read {config_file}: {exc.strerror or exc}") from None
        section = data.get("davbind", data)
        if not isinstance(section, dict):
            raise SettingsError(f"[davbind] in {config_file} must be a table")
        for key, value in section.items():
            if key not in _FIELDS:
                known = ", ".join(sorted(_FIELDS))
                raise SettingsError(f"unknown setting {key!r} in {config_file} (known: {known})")
            _check(key, value, config_file)
            values[key] = value
    for name in _FIELDS:
        env = os.environ.get(f"DAVBIND_{name.upper()}")
        if env is not None:
            values[name] = _from_env(name, env)
            _check(name, values[name], f"DAVBIND_{name.upper()}")
    for name, value in overrides.items():
        if value is not None:
            flag = "--data" if name == "data_dir" else f"--{name.replace('_', '-')}"
            _check(name, value, flag)
            values[name] = value
    if values.get("metrics_port") and values.get("metrics_port") == values.get("port", 8080):
        raise SettingsError(f"metrics_port {values['metrics_port']} is the port served already")
    try:
        return Settings(**values).resolved()
    except ValueError as exc:  # a rule across settings (``Settings.__post_init__``)
        raise SettingsError(str(exc)) from None
