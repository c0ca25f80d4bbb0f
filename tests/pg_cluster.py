"""A private PostgreSQL cluster that a test may stop and start again (fault tests).

The shared test server (``DAVBIND_TEST_POSTGRES_URL``) must never go down under other
tests, so a test of a database restart gets a cluster of its own: made by
scripts/postgres.sh (which installs PostgreSQL where it can and runs it as the
``postgres`` user when we are root), with its port and socket directory written into the
cluster's own configuration (``ALTER SYSTEM``) so that a plain ``pg_ctl start`` brings it
back on the same address.  Without PostgreSQL the test is skipped, or fails when ``CI``
is set, as the other PostgreSQL tests do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "postgres.sh"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _pg_ctl() -> str:
    found = shutil.which("pg_ctl")
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True):
        return str(candidate)
    raise FileNotFoundError("pg_ctl")


class Cluster:
    """One running cluster in a temporary directory; ``url`` is its ``postgres`` database
    (superuser ``davbind``, no password)."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="davbind-pgfault-"))
        made = subprocess.run(
            ["bash", str(SCRIPT), "start", str(self.dir)],
            capture_output=True, text=True, timeout=180, check=False,
        )  # fmt: skip
        if made.returncode != 0 or "=" not in made.stdout:
            shutil.rmtree(self.dir, ignore_errors=True)
            message = f"no private PostgreSQL cluster: {made.stderr.strip()[-500:]}"
            if _in_ci():
                pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
            pytest.skip(message)
        self.url = made.stdout.strip().split("=", 1)[1]
        import psycopg

        port = self.url.rsplit(":", 1)[1].split("/")[0]
        with psycopg.connect(self.url, autocommit=True) as conn:
            for name, value in (
                ("port", port), ("listen_addresses", "127.0.0.1"),
                ("unix_socket_directories", str(self.dir)), ("fsync", "off"),
                ("synchronous_commit", "off"), ("max_connections", "300"),
            ):  # fmt: skip
                conn.execute(f"ALTER SYSTEM SET {name} = '{value}'".encode())

    def _ctl(self, *args: str) -> None:
        cmd = [_pg_ctl(), "-D", str(self.dir / "data"), *args]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=60)

    def stop(self) -> None:
        """A fast shutdown: open transactions are rolled back, clients disconnected."""
        self._ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        self._ctl("-l", str(self.dir / "server.log"), "-w", "-t", "30", "start")

    def destroy(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.dir)],
                       capture_output=True, timeout=60, check=False)  # fmt: skip
