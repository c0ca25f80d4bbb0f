"""``davbind serve`` start-up errors: one line on stderr, exit 2 (config) or 1, and no
"serving" banner before a failure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from davbind.cli.main import cli
from davbind.cli.serve import url_of

CLEAN = {k: None for k in os.environ if k.startswith("DAVBIND_")}


@pytest.mark.parametrize(
    ("config", "env", "args", "message"),
    [
        ("prot = 8080\n", {}, (), "unknown setting 'prot'"),
        ("port = \n", {}, (), "is not valid TOML"),
        ("port = \"x\"\n", {}, (), "port in "),
        ("[davbind]\nallow_loops = \"maybe\"\n", {}, (), "is not true or false"),
        (None, {"DAVBIND_PORT": "abc"}, (), "DAVBIND_PORT='abc': not a whole number"),
        (None, {"DAVBIND_ALLOW_LOOPS": "nope"}, (),
         "DAVBIND_ALLOW_LOOPS='nope': use one of 1, true, yes, on, 0, false, no, off"),
        (None, {"DAVBIND_WORKERS": "0"}, (), "workers in "),
        (None, {}, ("--port", "70000"), "port in --port: 70000 is out of range"),
        (None, {}, ("--data", "/etc/passwd"), "/etc/passwd exists and is not a directory"),
        (None, {"DAVBIND_METADATA_URL": "mysql://db"}, (),
         "unsupported metadata store URL scheme 'mysql'"),
        (None, {"DAVBIND_BLOBS_URL": "ftp://host/x"}, (),
         "unsupported blob store URL scheme 'ftp'"),
    ],
    ids=["unknown-key", "bad-toml", "port-type", "bool-type", "env-port", "env-bool",
         "env-workers", "flag-port", "data-is-file", "metadata-scheme", "blobs-scheme"],
)  # fmt: skip
def test_config_errors_are_one_line_and_exit_2(
    tmp_path: Path, config: str | None, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    argv = ["serve", "--data", str(tmp_path / "data"), "--port", str(_free_port())]
    if config is not None:
        (tmp_path / "c.toml").write_text(config)
        argv += ["--config", str(tmp_path / "c.toml")]
    result = CliRunner().invoke(cli, [*argv, *args], env={**CLEAN, **env})
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("davbind serve: ") and message in lines[0]
    assert "serving" not in result.stdout


def test_port_in_use_fails_before_the_banner(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(
            cli, ["serve", "--data", str(tmp_path), "--port", str(port)], env=CLEAN
        )
    assert result.exit_code == 1
    assert "serving" not in result.stdout
    assert result.stderr.strip() == (
        f"davbind serve: cannot listen on http://127.0.0.1:{port}/: Address already in use"
    )


@pytest.mark.parametrize(("host", "url"), [
    ("127.0.0.1", "http://127.0.0.1:8080/"), ("::1", "http://[::1]:8080/"),
    ("[::1]", "http://[::1]:8080/"), ("localhost", "http://localhost:8080/"),
])  # fmt: skip
def test_urls_put_ipv6_literals_in_brackets(host: str, url: str) -> None:
    assert url_of(host, 8080) == url


def test_banner_on_ipv6_loopback(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback here")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "davbind.cli.main", "serve", "--host", "::1", "--port", str(port),
         "--data", str(tmp_path)],
        stdout=subprocess.PIPE, text=True, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    assert line.strip() == f"davbind serving {tmp_path} on http://[::1]:{port}/"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
