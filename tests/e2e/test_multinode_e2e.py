"""Three ``davbind serve`` nodes sharing one PostgreSQL database and one S3 bucket.

* litmus 0.13 (every suite) against node 1 while nodes 2 and 3 take writes (PUT and
  MOVE in folders of their own);
* a lock taken through one node is enforced by the others;
* read-your-writes: after PUT, MOVE, BIND, PROPPATCH or LOCK on one node, the very next
  request on another node sees it;
* ``kill -9`` of a node in the middle of an upload leaves no visible partial file, the
  other nodes keep serving, and the upload's leftovers in the bucket are collected by a
  later start-up sweep once old enough.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
sys.path.insert(0, str(Path(__file__).parent))  # this directory's helper modules
import postgres_databases
from multinode_setup import write_config

pytestmark = [pytest.mark.e2e]

DAV = "{DAV:}"
LITMUS_TIMEOUT = 600
SUMMARY = re.compile(
    r"<- summary for `(?P<suite>[^']+)': of (?P<run>\d+) tests run: "
    r"(?P<passed>\d+) passed, (?P<failed>\d+) failed\."
)
WARNINGS = re.compile(r"-> (\d+) warnings? (?:was|were) issued\.")
LOCKINFO = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/></D:lockscope>'
    b"<D:locktype><D:write/></D:locktype><D:owner>multinode</D:owner></D:lockinfo>"
)


@dataclass
class Nodes:
    """The running nodes (``RunningServer`` of tests/e2e/conftest.py) and their stores."""

    servers: list
    config: str
    blobs_url: str
    factory: Callable[..., contextlib.AbstractContextManager]
    tmp: Path
    clients: list[httpx.Client] = field(default_factory=list)

    def __getitem__(self, n: int) -> httpx.Client:
        return self.clients[n - 1]


@pytest.fixture
def nodes(
    server_factory, tmp_path: Path, s3_blob_url: str, postgres_server: str
) -> Iterator[Nodes]:
    server = postgres_server
    url = postgres_databases.create(server, "davbind_e2e_multinode_")
    config = write_config(tmp_path, url, s3_blob_url)
    try:
        with contextlib.ExitStack() as stack:
            servers = [
                stack.enter_context(
                    server_factory(["--config", config], data_dir=tmp_path / f"node{n}",
                                   name=f"node{n}")
                )
                for n in (1, 2, 3)
            ]
            made = Nodes(servers, config, s3_blob_url, server_factory, tmp_path)
            made.clients = [stack.enter_context(s.client(timeout=60)) for s in servers]
            yield made
    finally:
        postgres_databases.drop(server, [url])


def _clean(output: str) -> str:
    return "\n".join(line.rsplit("\r", 1)[-1] for line in output.split("\n"))


class Writer(threading.Thread):
    """PUT then MOVE in a folder of its own on one node until stopped; every answer
    must be a success."""

    def __init__(self, client: httpx.Client, folder: str) -> None:
        super().__init__(daemon=True)
        self.client = client
        self.folder = folder
        self.stop = threading.Event()
        self.done = 0
        self.failures: list[str] = []
        self.doing = ""  # the request in flight and when it began (for a stall's report)
        self.began = 0.0
        self.warm = threading.Event()  # set after the first round (a node's first upload
        # to the bucket took 1 s in CI, as long as litmus' whole run)

    def run(self) -> None:
        try:
            self._rounds()
        except Exception as exc:  # a thread's exception would otherwise be lost
            self.failures.append(f"round {self.done + 1}: {type(exc).__name__}: {exc}")

    def _doing(self, what: str) -> None:
        self.doing, self.began = what, time.monotonic()

    def stalled(self) -> str:
        """What the writer is waiting for, if anything, and for how long."""
        if not self.doing:
            return "nothing in flight"
        return f"{self.doing} in flight for {time.monotonic() - self.began:.1f} s"

    def _rounds(self) -> None:
        c = self.client
        if c.request("MKCOL", self.folder).status_code != 201:
            self.failures.append(f"MKCOL {self.folder}")
            return
        n = 0
        while not self.stop.is_set():
            n += 1
            body = os.urandom(100_000 if n % 2 else 1_000)  # in the bucket, or inline
            src, dst = f"{self.folder}/f{n}.bin", f"{self.folder}/moved{n}.bin"
            self._doing(f"PUT {src}")
            put = c.put(src, content=body)
            self._doing(f"MOVE {src}")
            move = c.request("MOVE", src, headers={
                "Destination": str(c.base_url.join(dst)), "Overwrite": "F"})  # fmt: skip
            steps = [("PUT", src, put, (201,)), ("MOVE", src, move, (201,))]
            self._doing(f"GET {dst}")
            got = c.get(dst)
            self._doing("")
            steps.append(("GET", dst, got, (200,)))
            for method, path, response, ok in steps:
                if response.status_code not in ok:
                    self.failures.append(f"{method} {path}: {response.status_code}")
            if got.status_code == 200 and got.content != body:
                self.failures.append(f"GET {dst}: other content")
            self.done += 1
            self.warm.set()


@pytest.mark.requires_tool("litmus")
def test_litmus_on_node1_while_nodes_2_and_3_write(
    nodes: Nodes, client_env: dict[str, str], record_property
) -> None:
    writers = [Writer(nodes[2], "/writer2"), Writer(nodes[3], "/writer3")]
    for writer in writers:
        writer.start()
    try:
        for writer in writers:  # writing already when litmus starts, not still warming up
            assert writer.warm.wait(60) or writer.failures, f"{writer.folder}: {writer.stalled()}"
        proc = subprocess.run(
            ["litmus", nodes.servers[0].url], cwd=nodes.tmp, env=client_env,
            stdin=subprocess.DEVNULL, capture_output=True, timeout=LITMUS_TIMEOUT,
        )  # fmt: skip
    finally:
        for writer in writers:
            writer.stop.set()
        for writer in writers:
            writer.join(60)
    out = _clean(proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace"))
    summaries = {m["suite"]: m for m in SUMMARY.finditer(out)}
    assert set(summaries) == {"basic", "copymove", "props", "locks", "http"}, out
    failed = {s: int(m["failed"]) for s, m in summaries.items() if int(m["failed"])}
    assert not failed, f"litmus failures on node 1 with writers on 2 and 3: {failed}\n{out}"
    warnings = sum(int(n) for n in WARNINGS.findall(out))
    assert warnings == 0, out
    for writer in writers:
        assert not writer.failures, writer.failures[:20]
        assert writer.done >= 3, f"{writer.folder}: only {writer.done} rounds ({writer.stalled()})"
    record_property("writer_rounds", [w.done for w in writers])
    # what each writer did is seen the same way through every node
    for writer in writers:
        listings = [_members(c, writer.folder) for c in nodes.clients]
        assert listings[0] == listings[1] == listings[2]
        assert len(listings[0]) == writer.done


def _members(c: httpx.Client, path: str) -> dict[str, str]:
    """href -> etag of the members of ``path`` (Depth 1, the folder itself left out)."""
    r = c.request("PROPFIND", path, headers={"Depth": "1"})
    assert r.status_code == 207, r.status_code
    out = {}
    for resp in ET.fromstring(r.content).iter(f"{DAV}response"):
        href = resp.findtext(f"{DAV}href", "")
        if href.rstrip("/") != path.rstrip("/"):
            out[href] = resp.findtext(f".//{DAV}getetag", "")
    return out


def _lock(c: httpx.Client, path: str) -> str:
    r = c.request("LOCK", path, content=LOCKINFO,
                  headers={"Timeout": "Second-600", "Content-Type": "application/xml"})  # fmt: skip
    assert r.status_code in (200, 201), (r.status_code, r.text)
    token = r.headers["lock-token"].strip()
    assert token.startswith("<") and token.endswith(">")
    return token[1:-1]


def test_a_lock_taken_on_one_node_is_enforced_by_the_others(nodes: Nodes) -> None:
    assert nodes[1].put("/locked.txt", content=b"v1").status_code == 201
    token = _lock(nodes[1], "/locked.txt")
    for n in (2, 3):
        assert nodes[n].put("/locked.txt", content=b"intruder").status_code == 423
        assert nodes[n].delete("/locked.txt").status_code == 423
    ok = nodes[2].put("/locked.txt", content=b"v2", headers={"If": f"(<{token}>)"})
    assert ok.status_code in (200, 204), ok.status_code
    assert nodes[3].get("/locked.txt").content == b"v2"
    r = nodes[3].request("UNLOCK", "/locked.txt", headers={"Lock-Token": f"<{token}>"})
    assert r.status_code == 204
    assert nodes[1].put("/locked.txt", content=b"v3").status_code in (200, 204)


def test_read_your_writes_across_nodes(nodes: Nodes) -> None:
    """Each change through node A is seen by the very next request through node B (no
    cache between the nodes and the database)."""
    pairs = [(1, 2), (2, 3), (3, 1)]
    for a, b in pairs:
        body = os.urandom(80_000)
        assert nodes[a].put(f"/ryw-{a}.bin", content=body).status_code == 201
        assert nodes[b].get(f"/ryw-{a}.bin").content == body
        small = f"small from {a}".encode()
        assert nodes[a].put(f"/ryw-{a}.bin", content=small).status_code == 204
        assert nodes[b].get(f"/ryw-{a}.bin").content == small

        dest = str(nodes[a].base_url.join(f"/ryw-{a}-moved.bin"))
        assert nodes[a].request("MOVE", f"/ryw-{a}.bin",
                                headers={"Destination": dest}).status_code == 201  # fmt: skip
        assert nodes[b].get(f"/ryw-{a}.bin").status_code == 404
        assert nodes[b].get(f"/ryw-{a}-moved.bin").content == small

        bind = (
            f'<?xml version="1.0" encoding="utf-8"?><D:bind xmlns:D="DAV:">'
            f"<D:segment>ryw-{a}-bound.bin</D:segment>"
            f"<D:href>{nodes.servers[a - 1].url_for(f'ryw-{a}-moved.bin')}</D:href></D:bind>"
        ).encode()
        r = nodes[a].request("BIND", "/", content=bind,
                             headers={"Content-Type": "application/xml"})  # fmt: skip
        assert r.status_code == 201, (r.status_code, r.text)
        assert nodes[b].get(f"/ryw-{a}-bound.bin").content == small

        patch = (
            b'<?xml version="1.0" encoding="utf-8"?><D:propertyupdate xmlns:D="DAV:" '
            b'xmlns:Z="urn:multinode"><D:set><D:prop><Z:color>node-' + str(a).encode()
            + b"</Z:color></D:prop></D:set></D:propertyupdate>"
        )  # fmt: skip
        r = nodes[a].request("PROPPATCH", f"/ryw-{a}-moved.bin", content=patch)
        assert r.status_code == 207 and b"200 OK" in r.content, r.text
        find = (
            b'<?xml version="1.0" encoding="utf-8"?><D:propfind xmlns:D="DAV:" '
            b'xmlns:Z="urn:multinode"><D:prop><Z:color/></D:prop></D:propfind>'
        )
        r = nodes[b].request("PROPFIND", f"/ryw-{a}-bound.bin", content=find,
                             headers={"Depth": "0"})  # fmt: skip
        assert r.status_code == 207
        assert ET.fromstring(r.content).findtext(".//{urn:multinode}color") == f"node-{a}"

        token = _lock(nodes[a], f"/ryw-{a}-moved.bin")
        r = nodes[b].request("PROPFIND", f"/ryw-{a}-moved.bin", headers={"Depth": "0"},
                             content=b'<D:propfind xmlns:D="DAV:"><D:prop><D:lockdiscovery/>'
                                     b"</D:prop></D:propfind>")  # fmt: skip
        assert token in r.text
        assert nodes[b].put(f"/ryw-{a}-moved.bin", content=b"x").status_code == 423


def _bucket_keys(blobs_url: str) -> tuple[set[str], set[str]]:
    """(data object keys, data keys the manifests name) under the prefix of ``blobs_url``."""
    import json

    import obstore
    from obstore.store import S3Store

    parsed = urlsplit(blobs_url)
    bucket = S3Store(
        parsed.netloc, prefix=parsed.path.strip("/"), client_options={"allow_http": True},
        config={"endpoint": parse_qs(parsed.query)["endpoint"][0]},
    )  # fmt: skip
    data, named = set(), set()
    for batch in obstore.list(bucket):
        for meta in batch:
            path = meta["path"]
            if path.startswith("data/"):
                data.add(path)
            elif re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{2}/[0-9a-f]{64}", path):
                named.add(json.loads(bytes(obstore.get(bucket, path).bytes()))["data"])
    return data, named


def test_kill_9_of_a_node_mid_upload(nodes: Nodes, record_property) -> None:
    stop_sending = threading.Event()
    sent = [0]

    def body() -> Iterator[bytes]:
        chunk = os.urandom(1 << 20)
        for _ in range(64):  # 64 MiB at most, never reached: the node dies first
            if stop_sending.is_set():
                return
            sent[0] += len(chunk)
            yield chunk
            time.sleep(0.05)

    def upload() -> None:
        with contextlib.suppress(httpx.HTTPError):
            nodes[2].put("/partial.bin", content=body())

    uploader = threading.Thread(target=upload, daemon=True)
    uploader.start()
    deadline = time.monotonic() + 60
    while sent[0] < 20 << 20:  # past two 8 MiB parts: a multipart upload is under way
        assert time.monotonic() < deadline and uploader.is_alive(), sent[0]
        time.sleep(0.05)
    nodes.servers[1].kill()
    stop_sending.set()
    uploader.join(30)
    for n in (1, 3):
        assert nodes[n].get("/partial.bin").status_code == 404
        assert "/partial.bin" not in "".join(_members(nodes[n], "/"))
        assert nodes[n].put(f"/after-kill-{n}.bin", content=os.urandom(100_000)).status_code == 201
        assert nodes[n].get(f"/after-kill-{n}.bin").status_code == 200
    # a later start with a short orphan age collects whatever the killed upload left
    time.sleep(2.5)
    parsed = urlsplit(nodes.blobs_url)
    short = urlunsplit(parsed._replace(query=parsed.query + "&orphan_age=2"))
    config = write_config(nodes.tmp, _metadata_url(nodes.config), short, name="short.toml")
    node4 = nodes.factory(["--config", config], data_dir=nodes.tmp / "node4", name="node4")
    with node4 as n4, n4.client() as c:
        assert c.get("/after-kill-1.bin").status_code == 200
    data, named = _bucket_keys(nodes.blobs_url)
    assert data == named, f"data objects no manifest names: {sorted(data - named)}"
    record_property("bytes_sent_before_kill", sent[0])


def _metadata_url(config: str) -> str:
    match = re.search(r'metadata_url = "([^"]+)"', Path(config).read_text())
    assert match is not None
    return match.group(1)
