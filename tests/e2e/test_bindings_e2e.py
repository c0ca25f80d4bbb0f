"""Bindings against a real ``davbind serve``: real clients over a shared tree and a loop.

The tree, built over HTTP (MKCOL, PUT, BIND):

    /shared/{a.txt, b.bin, sub/{c.txt}}      one collection S ...
    /a/shared -> S, /b/shared -> S           ... bound twice more
    /a/loop -> /a                            and a loop

Plain clients list with Depth 1 and never see a 208 (RFC 5842 §7.1): cadaver ``ls`` and
``rclone lsjson`` (no ``-R``) must work on ``/a/`` and through the loop.  A Depth-infinity
PROPFIND gets 207 with 208s for a client that sends ``DAV: bind`` and a top-level
``508 Loop Detected`` otherwise — checked on the wire (status line included, B-14-1).
"""

from __future__ import annotations

import http.client
import json
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.e2e

TIMEOUT = 60
D = "{DAV:}"
FILES = {"a.txt": b"alpha\n", "b.bin": bytes(range(256)) * 16, "sub/c.txt": b"gamma\n"}
PROPS = (
    b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:resource-id/></D:prop></D:propfind>"
)


def _bind(segment: str, href: str) -> bytes:
    return (
        f'<D:bind xmlns:D="DAV:"><D:segment>{segment}</D:segment><D:href>{href}</D:href></D:bind>'
    ).encode()


@pytest.fixture
def tree(server):
    with server.client() as c:
        for url in ("/shared/", "/shared/sub/", "/a/", "/b/"):
            assert c.request("MKCOL", url).status_code == 201, url
        for name, data in FILES.items():
            assert c.put(f"/shared/{name}", content=data).status_code == 201, name
        for coll, seg, href in (
            ("/a/", "shared", "/shared/"),
            ("/b/", "shared", "/shared/"),
            ("/a/", "loop", server.url_for("/a/")),  # absolute URL href
        ):
            r = c.request("BIND", coll, content=_bind(seg, href),
                          headers={"Content-Type": "application/xml"})  # fmt: skip
            assert r.status_code == 201, (coll, seg, r.status_code, r.text)
    return server


def _propfind(server, path: str, depth: str, dav: str | None) -> tuple[int, str, bytes, dict]:
    """Raw PROPFIND with http.client: the status line exactly as sent."""
    parts = urlsplit(server.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=TIMEOUT)
    headers = {"Depth": depth, "Content-Type": "application/xml; charset=utf-8"}
    if dav is not None:
        headers["DAV"] = dav
    try:
        conn.request("PROPFIND", path, body=PROPS, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.reason, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


def _statuses(body: bytes) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for resp in ET.fromstring(body).iter(D + "response"):
        path = unquote(urlsplit(resp.findtext(D + "href") or "").path)
        codes = {int((s.text or "").split()[1]) for s in resp.iter(D + "status")}
        out[path] = codes - {404}
    return out


def test_B_7_1_1_bind_aware_depth_infinity_207_with_208(tree):
    status, _, body, headers = _propfind(tree, "/a/", "infinity", "1, bind")
    assert status == 207
    assert "dav" in headers.get("vary", headers.get("Vary", "")).lower()
    found = _statuses(body)
    assert found["/a/"] == {200}
    assert found["/a/shared/"] == {200}
    assert found["/a/shared/sub/c.txt"] == {200}
    assert found["/a/loop/"] == {208}
    assert not any(p.startswith("/a/loop/") and p != "/a/loop/" for p in found)
    # The whole store: S is enumerated once; its other two bindings are 208.
    status, _, body, _ = _propfind(tree, "/", "infinity", "bind")
    found = _statuses(body)
    assert status == 207
    assert [p for p, s in found.items() if s == {208}] == ["/a/loop/", "/b/shared/", "/shared/"]


def test_B_14_1_non_bind_aware_depth_infinity_is_508_on_the_wire(tree):
    status, reason, body, _ = _propfind(tree, "/a/", "infinity", None)
    assert (status, reason) == (508, "Loop Detected")
    assert b"multistatus" not in body
    # /b/ has a shared collection but no loop: enumerated under each path, no 208.
    status, reason, body, _ = _propfind(tree, "/b/", "infinity", None)
    assert (status, reason) == (207, "Multi-Status")
    assert set(_statuses(body)) == {
        "/b/", "/b/shared/", "/b/shared/a.txt", "/b/shared/b.bin", "/b/shared/sub/",
        "/b/shared/sub/c.txt",
    }  # fmt: skip
    status, _, body, _ = _propfind(tree, "/", "infinity", None)
    assert status == 508


def test_B_7_1_2_depth_1_through_the_loop_never_208(tree):
    for path in ("/a/", "/a/loop/", "/a/loop/loop/"):
        status, _, body, _ = _propfind(tree, path, "1", "bind")
        assert status == 207
        found = _statuses(body)
        assert all(codes == {200} for codes in found.values()), found
        assert {p[len(path) :] for p in found} == {"", "shared/", "loop/"}, path


def _cadaver(server, env: dict[str, str], cwd: Path, command: str) -> str:
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


def _cadaver_listing(out: str) -> dict[str, int | None]:
    """``ls`` output -> {name: size, or None for a collection}."""
    entries: dict[str, int | None] = {}
    for line in out.splitlines():
        if line.startswith("Coll:"):
            entries[line.split()[1]] = None
        elif line.startswith((" ", "\t")) and line.split():
            fields = line.split()
            entries[fields[0]] = int(fields[1])
    return entries


SHARED = {"sub": None, "a.txt": len(FILES["a.txt"]), "b.bin": len(FILES["b.bin"])}


@pytest.mark.requires_tool("cadaver")
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("a", {"shared": None, "loop": None}),
        ("a/loop", {"shared": None, "loop": None}),
        ("a/loop/loop/shared", SHARED),
        ("b/shared", SHARED),
        ("b/shared/sub", {"c.txt": len(FILES["sub/c.txt"])}),
    ],
)
def test_cadaver_ls_over_bindings_and_a_loop(tree, tmp_path, client_env, path, expected):
    work = tmp_path / "cadaver"
    work.mkdir()
    out = _cadaver(tree, client_env, work, f"ls {path}")
    assert f"Listing collection `/{path}/': succeeded." in out
    assert _cadaver_listing(out) == expected


@pytest.mark.requires_tool("cadaver")
def test_cadaver_get_through_the_loop(tree, tmp_path, client_env):
    work = tmp_path / "cadaver"
    work.mkdir()
    target = work / "b.bin"
    out = _cadaver(tree, client_env, work, f"get a/loop/loop/shared/b.bin {target}")
    assert "succeeded" in out
    assert target.read_bytes() == FILES["b.bin"]


@pytest.fixture
def rclone(tree, tmp_path, client_env):
    config = tmp_path / "rclone.conf"
    config.write_text("")
    env = dict(
        client_env,
        RCLONE_CONFIG=str(config),
        RCLONE_CONFIG_DAV_TYPE="webdav",
        RCLONE_CONFIG_DAV_URL=tree.url,
        RCLONE_CONFIG_DAV_VENDOR="other",
    )

    def run(*args: str) -> str:
        cmd = ["rclone", "--retries", "1", "--low-level-retries", "1", *args]
        proc = subprocess.run(cmd, env=env, capture_output=True, timeout=TIMEOUT, cwd=tmp_path)
        out = proc.stdout.decode(errors="replace")
        err = proc.stderr.decode(errors="replace")
        print(f"--- {' '.join(cmd)} -> {proc.returncode}\n{out}{err}")
        assert proc.returncode == 0, f"{' '.join(cmd)} exited {proc.returncode}\n{out}{err}"
        assert "ERROR" not in err, err
        return out

    return run


@pytest.mark.requires_tool("rclone")
@pytest.mark.parametrize(
    ("remote", "expected"),
    [
        ("dav:a", {"shared": True, "loop": True}),
        ("dav:a/loop", {"shared": True, "loop": True}),
        ("dav:a/loop/loop/shared", {"a.txt": False, "b.bin": False, "sub": True}),
        ("dav:b/shared", {"a.txt": False, "b.bin": False, "sub": True}),
    ],
)
def test_rclone_lsjson_depth_1_over_bindings(rclone, remote, expected):
    items = {item["Path"]: item for item in json.loads(rclone("lsjson", remote))}
    assert {name: item["IsDir"] for name, item in items.items()} == expected
    if "b.bin" in items:
        assert items["b.bin"]["Size"] == len(FILES["b.bin"])


@pytest.mark.requires_tool("rclone")
def test_rclone_cat_through_two_bindings(rclone):
    assert rclone("cat", "dav:a/shared/a.txt") == FILES["a.txt"].decode()
    assert rclone("cat", "dav:b/shared/sub/c.txt") == FILES["sub/c.txt"].decode()
