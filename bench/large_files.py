#!/usr/bin/env python3
"""Benchmark: PUT and GET of one large file (256 MiB by default) with curl.

Each run refreshes the first 4 KiB of the source file with random bytes (a
content-addressed store must not get away with "I have that blob already"), PUTs it to
the same URL (201 the first time, 204 afterwards: the old blob is reclaimed in the same
transaction), then GETs it back.  curl reports the transfer speed (``%{speed_upload}``,
``%{speed_download}``, bytes per second); the script prints the median MiB/s over the
timed runs and writes every run as JSON in ``bench/results/``.

With the default ``durability = "standard"`` a PUT is answered before its content is
flushed (a background fsync follows; a restart after a power loss rolls back what did not
reach the disk); ``--durability strict`` answers once it is on disk, so its PUT speed
includes the final fsync.  RFC 4918 §9.7 says nothing about durability.

By default the script starts its own ``davbind serve`` on a temporary data directory
(``--workers`` is passed through); ``--server-url`` points it at a running server instead.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from benchkit import RssSampler, positive, run_on_server, write_record

HERE = Path(__file__).resolve().parent
MIB = 1024 * 1024


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mib", type=positive, default=256, help="file size in MiB")
    p.add_argument("--runs", type=positive, default=5, help="timed PUT+GET pairs")
    p.add_argument("--warmup", type=int, default=1, help="untimed PUT+GET pairs")
    p.add_argument("--server-url", help="benchmark a running server instead of starting one")
    p.add_argument("--server-pid", type=int, help="pid of that server, for RSS figures")
    p.add_argument("--workers", type=int, default=2, help="--workers for the started server")
    p.add_argument("--path", default="bench-large.bin", help="URL path of the file")
    p.add_argument("--out", type=Path, default=HERE / "results", help="JSON output directory")
    return p.parse_args(argv)


def make_source(path: Path, mib: int) -> None:
    chunk = os.urandom(MIB)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(chunk)


def refresh(path: Path) -> None:
    with path.open("r+b") as f:
        f.write(os.urandom(4096))


def curl(args: list[str], metric: str, ok: tuple[int, ...], expect_bytes: int) -> float:
    """One curl transfer; returns curl's ``metric`` (bytes/s) in MiB/s."""
    fmt = f"%{{http_code}} %{{{metric}}} %{{size_upload}} %{{size_download}}"
    cmd = ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-H", "Expect:", "-w", fmt, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        sys.exit(f"curl failed: {out.stderr.strip()[:300]}")
    code, speed, up, down = out.stdout.split()
    if int(code) not in ok:
        sys.exit(f"curl {' '.join(args)}: HTTP {code}")
    if max(int(float(up)), int(float(down))) != expect_bytes:
        sys.exit(f"curl moved {up}/{down} bytes, expected {expect_bytes}")
    return float(speed) / MIB


def run(args: argparse.Namespace, url: str, pid: int | None) -> None:
    size = args.mib * MIB
    target = url + args.path
    puts: list[float] = []
    gets: list[float] = []
    with tempfile.TemporaryDirectory(prefix="davbind-large-") as tmp:
        source = Path(tmp) / "source.bin"
        make_source(source, args.mib)
        with RssSampler(pid) as rss:
            for i in range(args.warmup + args.runs):
                refresh(source)
                put = curl(["-T", str(source), target], "speed_upload", (200, 201, 204), size)
                get = curl([target], "speed_download", (200,), size)
                timed = i >= args.warmup
                if timed:
                    puts.append(put)
                    gets.append(get)
                tag = "run" if timed else "warmup"
                print(f"{tag} {i + 1}: PUT {put:,.0f} MiB/s  GET {get:,.0f} MiB/s", file=sys.stderr)
    put_median, get_median = statistics.median(puts), statistics.median(gets)
    print(f"| {args.mib} MiB, {args.runs} runs | median MiB/s | min | max |")
    print("|---|---:|---:|---:|")
    print(f"| PUT | {put_median:,.0f} | {min(puts):,.0f} | {max(puts):,.0f} |")
    print(f"| GET | {get_median:,.0f} | {min(gets):,.0f} | {max(gets):,.0f} |")
    if pid is not None:
        print(f"server peak RSS: {rss.peak / MIB:,.0f} MiB (before: {rss.before / MIB:,.0f} MiB)")
    record: dict[str, Any] = {
        "benchmark": "large_files",
        "mib": args.mib,
        "runs": args.runs,
        "warmup": args.warmup,
        "workers": None if args.server_url else args.workers,
        "server_url": args.server_url,
        "put_mibs": puts,
        "get_mibs": gets,
        "put_median_mibs": put_median,
        "get_median_mibs": get_median,
        "server_peak_rss": rss.peak if pid is not None else None,
    }
    write_record(args.out, f"large_files-{args.mib}", record)


def main(argv: list[str] | None = None) -> None:
    run_on_server(parse_args(argv), run)


if __name__ == "__main__":
    main()
