"""The README's runnable shell examples, run with bash against a real ``davbind serve``.

A block is runnable when the line before its ```` ```sh ```` fence is
``<!-- runnable -->``.  All runnable blocks run in document order in one bash script
(``set -e``, a scratch directory as working directory), so a later block may use what an
earlier one made (``$B``, ``hello.txt``).  The README talks to ``127.0.0.1:8080``; the
server runs there when that port is free, else the URLs are rewritten to its port.

``curl`` is wrapped by a shell function that adds ``-sS`` and writes each answer's status
to stderr; a command whose line ends in a promised status (``# 201 Created``), or that is
followed by a comment line ``# -> 207 ...``, must get exactly that status.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
MARK = "<!-- runnable -->"
STATUS = "@@status"
PRELUDE = f"""set -e
curl() {{ command curl -sS -w '%{{stderr}}{STATUS} %{{http_code}}\\n' "$@"; }}
"""
CURL = re.compile(r"(?:^|&&|\|\||;|\$\()\s*curl\b")
PROMISE = re.compile(r"(?:^|\s)#\s*(?:->\s*)?(\d{3})\b[^#]*$")


def runnable_blocks(text: str) -> list[str]:
    blocks: list[str] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip() != MARK:
            continue
        assert lines[i + 1].strip() == "```sh", f"README line {i + 2}: {MARK} must precede ```sh"
        end = lines.index("```", i + 2)
        blocks.append("\n".join(lines[i + 2 : end]) + "\n")
    return blocks


def logical_lines(script: str) -> Iterator[str]:
    """Commands with continuation lines joined; here-document bodies left out."""
    pending = ""
    heredoc: str | None = None
    for line in script.splitlines():
        if heredoc is not None:
            if line.strip() == heredoc:
                heredoc = None
            continue
        if line.endswith("\\"):
            pending += line[:-1]
            continue
        full = pending + line
        pending = ""
        found = re.search(r"<<'?(\w+)'?", full)
        if found:
            heredoc = found.group(1)
        yield full


def promises(script: str) -> list[int | None]:
    """The status each curl call of ``script`` is promised (None: nothing said)."""
    expected: list[int | None] = []
    for line in logical_lines(script):
        promise = PROMISE.search(line)
        if line.lstrip().startswith("#"):
            if promise and line.lstrip().startswith("# ->") and expected:
                expected[-1] = int(promise.group(1))
            continue
        calls = len(CURL.findall(line.split(" # ")[0]))
        expected.extend([None] * calls)
        if promise and calls:
            expected[-1] = int(promise.group(1))
    return expected


def test_the_curl_examples_are_marked_runnable() -> None:
    blocks = runnable_blocks(README.read_text())
    joined = "".join(blocks)
    for method in ("PROPFIND", "MKCOL", "MOVE", "LOCK", "UNLOCK", "BIND", "REBIND", "UNBIND"):
        assert f"-X {method} " in joined, f"no runnable README example sends {method}"
    assert "'<urn:uuid:...>'" not in joined  # a placeholder token cannot run
    assert promises(joined).count(None) < len(promises(joined))


def test_promises_are_read_per_curl_call() -> None:
    script = (
        "curl -X MKCOL $B/a/ && curl -T x $B/a/x     # 201 Created\n"
        "curl -X PROPFIND \\\n   $B/ <<'EOF'\n# not a comment\nEOF\n# -> 207 Multi-Status\n"
        "X=$(curl -s $B/) # 200\n"
    )
    assert promises(script) == [None, 201, 207, 200]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.e2e
def test_readme_examples_run_against_davbind_serve(tmp_path: Path) -> None:
    port = 8080 if _port_free(8080) else _free_port()
    script = "".join(runnable_blocks(README.read_text()))
    script = script.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "davbind.cli.main", "serve", "--port", str(port),
         "--data", str(tmp_path / "data"), "--allow-loops"],  # as the Bindings section says
        stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp_path,
    )  # fmt: skip
    try:
        for _ in range(200):
            try:
                httpx.request("OPTIONS", f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx.TransportError:
                assert server.poll() is None, (tmp_path / "serve.log").read_text()
                time.sleep(0.1)
        work = tmp_path / "work"
        work.mkdir()
        done = subprocess.run(["bash", "-c", PRELUDE + script], cwd=work, env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    got = [int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith(STATUS)]
    expected = promises(script)
    assert len(got) == len(expected), (got, expected, done.stderr)
    wrong = [(i, e, g) for i, (e, g) in enumerate(zip(expected, got, strict=True))
             if e is not None and e != g]  # fmt: skip
    assert not wrong, f"(call, promised, got): {wrong}\n{done.stderr}"
    assert all(200 <= g < 300 or e is not None for e, g in zip(expected, got, strict=True)), got
    assert "208 Already Reported" in done.stdout  # the Depth-infinity example's point
