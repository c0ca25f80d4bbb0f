"""cadaver, the neon-based command-line WebDAV client, driven unattended.

cadaver needs no terminal: with stdin not a tty it reads one command per line from stdin,
echoes each after its prompt (``dav:/> mkcol docs``), prints the outcome and exits at
``quit`` or end of input. Three things make it hermetic:

- ``HOME`` is an empty directory, so no ``~/.cadaverrc`` script or ``~/.netrc``
  credentials of the user are read (anonymous access needs no credentials; if the server
  ever asked for them, cadaver would prompt and consume the next stdin line, which the
  "succeeded" checks below would catch);
- ``LC_ALL=C``: cadaver's messages are translated, and we parse them;
- its exit status is 0 whatever happens, so every step checks the output for
  ``succeeded`` and then checks the effect independently over HTTP with httpx.

One cadaver process per step keeps each step's output separate.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("cadaver")]

TIMEOUT = 60


def _cadaver(server, env: dict[str, str], cwd: Path, command: str) -> str:
    assert not any(ch.isspace() for ch in str(cwd)), "cadaver arguments must not need quoting"
    proc = subprocess.run(
        ["cadaver", server.url],
        input=f"{command}\nquit\n".encode(),
        cwd=cwd,
        env=env,
        capture_output=True,
        timeout=TIMEOUT,
    )
    out = proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace")
    print(f"--- cadaver: {command}\n{out}")
    assert "Could not" not in out, out
    assert "failed" not in out, out
    return out


def test_cadaver_roundtrip(server, tmp_path: Path, client_env: dict[str, str]) -> None:
    work = tmp_path / "cadaver"
    work.mkdir()
    payload = b"hello from cadaver\n" + random.Random(4918).randbytes(200_000)
    local = work / "hello.bin"
    local.write_bytes(payload)

    def run(command: str) -> str:
        return _cadaver(server, client_env, work, command)

    # mkcol
    assert "succeeded" in run("mkcol docs")
    entries = server.listing("/docs/", "0")
    assert entries["/docs"].is_collection

    # put
    assert "succeeded" in run(f"put {local} docs/hello.bin")
    with server.client() as c:
        r = c.get("/docs/hello.bin")
        assert r.status_code == 200
        assert r.content == payload

    # ls lists the file with its size
    out = run("ls docs")
    assert "succeeded" in out
    listed = [line.split() for line in out.splitlines() if "hello.bin" in line]
    assert listed, out
    assert str(len(payload)) in listed[0], out

    # get it back
    back = work / "back.bin"
    assert "succeeded" in run(f"get docs/hello.bin {back}")
    assert back.read_bytes() == payload

    # move
    assert "succeeded" in run("move docs/hello.bin docs/moved.bin")
    with server.client() as c:
        assert c.get("/docs/hello.bin").status_code == 404
        r = c.get("/docs/moved.bin")
        assert r.status_code == 200
        assert r.content == payload
    assert set(server.listing("/docs/")) == {"/docs", "/docs/moved.bin"}

    # delete
    assert "succeeded" in run("delete docs/moved.bin")
    with server.client() as c:
        assert c.get("/docs/moved.bin").status_code == 404
    assert set(server.listing("/docs/")) == {"/docs"}
    assert "collection is empty" in run("ls docs")
