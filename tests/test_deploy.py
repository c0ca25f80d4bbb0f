"""The shipped deployment files: LICENSE, Dockerfile and deploy/davbind.service.

Docker is not available where the tests run, so the image's essence is run without it:
the project is built into a wheel in a fresh virtualenv, installed, and the Dockerfile's
own CMD (with the address and the data folder swapped for test ones) must answer a
PROPFIND.  The systemd unit is parsed, its ExecStart checked against the real
``davbind serve`` flags, and given to ``systemd-analyze verify`` where that exists.
"""

from __future__ import annotations

import configparser
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT = ROOT / "deploy" / "davbind.service"


def dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) pairs, continuation lines joined, comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.lstrip().startswith("#") or not raw.strip():
            continue
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        lines.append(pending + raw.strip())
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def unit() -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(UNIT.read_text())
    return parser


def serve_flags() -> set[str]:
    """The long options ``davbind serve --help`` really offers."""
    done = subprocess.run([sys.executable, "-m", "davbind.cli.main", "serve", "--help"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return {word.split("=")[0].rstrip(",") for word in done.stdout.split() if word.startswith("--")}


def test_license_is_the_mit_license_pyproject_declares() -> None:
    license_ = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["license"]
    text = (ROOT / "LICENSE").read_text()
    assert license_ == {"text": "MIT"}
    assert text.startswith("MIT License") and "the davbind authors" in text


def test_dockerfile_runs_serve_as_a_user_on_a_data_volume() -> None:
    steps = dockerfile()
    kinds = [kind for kind, _ in steps]
    assert steps[0] == ("FROM", "python:3.11-slim")
    assert ("VOLUME", "/data") in steps and ("EXPOSE", "8080") in steps
    user = [args for kind, args in steps if kind == "USER"]
    assert user and user[-1] not in ("root", "0")
    assert kinds.index("USER") > max(i for i, k in enumerate(kinds) if k == "RUN")
    assert any(kind == "RUN" and "pip install ." in args for kind, args in steps)
    cmd = json.loads(dict(steps)["CMD"])
    assert cmd[:2] == ["davbind", "serve"]
    assert {"--host", "--data"} <= set(cmd) and cmd[cmd.index("--data") + 1] == "/data"
    assert set(a for a in cmd if a.startswith("--")) <= serve_flags()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
@pytest.mark.timeout(900)
def test_a_wheel_installed_in_a_fresh_venv_serves_as_the_image_would(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "-q", "--disable-pip-version-check"]
    source = tmp_path / "source"  # the files the Dockerfile copies, nothing else
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([*pip, "wheel", "--no-deps", "-w", tmp_path / "dist", source], check=True)
    wheels = list((tmp_path / "dist").glob("davbind-*.whl"))
    assert len(wheels) == 1
    subprocess.run([*pip, "install", wheels[0]], check=True)
    cmd = json.loads(dict(dockerfile())["CMD"])
    data = tmp_path / "data"
    args = [str(data) if a == "/data" else "127.0.0.1" if a == "0.0.0.0" else a for a in cmd]
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    env.update(DAVBIND_PORT=str(port), PATH=f"{venv / 'bin'}:{env.get('PATH', '')}")
    exe = shutil.which(args[0], path=env["PATH"])
    assert exe == str(venv / "bin" / "davbind")
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen([exe, *args[1:]], stdout=log, stderr=subprocess.STDOUT, env=env,
                            cwd=tmp_path)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/"
        answer = None
        for _ in range(200):
            try:
                answer = httpx.request("PROPFIND", url, headers={"Depth": "1"}, timeout=2)
                break
            except httpx.TransportError:
                assert proc.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        assert answer is not None and answer.status_code == 207, answer
        assert b"multistatus" in answer.content
        scenarios = subprocess.run([str(venv / "bin" / "davbind"), "mock", "--list"],
                                   capture_output=True, text=True)  # fmt: skip
        assert scenarios.returncode == 0 and scenarios.stdout.strip(), scenarios.stderr
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
    assert (data / "meta.sqlite3").exists()


def test_systemd_unit_starts_serve_with_real_flags_and_hardening() -> None:
    service = unit()["Service"]
    argv = shlex.split(service["ExecStart"])
    assert Path(argv[0]).name == "davbind" and argv[1] == "serve"
    assert {a for a in argv if a.startswith("--")} <= serve_flags()
    data = argv[argv.index("--data") + 1]
    assert data == "/var/lib/" + service["StateDirectory"]
    assert data in service["ReadWritePaths"].split()
    assert service["NoNewPrivileges"] == "yes" and service["ProtectSystem"] == "strict"
    assert service.get("DynamicUser") == "yes" or service.get("User")
    assert unit()["Install"]["WantedBy"] == "multi-user.target"


def test_systemd_analyze_accepts_the_unit(tmp_path: Path) -> None:
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    davbind = shutil.which("davbind", path=str(Path(sys.executable).parent))
    assert davbind is not None
    # verify insists that ExecStart's program exists: point it at the installed one.
    text = UNIT.read_text().replace("/opt/davbind/bin/davbind", davbind)
    copy = tmp_path / "davbind.service"
    copy.write_text(text)
    done = subprocess.run(["systemd-analyze", "verify", copy], capture_output=True, text=True)
    problems = [line for line in done.stderr.splitlines() if "davbind.service" in line]
    assert done.returncode == 0 and not problems, done.stderr
