"""``davbind import`` and ``davbind export`` as a user runs them: separate processes
against a real ``davbind serve``, checked with ``diff -r``; an import killed halfway is
finished by running it again, sending only what was missing."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def davbind(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "davbind.cli.main", *args, "--no-progress"],
        capture_output=True, text=True, timeout=timeout,
    )  # fmt: skip


def tree(root: Path, files: int, size: int) -> None:
    """Files in three levels of directories, including an empty file and unicode names."""
    for i in range(files):
        where = root / f"d{i % 4}" / f"ü{i % 3}" / f"f{i:04d} 名前.bin"
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(os.urandom(size if i else 0))
    (root / "empty dir").mkdir()


def diff(a: Path, b: Path) -> str:
    result = subprocess.run(["diff", "-r", a, b], capture_output=True, text=True)
    return result.stdout + result.stderr if result.returncode else ""


def count_files(server, path: str) -> int:
    entries = server.listing(path, "infinity")
    return sum(1 for e in entries.values() if not e.is_collection)


def test_import_then_export_is_identical(server, tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    tree(src, 120, 3000)
    url = server.url_for("/in/")
    done = davbind("import", str(src), url)
    assert done.returncode == 0, done.stderr
    assert re.search(r"imported 120 files .* 0 already there", done.stdout), done.stdout
    done = davbind("export", url, str(out))
    assert done.returncode == 0, done.stderr
    assert diff(src, out) == ""


def test_an_interrupted_import_is_finished_by_running_it_again(
    server, tmp_path: Path
) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    total = 300
    tree(src, total, 256 * 1024)
    url = server.url_for("/in/")
    cmd = [sys.executable, "-m", "davbind.cli.main", "import", "-j", "1", "--no-progress",
           str(src), url]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if count_files(server, "/in/") >= 10:
                    break
            except AssertionError:  # /in/ not created yet
                pass
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    before = count_files(server, "/in/")
    assert 10 <= before < total, f"the import was not cut short ({before} of {total} files)"
    done = davbind("import", str(src), url)
    assert done.returncode == 0, done.stderr
    match = re.search(r"imported (\d+) files", done.stdout)
    assert match is not None, done.stdout
    sent = int(match.group(1))
    assert re.search(rf"{total - sent} already there", done.stdout), done.stdout
    assert sent <= total - before + 1  # at most the file cut off mid-upload again
    done = davbind("export", url, str(out))
    assert done.returncode == 0, done.stderr
    assert diff(src, out) == ""
