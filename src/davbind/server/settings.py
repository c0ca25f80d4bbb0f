"""Server settings: built once at the edge (CLI flags, environment, TOML), then frozen.

Secure defaults: listen on 127.0.0.1; anonymous writes are refused on any non-loopback
address unless ``allow_anonymous_write`` is set explicitly.
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
    allow_loops: bool = True
    allow_anonymous_write: bool | None = None
    durability: str = "standard"  # or "strict": see ``durable``

    def __post_init__(self) -> None:
        if self.durability not in DURABILITY:
            raise ValueError(
                f"durability must be one of {', '.join(DURABILITY)}, not {self.durability!r}"
            )

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

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Settings:
        return cls(**json.loads(text))


def is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return host == "localhost"
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}


def _coerce(name: str, value: Any) -> Any:
    kind = _FIELDS[name].type
    if isinstance(value, str) and "int" in str(kind) and "bool" not in str(kind):
        return int(value)
    if isinstance(value, str) and "bool" in str(kind):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return value


def load_settings(config_file: str | None, overrides: dict[str, Any]) -> Settings:
    """TOML file < ``DAVBIND_*`` environment < explicit overrides (CLI flags)."""
    values: dict[str, Any] = {}
    if config_file:
        with open(config_file, "rb") as fh:
            data = tomllib.load(fh)
        section = data.get("davbind", data)
        for key, value in section.items():
            if key not in _FIELDS:
                raise ValueError(f"unknown setting {key!r} in {config_file}")
            values[key] = value
    for name in _FIELDS:
        env = os.environ.get(f"DAVBIND_{name.upper()}")
        if env is not None:
            values[name] = _coerce(name, env)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Settings(**values).resolved()
