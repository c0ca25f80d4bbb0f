#!/usr/bin/env python3
"""Benchmark: PROPFIND Depth 1 on a collection with many members.

Creates (or reuses) a collection of N small files, then times PROPFIND Depth 1 on it with
two bodies — ``allprop`` and a named ``prop`` list — and reports, per body: median and p95
latency, median time to first byte, response size, number of ``<D:response>`` elements,
and the server's peak RSS during the timed runs (the server process plus its children,
sampled every 10 ms with psutil).

davbind promises a PROPFIND that streams ``<D:response>`` elements as they are produced:
"flat memory, first byte early". Peak RSS against N and TTFB against total time are the
numbers that show whether it does.

By default the script starts its own ``davbind serve`` on a temporary data directory
(``--workers`` is passed through); ``--server-url`` points it at a running server instead
(add ``--server-pid`` to get RSS figures). Results: a Markdown table on stdout, JSON in
``bench/results/`` (git-ignored).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
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




def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=10_000, help="files in the collection")
    p.add_argument("--runs", type=positive, default=20, help="timed PROPFINDs per body")
    p.add_argument("--warmup", type=int, default=2, help="untimed PROPFINDs per body")
    p.add_argument("--server-url", help="benchmark a running server instead of starting one")
    p.add_argument("--server-pid", type=int, help="pid of that server, for RSS figures")
    p.add_argument("--workers", type=int, default=1, help="--workers for the started server")
    p.add_argument("--threads", type=int, default=16, help="concurrent PUTs when populating")
    p.add_argument("--collection", help="collection path (default /bench-propfind-N/)")
    p.add_argument("--skip-populate", action="store_true", help="collection already filled")
    p.add_argument("--size", type=int, default=64, help="bytes per member file")
    p.add_argument("--out", type=Path, default=HERE / "results", help="JSON output directory")
    return p.parse_args(argv)


# --- the server ---------------------------------------------------------------------------








# --- populate -----------------------------------------------------------------------------


def populate(url: str, collection: str, members: int, size: int, threads: int) -> float:
    start = time.perf_counter()
    with httpx.Client(base_url=url, timeout=60) as c:
        r = c.request("MKCOL", collection)
        if r.status_code not in (201, 405):  # 405: already there
            sys.exit(f"MKCOL {collection}: {r.status_code} {r.text[:300]}")
    local = threading.local()
    body = b"x" * size

    def put(i: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60)
        # Distinct content per member, so content-addressed storage cannot fold them.
        content = f"{i:08d}\n".encode() + body[9:]
        r = local.client.put(f"{collection}m{i:06d}.txt", content=content)
        if r.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT member {i}: {r.status_code} {r.text[:200]}")

    with ThreadPoolExecutor(threads) as pool:
        for done, _ in enumerate(pool.map(put, range(members)), 1):
            if done % 1000 == 0:
                print(f"  {done}/{members} members", file=sys.stderr)
    return time.perf_counter() - start


# --- measure ------------------------------------------------------------------------------




def count_responses(body: bytes) -> int:
    return sum(1 for el in ET.fromstring(body).iter() if el.tag == "{DAV:}response")


def propfind_once(
    client: httpx.Client, collection: str, body: bytes, accept: str | None = None
) -> tuple[float, float, bytes, int]:
    """One PROPFIND: (total seconds, seconds to first body byte, body, bytes on the wire);
    ``accept``: an Accept header (``application/json`` for the JSON form)."""
    headers = {"Depth": "1", "Content-Type": "application/xml; charset=utf-8"}
    if accept:
        headers["Accept"] = accept
    start = time.perf_counter()
    ttfb = None
    chunks = []
    with client.stream("PROPFIND", collection, headers=headers, content=body) as r:
        if r.status_code != 207:
            sys.exit(f"PROPFIND {collection}: {r.status_code} {r.read()[:300]!r}")
        for chunk in r.iter_bytes():
            if ttfb is None:
                ttfb = time.perf_counter() - start
            chunks.append(chunk)
        wire = r.num_bytes_downloaded
    total = time.perf_counter() - start
    return total, ttfb if ttfb is not None else total, b"".join(chunks), wire




def measure(
    url: str, collection: str, args: argparse.Namespace, pid: int | None
) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, timeout=300) as client:
        for name, body in BODIES.items():
            for _ in range(args.warmup):
                propfind_once(client, collection, body)
            payload, wire = b"", 0
            totals: list[float] = []
            ttfbs: list[float] = []
            with RssSampler(pid) as rss:
                for _ in range(args.runs):
                    total, ttfb, payload, wire = propfind_once(client, collection, body)
                    totals.append(total)
                    ttfbs.append(ttfb)
            responses = count_responses(payload)
            if responses != args.members + 1:
                print(
                    f"warning: {name}: {responses} responses, expected {args.members + 1}",
                    file=sys.stderr,
                )
            results[name] = {
                "median_ms": statistics.median(totals) * 1000,
                "p95_ms": percentile(totals, 0.95) * 1000,
                "min_ms": min(totals) * 1000,
                "ttfb_median_ms": statistics.median(ttfbs) * 1000,
                "response_bytes": len(payload),
                "wire_bytes": wire,
                "responses": responses,
                "peak_rss_bytes": rss.peak if pid is not None else None,
                "runs_ms": [t * 1000 for t in totals],
            }
    return results


def markdown(results: dict[str, dict[str, Any]], members: int) -> str:
    lines = [
        f"PROPFIND Depth 1, {members} members",
        "",
        "| body | median ms | p95 ms | TTFB median ms | response bytes | responses "
        "| peak RSS MiB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        rss = r["peak_rss_bytes"]
        rss_text = f"{rss / 2**20:.1f}" if rss else "n/a"
        lines.append(
            f"| {name} | {r['median_ms']:.1f} | {r['p95_ms']:.1f} | {r['ttfb_median_ms']:.1f} "
            f"| {r['response_bytes']:,} | {r['responses']:,} | {rss_text} |"
        )
    return "\n".join(lines)




def run(args: argparse.Namespace, url: str, pid: int | None) -> None:
    collection = args.collection or f"/bench-propfind-{args.members}/"
    if not collection.endswith("/"):
        collection += "/"
    populate_s = None
    if not args.skip_populate:
        target = url.rstrip("/") + collection
        print(f"populating {target} with {args.members} files", file=sys.stderr)
        populate_s = populate(url, collection, args.members, args.size, args.threads)
        print(f"  done in {populate_s:.1f} s", file=sys.stderr)
    results = measure(url, collection, args, pid)
    print(markdown(results, args.members))

    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = args.out / f"propfind_depth1-{args.members}-{stamp}.json"
    record = {
        "benchmark": "propfind_depth1",
        "time": stamp,
        "commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "server_url": args.server_url,
        "workers": None if args.server_url else args.workers,
        "members": args.members,
        "member_bytes": args.size,
        "runs": args.runs,
        "warmup": args.warmup,
        "populate_seconds": populate_s,
        "results": results,
    }
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nwrote {path}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    run_on_server(parse_args(argv), run)


if __name__ == "__main__":
    main()
