#!/usr/bin/env python3
"""Benchmark: PROPFIND Depth infinity with ``DAV: bind`` over a tree with shared collections.

Builds a tree of C collections x F files (default 100 x 100 = 10,000 files, concurrent
PUTs), then adds extra bindings — existing collections bound into other collections
(always from a lower-numbered collection into a higher-numbered one, so they form no
loop) — and exactly one loop (the last collection bound back to the tree root).  For
each binding level (default 100 extra bindings, then 1,000) it times
``PROPFIND Depth: infinity`` with ``DAV: bind`` and two bodies — ``allprop`` and a named
``prop`` list including ``resource-id`` — and reports per body: median and p95 latency,
median time to first byte, response bytes, number of ``<D:response>`` elements, number
of 208s, and the server's RSS (server process plus children, sampled every 10 ms with
psutil) just before the timed runs and at its peak during them.

What it shows (RFC 5842 §7.1): with ``DAV: bind`` each binding gives one response and a
shared collection is enumerated once, so the work follows distinct bindings/resources.
The number of *paths* a non-bind-aware enumeration would produce (loop excluded) is
printed beside it: it explodes with the extra bindings while the response count grows by
one per binding.  A PROPFIND without ``DAV: bind`` is timed once per level too: it must
be refused up front with ``508 Loop Detected``.

By default the script starts its own ``davbind serve`` on a temporary data directory;
``--server-url`` points it at a running server instead (add ``--server-pid`` for RSS).
Results: a Markdown table on stdout, JSON in ``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import statistics
import sys
import threading
import time
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from benchkit import RssSampler, git_commit, percentile, positive, run_on_server

HERE = Path(__file__).resolve().parent
BODIES = {
    "allprop": b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    "named": b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/>"
    b"<D:displayname/><D:resource-id/>"
    b"</D:prop></D:propfind>",
}
XML = "application/xml; charset=utf-8"




def levels(text: str) -> list[int]:
    out = sorted({int(x) for x in text.split(",") if x.strip()})
    if not out or out[0] < 0:
        raise argparse.ArgumentTypeError("a comma-separated list of counts >= 0")
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--collections", type=positive, default=100, help="collections in the tree")
    p.add_argument("--files", type=int, default=100, help="files per collection")
    p.add_argument(
        "--bindings",
        type=levels,
        default=[100, 1000],
        help="extra collection bindings per measured level, e.g. 100,1000",
    )
    p.add_argument("--runs", type=positive, default=10, help="timed PROPFINDs per body")
    p.add_argument("--warmup", type=int, default=1, help="untimed PROPFINDs per body")
    p.add_argument("--server-url", help="benchmark a running server instead of starting one")
    p.add_argument("--server-pid", type=int, help="pid of that server, for RSS figures")
    p.add_argument("--workers", type=int, default=1, help="--workers for the started server")
    p.add_argument("--threads", type=int, default=16, help="concurrent PUTs when populating")
    p.add_argument("--root", help="tree root (default /bench-infinity-CxF/)")
    p.add_argument("--size", type=int, default=64, help="bytes per file")
    p.add_argument("--seed", type=int, default=5842, help="seed for choosing binding pairs")
    p.add_argument("--out", type=Path, default=HERE / "results", help="JSON output directory")
    return p.parse_args(argv)  # fmt: skip


# --- the server ---------------------------------------------------------------------------








# --- building the tree --------------------------------------------------------------------


def coll(root: str, i: int) -> str:
    return f"{root}c{i:03d}/"


def populate(url: str, root: str, args: argparse.Namespace) -> float:
    """MKCOL the root and the collections, PUT the files concurrently."""
    start = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as c:
        for path in [root] + [coll(root, i) for i in range(args.collections)]:
            r = c.request("MKCOL", path)
            if r.status_code != 201:
                sys.exit(f"MKCOL {path}: {r.status_code} {r.text[:300]} (use a fresh --root)")
    local = threading.local()
    pad = b"x" * args.size

    def put(n: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
        i, j = divmod(n, args.files)
        # Distinct content per file, so content-addressed storage cannot fold them.
        content = (f"{i:04d}/{j:04d}\n".encode() + pad)[: max(args.size, 10)]
        r = local.client.put(f"{coll(root, i)}f{j:03d}.txt", content=content)
        if r.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {i}/{j}: {r.status_code} {r.text[:200]}")

    total = args.collections * args.files
    with ThreadPoolExecutor(args.threads) as pool:
        for done, _ in enumerate(pool.map(put, range(total)), 1):
            if done % 2000 == 0:
                print(f"  {done}/{total} files", file=sys.stderr)
    return time.perf_counter() - start


def binding_pairs(collections: int, count: int, seed: int) -> list[tuple[int, int]]:
    """``count`` distinct (parent, child) pairs with parent < child: a DAG, no loop."""
    pairs = [(i, j) for i in range(collections) for j in range(i + 1, collections)]
    if count > len(pairs):
        sys.exit(f"{count} extra bindings need more than {collections} collections")
    random.Random(seed).shuffle(pairs)
    return pairs[:count]


def bind(client: httpx.Client, collection: str, segment: str, href: str) -> None:
    body = (
        f'<D:bind xmlns:D="DAV:"><D:segment>{segment}</D:segment><D:href>{href}</D:href></D:bind>'
    ).encode()
    r = client.request("BIND", collection, content=body, headers={"Content-Type": XML})
    if r.status_code != 201:
        sys.exit(f"BIND {collection} {segment} -> {href}: {r.status_code} {r.text[:300]}")


def add_bindings(url: str, root: str, pairs: list[tuple[int, int]], threads: int) -> float:
    start = time.perf_counter()
    local = threading.local()

    def one(pair: tuple[int, int]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
        parent, child = pair
        bind(local.client, coll(root, parent), f"b{child:03d}", coll(root, child))

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, pairs))
    return time.perf_counter() - start


def plain_paths(collections: int, files: int, pairs: list[tuple[int, int]]) -> int:
    """URLs a non-bind-aware Depth-infinity enumeration would list, the loop left out."""
    kids: dict[int, list[int]] = {i: [] for i in range(collections)}
    for parent, child in pairs:
        kids[parent].append(child)
    below: dict[int, int] = {}
    for i in reversed(range(collections)):  # children always have higher numbers
        below[i] = 1 + files + sum(below[c] for c in kids[i])
    return 1 + sum(below[i] for i in range(collections))


# --- measuring ----------------------------------------------------------------------------




def propfind_once(
    client: httpx.Client, path: str, body: bytes, *, bind_aware: bool = True
) -> tuple[int, float, float, bytes]:
    """One PROPFIND Depth infinity: (status, total s, time to first body byte s, body)."""
    headers = {"Depth": "infinity", "Content-Type": XML}
    if bind_aware:
        headers["DAV"] = "bind"
    start = time.perf_counter()
    ttfb = None
    chunks = []
    with client.stream("PROPFIND", path, headers=headers, content=body) as r:
        for chunk in r.iter_bytes():
            if ttfb is None:
                ttfb = time.perf_counter() - start
            chunks.append(chunk)
        status = r.status_code
    total = time.perf_counter() - start
    return status, total, ttfb if ttfb is not None else total, b"".join(chunks)


def count(body: bytes) -> tuple[int, int]:
    """(``<D:response>`` elements, responses carrying a 208 status)."""
    responses = already = 0
    for resp in ET.fromstring(body).iter("{DAV:}response"):
        responses += 1
        if any(" 208 " in (s.text or "") for s in resp.iter("{DAV:}status")):
            already += 1
    return responses, already




def measure(url: str, root: str, args: argparse.Namespace, pid: int | None) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=600) as client:
        for name, body in BODIES.items():
            for _ in range(args.warmup):
                propfind_once(client, root, body)
            payload = b""
            totals: list[float] = []
            ttfbs: list[float] = []
            with RssSampler(pid) as rss:
                for _ in range(args.runs):
                    status, total, ttfb, payload = propfind_once(client, root, body)
                    if status != 207:
                        sys.exit(f"PROPFIND {root}: {status} {payload[:300]!r}")
                    totals.append(total)
                    ttfbs.append(ttfb)
            responses, already = count(payload)
            results[name] = {
                "median_ms": statistics.median(totals) * 1000,
                "p95_ms": percentile(totals, 0.95) * 1000,
                "min_ms": min(totals) * 1000,
                "ttfb_median_ms": statistics.median(ttfbs) * 1000,
                "response_bytes": len(payload),
                "responses": responses,
                "responses_208": already,
                "rss_before_bytes": rss.before if pid is not None else None,
                "peak_rss_bytes": rss.peak if pid is not None else None,
                "runs_ms": [t * 1000 for t in totals],
            }
        status, total, _, _ = propfind_once(client, root, BODIES["named"], bind_aware=False)
        results["plain_508"] = {"status": status, "ms": total * 1000}
    return results


# --- report -------------------------------------------------------------------------------


def mib(value: int | None) -> str:
    return f"{value / 2**20:.1f}" if value else "n/a"


def markdown(record: dict[str, Any]) -> str:
    lines = [
        f"PROPFIND Depth infinity, DAV: bind — {record['collections']} collections x "
        f"{record['files']} files, one loop",
        "",
        "| extra bindings | body | responses | 208s | paths w/o bind (loop excluded) "
        "| median ms | p95 ms | TTFB ms | response bytes | RSS before MiB | peak RSS MiB |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in record["levels"]:
        for name in BODIES:
            r = level["results"][name]
            lines.append(
                f"| {level['extra_bindings']:,} | {name} | {r['responses']:,} "
                f"| {r['responses_208']:,} | {level['plain_paths']:.3g} "
                f"| {r['median_ms']:.0f} | {r['p95_ms']:.0f} | {r['ttfb_median_ms']:.0f} "
                f"| {r['response_bytes']:,} | {mib(r['rss_before_bytes'])} "
                f"| {mib(r['peak_rss_bytes'])} |"
            )
    lines.append("")
    for level in record["levels"]:
        plain = level["results"]["plain_508"]
        lines.append(
            f"Without DAV: bind ({level['extra_bindings']:,} extra bindings): "
            f"{plain['status']} in {plain['ms']:.0f} ms"
        )
    return "\n".join(lines)




def run(args: argparse.Namespace, url: str, pid: int | None) -> None:
    root = args.root or f"/bench-infinity-{args.collections}x{args.files}/"
    root = root if root.endswith("/") else root + "/"
    total_files = args.collections * args.files
    print(f"populating {url.rstrip('/')}{root}: {args.collections} collections, "
          f"{total_files} files", file=sys.stderr)  # fmt: skip
    populate_s = populate(url, root, args)
    print(f"  done in {populate_s:.1f} s", file=sys.stderr)
    with httpx.Client(base_url=url, timeout=60) as c:  # the one loop
        bind(c, coll(root, args.collections - 1), "loop", root)
    pairs = binding_pairs(args.collections, max(args.bindings), args.seed)
    record: dict[str, Any] = {
        "benchmark": "propfind_infinity",
        "time": dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
        "commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_url": args.server_url,
        "workers": None if args.server_url else args.workers,
        "collections": args.collections,
        "files": args.files,
        "file_bytes": args.size,
        "runs": args.runs,
        "warmup": args.warmup,
        "populate_seconds": populate_s,
        "levels": [],
    }
    done = 0
    for level in args.bindings:
        bind_s = add_bindings(url, root, pairs[done:level], args.threads)
        print(f"  {level} extra bindings ({level - done} added in {bind_s:.1f} s)",
              file=sys.stderr)  # fmt: skip
        done = level
        results = measure(url, root, args, pid)
        expected = 1 + args.collections + total_files + level + 1
        for name in BODIES:
            if results[name]["responses"] != expected:
                print(f"warning: {name}: {results[name]['responses']} responses, "
                      f"expected {expected}", file=sys.stderr)  # fmt: skip
        record["levels"].append({
            "extra_bindings": level,
            "bind_seconds": bind_s,
            "expected_responses": expected,
            "plain_paths": plain_paths(args.collections, args.files, pairs[:level]),
            "results": results,
        })  # fmt: skip
    print(markdown(record))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / (f"propfind_infinity-{args.collections}x{args.files}-{record['time']}.json")
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    run_on_server(parse_args(argv), run)


if __name__ == "__main__":
    main()
