#!/usr/bin/env python3
"""Benchmark: memory and speed of the client's multistatus parser as the body grows.

Issue 4 asks for a parser whose memory stays flat: a 100,000-response PROPFIND answer must
be read in bounded memory.  For each N the script generates a realistic Depth-infinity
body (the properties ``Client.walk`` asks for, ~400 bytes a response) lazily in 64 KiB
chunks — as it would arrive from the network — and measures with ``tracemalloc``:

- ``parse``: ``MultistatusParser`` fed chunk by chunk, each response dropped once read
  (what ``Client.iter_propfind`` does): the number that must stay flat;
- ``fold``: the same stream folded into a ``Listing`` (``Client.walk``): grows with N,
  because the listing itself is the result;
- ``etree``: for contrast, the whole body in memory parsed with
  ``xml.etree.ElementTree.fromstring`` (how most WebDAV clients read a multistatus).

Times are measured in a second run without tracemalloc (it slows Python allocation
down several times).  Output: a Markdown table on stdout; ``--json FILE`` also writes the
figures.  ``--sizes 1000,10000,100000`` picks the N values.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
import tracemalloc
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator

from davbind.client import Folder, MultistatusParser

CHUNK = 64 * 1024
COLLECTION = b"<D:resourcetype><D:collection/></D:resourcetype>"


def body_chunks(count: int) -> Iterator[bytes]:
    """A Depth-infinity multistatus with ``count`` responses, in ~64 KiB chunks."""
    yield b'<?xml version="1.0" encoding="utf-8"?>\n<D:multistatus xmlns:D="DAV:">'
    buf: list[bytes] = []
    size = 0
    for i in range(count):
        coll = i % 20 == 0
        rtype = COLLECTION if coll else b"<D:resourcetype/>"
        length = b"" if coll else b"<D:getcontentlength>%d</D:getcontentlength>" % (i * 37)
        part = (
            b"<D:response><D:href>/data/dir-%d/file-%d%s</D:href><D:propstat><D:prop>%s%s"
            b'<D:getetag>"%x-%x"</D:getetag>'
            b"<D:getlastmodified>Sun, 22 Nov 2026 05:13:21 GMT</D:getlastmodified>"
            b"<D:resource-id><D:href>urn:uuid:%08x-0000-4000-8000-%012x</D:href></D:resource-id>"
            b"</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response>"
            % (i // 20, i, b"/" if coll else b".txt", rtype, length, i, i, i, i)
        )
        buf.append(part)
        size += len(part)
        if size >= CHUNK:
            yield b"".join(buf)
            buf, size = [], 0
    yield b"".join(buf) + b"</D:multistatus>\n"


def run_parse(count: int) -> int:
    parser = MultistatusParser()
    seen = 0
    for chunk in body_chunks(count):
        seen += len(parser.feed(chunk))
    return seen + len(parser.close())


def run_fold(count: int) -> int:
    parser = MultistatusParser()
    folder = Folder("http://127.0.0.1/data/")
    for chunk in body_chunks(count):
        for response in parser.feed(chunk):
            folder.add(response)
    for response in parser.close():
        folder.add(response)
    return len(folder.listing())


def run_etree(count: int) -> int:
    body = b"".join(body_chunks(count))
    root = ET.fromstring(body)
    return len(root.findall("{DAV:}response"))


MODES: dict[str, Callable[[int], int]] = {"parse": run_parse, "fold": run_fold, "etree": run_etree}


def measure(mode: str, count: int) -> dict[str, float]:
    func = MODES[mode]
    gc.collect()
    tracemalloc.start()
    try:
        produced = func(count)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    gc.collect()
    start = time.perf_counter()
    func(count)
    seconds = time.perf_counter() - start
    assert produced == count, (mode, produced, count)
    return {"peak_bytes": peak, "seconds": seconds, "per_second": count / seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--modes", default="parse,fold,etree")
    parser.add_argument("--json", dest="json_path", default=None)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    body_bytes = {n: sum(len(c) for c in body_chunks(n)) for n in sizes}
    results: list[dict[str, object]] = []
    print(f"python {platform.python_version()} on {platform.machine()}, chunks of {CHUNK} B\n")
    print("| mode | responses | body | peak memory | time | responses/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for mode in modes:
        for n in sizes:
            r = measure(mode, n)
            results.append({"mode": mode, "responses": n, "body_bytes": body_bytes[n], **r})
            print(
                f"| {mode} | {n:,} | {body_bytes[n] / 1e6:.1f} MB | "
                f"{r['peak_bytes'] / 1024:,.0f} KiB | {r['seconds']:.2f} s | "
                f"{r['per_second']:,.0f} |"
            )
            sys.stdout.flush()
    if args.json_path:
        with open(args.json_path, "w") as fh:
            json.dump({"python": platform.python_version(), "results": results}, fh, indent=2)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
