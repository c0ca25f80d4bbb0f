#!/usr/bin/env python3
"""Benchmark: PROPFIND Depth 1 of N members in JSON against the same listing in XML.

Populates a collection as ``propfind_depth1.py`` does, then alternates XML and JSON
PROPFINDs run by run (``allprop`` and the named body) on the same server, so both
forms see the same machine load, and reports per body and form: median latency,
median time to first byte, response size, and the server's peak RSS over both forms'
runs; then the JSON/XML ratio of the medians (the target is at most 1.1).  Options
are those of ``propfind_depth1.py``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import xml.etree.ElementTree as ET
from typing import Any

import httpx
from benchkit import RssSampler, run_on_server
from propfind_depth1 import BODIES, parse_args, populate, propfind_once

FORMS = {"xml": None, "json": "application/json"}


def responses(form: str, payload: bytes) -> int:
    if form == "json":
        return len(json.loads(payload)["responses"])
    return sum(1 for el in ET.fromstring(payload).iter() if el.tag == "{DAV:}response")


def measure(url: str, collection: str, args: argparse.Namespace,
            pid: int | None) -> dict[str, dict[str, Any]]:  # fmt: skip
    out: dict[str, dict[str, Any]] = {}
    with httpx.Client(base_url=url, timeout=300) as client:
        for name, body in BODIES.items():
            for accept in FORMS.values():
                for _ in range(args.warmup):
                    propfind_once(client, collection, body, accept)
            totals: dict[str, list[float]] = {f: [] for f in FORMS}
            ttfbs: dict[str, list[float]] = {f: [] for f in FORMS}
            payloads: dict[str, bytes] = {}
            # the forms alternate run by run, so both see the same machine load
            with RssSampler(pid) as rss:
                for _ in range(args.runs):
                    for form, accept in FORMS.items():
                        total, ttfb, payloads[form], _ = propfind_once(client, collection, body,
                                                                       accept)  # fmt: skip
                        totals[form].append(total)
                        ttfbs[form].append(ttfb)
            peaks = dict.fromkeys(FORMS, rss.peak if pid is not None else None)
            for form in FORMS:
                out[f"{name}/{form}"] = {
                    "median_ms": statistics.median(totals[form]) * 1000,
                    "ttfb_median_ms": statistics.median(ttfbs[form]) * 1000,
                    "response_bytes": len(payloads[form]),
                    "responses": responses(form, payloads[form]),
                    "peak_rss_bytes": peaks[form],
                }
            out[f"{name}/ratio"] = {"json_over_xml": out[f"{name}/json"]["median_ms"]
                                    / out[f"{name}/xml"]["median_ms"]}  # fmt: skip
    return out


def run(args: argparse.Namespace, url: str, pid: int | None) -> None:
    collection = args.collection or f"/bench-propfind-{args.members}/"
    if not args.skip_populate:
        print(f"populating {collection} with {args.members} files", file=sys.stderr)
        populate(url, collection, args.members, args.size, args.threads)
    results = measure(url, collection, args, pid)
    print(f"PROPFIND Depth 1, {args.members} members, {args.runs} runs per form\n")
    print("| body/form | median ms | TTFB median ms | bytes | responses | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, r in results.items():
        if key.endswith("/ratio"):
            continue
        rss = f"{r['peak_rss_bytes'] / 2**20:.1f}" if r["peak_rss_bytes"] else "n/a"
        print(f"| {key} | {r['median_ms']:.1f} | {r['ttfb_median_ms']:.1f} "
              f"| {r['response_bytes']:,} | {r['responses']:,} | {rss} |")  # fmt: skip
    for key, r in results.items():
        if key.endswith("/ratio"):
            print(f"{key[:-6]}: JSON/XML = {r['json_over_xml']:.3f}")


def main(argv: list[str] | None = None) -> None:
    run_on_server(parse_args(argv), run)


if __name__ == "__main__":
    main()
