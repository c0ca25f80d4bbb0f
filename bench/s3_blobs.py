#!/usr/bin/env python3
"""Benchmark: PUT and GET of one large file (256 MiB by default) through davbind with its
content in an S3 object store, against the object store's own PUT and GET.

In one run, on the same object store and the same source file:

* **davbind**: a throw-away ``davbind serve`` with ``DAVBIND_BLOBS_URL`` set to the
  ``s3://`` URL (a fresh prefix); curl PUTs the file and GETs it back, as in
  ``large_files.py`` (the first 4 KiB are refreshed each time, so no upload is skipped
  as already stored);
* **direct**: obstore PUTs the same file (its multipart defaults) to the same bucket and
  streams it back, timed around the call;
* **curl-s3**: curl GETs the file from the object store itself (``--aws-sigv4``): the
  same client as for davbind, so the GET ratio to it leaves out the difference between
  curl and an in-process reader.

It prints median MiB/s of each and the ratios davbind / direct and davbind / curl-s3
(the goal: at least 0.8), the davbind server's CPU seconds per PUT and per GET (user +
system, of its process and children: on a machine whose cores are shared, a steadier
measure than wall-clock time) and the load average, and writes every run as JSON in
``bench/results/``.

The S3 service: ``--s3-url`` or ``$DAVBIND_TEST_S3_URL``, with credentials in the
``AWS_*`` environment variables; ``scripts/seaweed.sh .venv/bin/weed`` starts SeaweedFS
on free ports and prints the lines to export.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import obstore
from benchkit import RssSampler, own_server, positive, tree_cpu, write_record
from large_files import curl, make_source, refresh

from davbind.storage.blobs_s3 import store_from_url

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=positive, default=256, help="file size in MiB")
    p.add_argument("--runs", type=positive, default=3, help="timed PUT+GET pairs of each")
    p.add_argument("--warmup", type=int, default=1, help="untimed PUT+GET pairs of each")
    p.add_argument("--workers", type=int, default=1, help="--workers for the started server")
    p.add_argument("--s3-url", default=os.environ.get("DAVBIND_TEST_S3_URL"),
                   help="s3://bucket/prefix?endpoint=... [$DAVBIND_TEST_S3_URL]")
    p.add_argument("--out", type=Path, default=HERE / "results", help="JSON output directory")
    args = p.parse_args(argv)
    if not args.s3_url:
        p.error("no S3 URL: give --s3-url or set DAVBIND_TEST_S3_URL (scripts/seaweed.sh)")
    return args


def _with_prefix(url: str, name: str) -> str:
    base, _, query = url.partition("?")
    return f"{base.rstrip('/')}/{name}" + (f"?{query}" if query else "")


def _direct(url: str, source: Path, size: int) -> tuple[float, float]:
    """(PUT MiB/s, GET MiB/s) of obstore against the object store itself."""
    store = store_from_url(url)
    key = "direct.bin"
    start = time.perf_counter()
    with source.open("rb") as f:
        obstore.put(store, key, f)
    put = size / MIB / (time.perf_counter() - start)
    start = time.perf_counter()
    got = 0
    for chunk in obstore.get(store, key).stream():
        got += len(chunk)
    get = size / MIB / (time.perf_counter() - start)
    if got != size:
        sys.exit(f"direct GET returned {got} bytes, expected {size}")
    obstore.delete(store, key)
    return put, get


def _curl_s3_get(url: str, key: str, source: Path, size: int) -> float:
    """GET MiB/s of curl against the object store itself (SigV4; the object is put by
    obstore: curl 7.88 cannot sign a streamed upload)."""
    store = store_from_url(url)
    with source.open("rb") as f:
        obstore.put(store, key, f)
    parts = urlsplit(url)
    endpoint = parse_qs(parts.query)["endpoint"][-1].rstrip("/")
    target = f"{endpoint}/{parts.netloc}/{parts.path.strip('/')}/{key}"
    region = os.environ.get("AWS_REGION", "us-east-1")
    user = f"{os.environ['AWS_ACCESS_KEY_ID']}:{os.environ['AWS_SECRET_ACCESS_KEY']}"
    # not ``large_files.curl``: the empty ``Expect:`` header it sends breaks the signature
    out = subprocess.run(
        ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "--aws-sigv4",
         f"aws:amz:{region}:s3", "--user", user, "-w", "%{http_code} %{speed_download} "
         "%{size_download}", target],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    code, speed, got = out.stdout.split() if out.returncode == 0 else ("0", "0", "0")
    if code != "200" or int(float(got)) != size:
        sys.exit(f"curl GET from the object store: HTTP {code}, {got} bytes {out.stderr[:300]}")
    get = float(speed) / MIB
    obstore.delete(store, key)
    return get


def run(args: argparse.Namespace) -> None:
    size = args.mib * MIB
    results: dict[str, dict[str, list[float]]] = {
        "davbind": {"put": [], "get": []}, "direct": {"put": [], "get": []},
        "curl-s3": {"put": [], "get": []},
    }
    cpu: dict[str, list[float]] = {"put": [], "get": []}
    load_before = os.getloadavg()[0]
    prefix = f"bench-{uuid.uuid4().hex[:12]}"
    blobs_url = _with_prefix(args.s3_url, f"{prefix}/davbind")
    direct_url = _with_prefix(args.s3_url, f"{prefix}/direct")
    with tempfile.TemporaryDirectory(prefix="davbind-s3-bench-") as tmp:
        source = Path(tmp) / "source.bin"
        make_source(source, args.mib)
        with own_server(args.workers, {"DAVBIND_BLOBS_URL": blobs_url}) as (url, pid), \
                RssSampler(pid) as rss:
            target = url + "bench-s3.bin"
            for i in range(args.warmup + args.runs):
                refresh(source)
                c0 = tree_cpu(pid)
                put = curl(["-T", str(source), target], "speed_upload", (200, 201, 204), size)
                c1 = tree_cpu(pid)
                get = curl([target], "speed_download", (200,), size)
                c2 = tree_cpu(pid)
                refresh(source)
                dput, dget = _direct(direct_url, source, size)
                refresh(source)
                cget = _curl_s3_get(direct_url, "curl.bin", source, size)
                tag = "run" if i >= args.warmup else "warmup"
                print(f"{tag} {i + 1}: davbind PUT {put:,.0f} GET {get:,.0f} MiB/s "
                      f"(CPU {c1 - c0:.2f} s, {c2 - c1:.2f} s); "
                      f"direct PUT {dput:,.0f} GET {dget:,.0f}; "
                      f"curl-s3 GET {cget:,.0f}", file=sys.stderr)
                if i >= args.warmup:
                    cpu["put"].append(c1 - c0)
                    cpu["get"].append(c2 - c1)
                    for name, p, g in (("davbind", put, get), ("direct", dput, dget),
                                       ("curl-s3", None, cget)):
                        if p is not None:
                            results[name]["put"].append(p)
                        results[name]["get"].append(g)
    medians = {name: {op: statistics.median(v) for op, v in ops.items() if v}
               for name, ops in results.items()}
    ratio = {f"{op}/{base}": medians["davbind"][op] / medians[base][op]
             for op in ("put", "get") for base in ("direct", "curl-s3") if op in medians[base]}
    print(f"| {args.mib} MiB, {args.runs} runs, median MiB/s | davbind | obstore direct "
          "| curl to S3 | ratio to direct | ratio to curl |")
    print("|---|---:|---:|---:|---:|---:|")
    for op in ("put", "get"):
        curl_s3 = medians["curl-s3"].get(op)
        cells = [
            op.upper(),
            f"{medians['davbind'][op]:,.0f}",
            f"{medians['direct'][op]:,.0f}",
            "-" if curl_s3 is None else f"{curl_s3:,.0f}",
            f"{ratio[f'{op}/direct']:.2f}",
            "-" if curl_s3 is None else f"{ratio[f'{op}/curl-s3']:.2f}",
        ]
        print(f"| {' | '.join(cells)} |")
    load_after = os.getloadavg()[0]
    cpu_median = {op: statistics.median(v) for op, v in cpu.items()}
    print(f"davbind server CPU per {args.mib} MiB (median): PUT {cpu_median['put']:.2f} s, "
          f"GET {cpu_median['get']:.2f} s; load average {load_before:.1f} -> {load_after:.1f}")
    print(f"davbind server peak RSS: {rss.peak / MIB:,.0f} MiB "
          f"(before: {rss.before / MIB:,.0f} MiB)")
    record: dict[str, Any] = {
        "benchmark": "s3_blobs",
        "mib": args.mib,
        "runs": args.runs,
        "warmup": args.warmup,
        "workers": args.workers,
        "results_mibs": results,
        "median_mibs": medians,
        "ratio": ratio,
        "server_peak_rss": rss.peak,
        "server_cpu_seconds": cpu,
        "load_average": [load_before, load_after],
    }
    write_record(args.out, f"s3_blobs-{args.mib}", record)


def main(argv: list[str] | None = None) -> None:
    run(parse_args(argv))


if __name__ == "__main__":
    main()
