"""``davbind check`` against ``rclone serve webdav``: its quirks are reported once.

rclone answers 201 to a PUT that replaces a file (RFC 9110 §9.3.4 asks for 200 or 204).
Only ``class1.put-status`` judges that; the checks that merely PUT on the way to their
own rule (content round trip, PUT with the lock token, writable again after UNLOCK)
must not report it as a MUST failure of theirs.  Skipped without rclone, failed when the
``CI`` environment variable is set (as for the e2e client tests).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from davbind.conformance import all_checks

pytestmark = pytest.mark.e2e

servers: Any = __import__("davbind_test_servers")  # loaded by conftest.py

#: The checks rclone's quirks used to fail although they test something else.
NOT_THEIRS = ("class1.put-get", "locks.put-with-token", "locks.unlock")


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextlib.contextmanager
def rclone_serve(tmp: Path) -> Iterator[tuple[str, Path]]:
    if shutil.which("rclone") is None:
        if _in_ci():
            pytest.fail("'rclone' not found on PATH; CI is set, so a missing tool is a failure")
        pytest.skip("'rclone' not found on PATH (apt-get install rclone)")
    port = servers.free_port()
    root = tmp / "served"
    root.mkdir()
    config = tmp / "rclone.conf"
    config.write_text("")
    cmd = ["rclone", "--config", str(config), "serve", "webdav", "--addr",
           f"127.0.0.1:{port}", str(root)]  # fmt: skip
    with servers._run(cmd, f"http://127.0.0.1:{port}/", tmp / "rclone.log", tmp) as url:
        yield url, root


def test_rclone_quirk_reported_once(tmp_path: Path, check_cmd: list[str]) -> None:
    with rclone_serve(tmp_path) as (url, root):
        result = subprocess.run([*check_cmd, url, "--format", "json"], capture_output=True,
                                timeout=180)  # fmt: skip
        assert result.returncode in (0, 1), result.stderr.decode()
        assert list(root.iterdir()) == []
    report = json.loads(result.stdout)
    checks = {c["id"]: c for c in report["checks"]}
    assert set(checks) == {c.id for c in all_checks()}
    wrong = {i: checks[i]["detail"] for i in NOT_THEIRS if checks[i]["result"] == "fail"}
    assert wrong == {}
    put_status = checks["class1.put-status"]
    assert put_status["result"] == "fail"
    assert put_status["detail"] == "PUT replacing a resource: expected 200 or 204, got 201"
    for entry in report["checks"]:
        if entry["result"] == "fail":
            assert not re.search(r"\bNone\b|\bnothing\b", entry["detail"]), entry
    assert report["cleanup_error"] is None and report["setup_error"] is None
