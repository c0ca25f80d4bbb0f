"""``davbind serve`` and security: the start-up notes about TLS and anonymous access, the
TLS settings' rules, and an HTTPS server that takes a Basic login."""

from __future__ import annotations

import base64
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from davbind.cli.main import cli
from davbind.cli.serve import security_notes
from davbind.server.settings import Settings

CLEAN = {k: None for k in os.environ if k.startswith("DAVBIND_")}


def test_off_loopback_without_tls_warns_and_without_users_says_how_to_add_one() -> None:
    notes = security_notes(Settings(host="0.0.0.0", data_dir="d"), users=False)
    assert any("TLS is off" in n for n in notes)
    assert any("davbind user add NAME --data d" in n for n in notes)


def test_loopback_and_tls_need_no_warning() -> None:
    assert security_notes(Settings(), users=False) == []
    assert security_notes(Settings(), users=True) == []
    tls = Settings(host="0.0.0.0", tls_cert="c.pem", tls_key="k.pem")
    assert security_notes(tls, users=True) == []


def test_anonymous_access_off_loopback_is_announced() -> None:
    write = security_notes(Settings(host="0.0.0.0", allow_anonymous_write=True,
                                    tls_cert="c", tls_key="k"), users=True)  # fmt: skip
    assert len(write) == 1 and "anonymous write access is on" in write[0]
    read = security_notes(Settings(host="0.0.0.0", allow_anonymous_read=True,
                                   tls_cert="c", tls_key="k"), users=True)  # fmt: skip
    assert len(read) == 1 and "anonymous read access is on" in read[0]


def test_a_certificate_without_its_key_is_a_config_error(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    result = CliRunner().invoke(
        cli, ["serve", "--data", str(tmp_path / "d"), "--tls-cert", str(cert)], env=CLEAN
    )
    assert result.exit_code == 2
    assert "tls_cert and tls_key go together" in result.output
    assert "serving" not in result.output


@pytest.mark.parametrize("where", ["flags", "toml"])
def test_an_unusable_certificate_is_a_config_error(tmp_path: Path, where: str) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("not a certificate")
    key.write_text("not a key")
    if where == "flags":
        args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    else:
        config = tmp_path / "s.toml"
        config.write_text(f'tls_cert = "{cert}"\ntls_key = "{tmp_path / "missing.pem"}"\n')
        args = ["--config", str(config)]
    result = CliRunner().invoke(cli, ["serve", "--data", str(tmp_path / "d"), *args], env=CLEAN)
    assert result.exit_code == 2
    assert "cannot use the TLS certificate" in result.output
    assert "Traceback" not in result.output and "serving" not in result.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_https_with_basic_login(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)  # fmt: skip
    data = tmp_path / "d"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    subprocess.run([sys.executable, "-m", "davbind.cli.main", "user", "add", "alice",
                    "--password-stdin", "--data", str(data)], input=b"pw\n", check=True,
                   env=env)  # fmt: skip
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "davbind.cli.main", "serve", "--port", str(port), "--data",
         str(data), "--tls-cert", str(cert), "--tls-key", str(key)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        url = f"https://127.0.0.1:{port}/"
        auth = {"Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
        deadline = time.monotonic() + 20
        trust = ssl.create_default_context(cafile=str(cert))
        with httpx.Client(verify=trust, timeout=5) as c:
            while True:
                try:
                    r = c.put(url + "home/alice/s.txt", content=b"secure", headers=auth)
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, "no HTTPS answer within 20 s"
                    time.sleep(0.2)
            assert r.status_code == 201
            assert c.get(url + "home/alice/s.txt", headers=auth).content == b"secure"
            assert c.get(url + "home/alice/s.txt").status_code == 401
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=15)[0].decode()
    assert f"serving {data} on https://127.0.0.1:{port}/" in out
