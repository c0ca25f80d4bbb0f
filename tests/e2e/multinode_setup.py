"""What the multi-node end-to-end tests share: the shared PostgreSQL test server and the
configuration file that points ``davbind serve`` at a database and a bucket."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def shared_postgres() -> str:
    """The shared PostgreSQL test server (scripts/test.sh starts one); skips without it,
    fails when CI is set."""
    server = os.environ.get("DAVBIND_TEST_POSTGRES_URL", "")
    if not server:
        message = "DAVBIND_TEST_POSTGRES_URL is not set (scripts/postgres.sh starts a server)"
        if in_ci():
            pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
        pytest.skip(message)
    return server


def write_config(directory: Path, metadata_url: str, blobs_url: str = "",
                 name: str = "davbind.toml") -> str:  # fmt: skip
    """A TOML configuration naming the stores (the e2e servers get no DAVBIND_* variables)."""
    config = directory / name
    lines = [f'metadata_url = "{metadata_url}"']
    if blobs_url:
        lines.append(f'blobs_url = "{blobs_url}"')
    config.write_text("\n".join(lines) + "\n")
    return str(config)
