"""Work per request bounded whatever the tree's shape, against a real ``davbind serve``.

Trees too big to build by HTTP in a test are written into the data directory through the
storage API first (``tree_builder.py``, run as its own process); then a server is
started on it.  What must hold:

* parent-set of every member of a listing costs the same with 20,000 collections beside
  its parents as with none (RFC 5842 §3.2; the canonical parent href of decision A-22):
  a Depth 1 PROPFIND of 2,000 files, each with two parents, answers in under a second;
* COPY of a chain 5,000 collections deep succeeds, and the copy keeps the internal
  bindings (a file bound twice, a loop back to the top) (RFC 5842 §2.3);
* the HTML index of a collection is streamed: the server's peak memory while sending the
  page of 200,000 members is about what it is for 20,000, and the server answers other
  requests while a page is half sent.

Each test checks that the tree came out as built, so a figure cannot pass by measuring
an empty answer.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e

BUILDER = Path(__file__).with_name("tree_builder.py")
D = "{DAV:}"
CSP = "default-src 'none'; style-src 'unsafe-inline'"


def build(data_dir: Path, kind: str, n: int) -> None:
    subprocess.run([sys.executable, str(BUILDER), str(data_dir), kind, str(n)], check=True,
                   timeout=600)  # fmt: skip


def propfind(client, path: str, props: str, depth: str = "1"):
    body = f'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop>{props}</D:prop></D:propfind>'
    t = time.monotonic()
    r = client.request("PROPFIND", path, headers={"Depth": depth}, content=body.encode())
    elapsed = time.monotonic() - t
    assert r.status_code == 207, (r.status_code, r.text[:300])
    return ET.fromstring(r.content), elapsed


def test_parent_set_of_a_listing_beside_20000_collections(tmp_path, server_factory):
    data = tmp_path / "data"
    build(data, "wide", 20_000)
    with server_factory(data_dir=data) as srv, srv.client() as c:
        propfind(c, "/zz/", "<D:resourcetype/>", depth="0")  # a first request warms up
        doc, elapsed = propfind(c, "/zz/", "<D:parent-set/>")
        responses = doc.findall(f"{D}response")
        assert len(responses) == 2001
        for resp in responses[1:]:
            name = resp.findtext(f"{D}href").rsplit("/", 1)[1]
            parents = sorted(
                (p.findtext(f"{D}href"), p.findtext(f"{D}segment"))
                for p in resp.iter(f"{D}parent")
            )
            i = int(name[1:])
            assert parents == [(f"/c{i * 7 % 20_000:06d}/", name), ("/zz/", name)]
        assert elapsed <= 1.0, f"parent-set of 2,000 members took {elapsed:.2f} s"


def test_copy_of_a_chain_5000_deep(tmp_path, server_factory):
    depth = 5000
    data = tmp_path / "data"
    build(data, "chain", depth)
    with server_factory(data_dir=data) as srv, srv.client(timeout=120) as c:
        r = c.request("COPY", "/d/", headers={"Destination": srv.url_for("/copy/")})
        assert r.status_code == 201, (r.status_code, r.text[:300])
        bottom = "/copy" + "/d" * (depth - 1) + "/"
        assert c.get(bottom + "leaf").content == b"the bottom"
        rid = "<D:resource-id/>"
        doc, _ = propfind(c, bottom, rid)
        ids = {
            resp.findtext(f"{D}href").rsplit("/", 2)[-2 if resp.findtext(f"{D}href").endswith(
                "/") else -1]: resp.findtext(f"{D}propstat/{D}prop/{D}resource-id/{D}href")
            for resp in doc.findall(f"{D}response")
        }
        top_copy, _ = propfind(c, "/copy/", rid, depth="0")
        top_source, _ = propfind(c, "/d/", rid, depth="0")
        copy_id = top_copy.findtext(f"{D}response/{D}propstat/{D}prop/{D}resource-id/{D}href")
        source_id = top_source.findtext(f"{D}response/{D}propstat/{D}prop/{D}resource-id/{D}href")
        assert ids["leaf"] == ids["leaf2"]  # one file bound twice, as in the source
        assert ids["up"] == copy_id != source_id  # the loop closes inside the copy
        src_bottom, _ = propfind(c, "/d" * depth + "/leaf", rid, depth="0")
        assert src_bottom.findtext(f"{D}response/{D}propstat/{D}prop/{D}resource-id/{D}href") \
            != ids["leaf"]


class PeakRss:
    """The highest resident set size of a server (and its worker processes) seen while
    the ``with`` block runs, sampled every few milliseconds."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample)

    def rss(self) -> int:
        procs = [self.proc, *self.proc.children(recursive=True)]
        return sum(p.memory_info().rss for p in procs)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.rss())
            time.sleep(0.003)

    def __enter__(self) -> PeakRss:
        self.before = self.rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.rss())

    @property
    def growth(self) -> int:
        return self.peak - self.before


def _get_page(srv, path: str) -> tuple[int, int]:
    """(page bytes, members listed) of a GET of the collection ``path``."""
    row = b"<tr><td"
    size = rows = 0
    tail = b""  # a row's start may be cut between two chunks
    with srv.client(timeout=300) as c, c.stream("GET", path) as r:
        assert r.status_code == 200
        assert r.headers["content-security-policy"] == CSP
        for chunk in r.iter_bytes():
            size += len(chunk)
            text = tail + chunk
            rows += text.count(row)
            tail = text[-(len(row) - 1) :]
    return size, rows


def test_index_page_memory_is_flat(tmp_path, server_factory):
    """Peak RSS while sending the page of /small/ (20,000 members) and of /big/
    (200,000); then a page half sent while the server answers others."""
    big = 200_000
    data = tmp_path / "data"
    build(data, "flat", big)
    mib = 1024 * 1024
    with server_factory(data_dir=data) as srv:
        _get_page(srv, "/")  # the first answer imports and allocates what every one needs
        figures = {}
        for path in ("/small/", "/big/"):
            with PeakRss(srv.proc.pid) as rss:
                size, rows = _get_page(srv, path)
            figures[path] = (rows, size, rss.growth)
        (small_rows, small_size, small_growth) = figures["/small/"]
        (big_rows, big_size, big_growth) = figures["/big/"]
        assert (small_rows, big_rows) == (big // 10 + 1, big + 1)  # the members, the parent
        assert big_size > 9 * small_size > 9 * 2**20
        # built whole, the page of 200,000 members cost 45 MiB more than that of 20,000
        assert big_growth <= 2 * small_growth + 16 * mib, (
            f"peak RSS growth: {small_growth / mib:.1f} MiB for {small_rows - 1} members, "
            f"{big_growth / mib:.1f} MiB for {big_rows - 1}"
        )

        # a page larger than the socket buffers, read slowly: the server holds its
        # snapshot but no thread, and answers meanwhile
        with srv.client(timeout=120) as c, c.stream("GET", "/big/") as page:
            chunks = page.iter_bytes()
            assert next(chunks).startswith(b"<!DOCTYPE html>")
            t = time.monotonic()
            with srv.client(timeout=10) as other:
                assert other.request("OPTIONS", "/").status_code == 200
                assert other.get("/small/").status_code == 200
            assert time.monotonic() - t < 3.0
            end = b""
            for chunk in chunks:
                end = (end + chunk)[-200:]
        assert end.endswith(b"</html>\n") and f"{big} members".encode() in end
