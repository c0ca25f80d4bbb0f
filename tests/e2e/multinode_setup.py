"""What the multi-node end-to-end tests share: the configuration file that points
``davbind serve`` at a database and a bucket."""

from __future__ import annotations

from pathlib import Path


def write_config(directory: Path, metadata_url: str, blobs_url: str = "",
                 name: str = "davbind.toml") -> str:  # fmt: skip
    """A TOML configuration naming the stores (the e2e servers get no DAVBIND_* variables)."""
    config = directory / name
    lines = [f'metadata_url = "{metadata_url}"']
    if blobs_url:
        lines.append(f'blobs_url = "{blobs_url}"')
    config.write_text("\n".join(lines) + "\n")
    return str(config)
