"""rclone against ``davbind serve``: mkdir, copy up and down, lsjson, moveto, deletefile, purge.

The remote ``dav:`` is defined entirely by environment variables
(``RCLONE_CONFIG_DAV_TYPE=webdav``, ``..._URL``, ``..._VENDOR=other``) with
``RCLONE_CONFIG`` pointing at an empty file of the test, so the user's rclone.conf is
never read. ``vendor=other`` means plain RFC 4918: no modtime setting, no checksums, so
comparisons use sizes and, with ``check --download``, the bytes themselves.
"""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.requires_tool("rclone")]

TIMEOUT = 120
MIB = 1024 * 1024


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def rclone(server, tmp_path: Path, client_env: dict[str, str]):
    config = tmp_path / "rclone.conf"
    config.write_text("")
    env = dict(
        client_env,
        RCLONE_CONFIG=str(config),
        RCLONE_CONFIG_DAV_TYPE="webdav",
        RCLONE_CONFIG_DAV_URL=server.url,
        RCLONE_CONFIG_DAV_VENDOR="other",
    )

    def run(*args: str) -> str:
        cmd = ["rclone", "--retries", "1", "--low-level-retries", "1", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=TIMEOUT, cwd=tmp_path)
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        print(f"--- {' '.join(cmd)} -> {proc.returncode}\n{out}{err}")
        assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{out}{err}"
        return out

    return run


def _lsjson(rclone, remote: str) -> dict[str, dict[str, object]]:
    return {item["Path"]: item for item in json.loads(rclone("lsjson", "-R", remote))}


def test_rclone_roundtrip(server, rclone, tmp_path: Path) -> None:
    rng = random.Random(5842)
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "b.bin").write_bytes(rng.randbytes(4096))
    (src / "sub" / "c.txt").write_text("gamma in a subdirectory\n")
    (src / "big.bin").write_bytes(rng.randbytes(5 * MIB))
    local = _tree(src)

    # mkdir
    rclone("mkdir", "dav:up")
    assert server.listing("/up/", "0")["/up"].is_collection
    assert _lsjson(rclone, "dav:up") == {}

    # copy up; listings agree with the local tree
    rclone("copy", str(src), "dav:up")
    listing = _lsjson(rclone, "dav:up")
    files = {path: item for path, item in listing.items() if not item["IsDir"]}
    assert {path: item["Size"] for path, item in files.items()} == {
        path: len(data) for path, data in local.items()
    }
    assert listing["sub"]["IsDir"] is True
    rclone("check", "--download", str(src), "dav:up")
    with server.client() as c:
        r = c.get("/up/big.bin")
        assert r.status_code == 200
        assert r.content == local["big.bin"]
    entries = server.listing("/up/")
    assert set(entries) == {"/up", "/up/a.txt", "/up/b.bin", "/up/big.bin", "/up/sub"}
    assert entries["/up/big.bin"].content_length == 5 * MIB

    # copy back down; byte-identical tree
    back = tmp_path / "back"
    rclone("copy", "dav:up", str(back))
    assert _tree(back) == local

    # moveto
    rclone("moveto", "dav:up/a.txt", "dav:up/sub/a-moved.txt")
    listing = _lsjson(rclone, "dav:up")
    assert "a.txt" not in listing
    assert listing["sub/a-moved.txt"]["Size"] == len(local["a.txt"])
    with server.client() as c:
        assert c.get("/up/a.txt").status_code == 404
        assert c.get("/up/sub/a-moved.txt").content == local["a.txt"]

    # deletefile
    rclone("deletefile", "dav:up/b.bin")
    assert "b.bin" not in _lsjson(rclone, "dav:up")
    with server.client() as c:
        assert c.get("/up/b.bin").status_code == 404

    # purge removes the whole tree
    rclone("purge", "dav:up")
    assert "/up" not in server.listing("/")
    assert [item["Path"] for item in json.loads(rclone("lsjson", "dav:"))] == []
    with server.client() as c:
        assert c.get("/up/big.bin").status_code == 404
