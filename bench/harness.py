#!/usr/bin/env python3
"""Benchmark harness: davbind against the WebDAV servers users would pick instead.

Starts davbind and its peers (nginx + dav-ext, Apache mod_dav, lighttpd mod_webdav,
rclone serve webdav, WsgiDAV) on loopback ports, gives them the same data, and measures,
interleaving servers round by round so that drift in the machine hits all of them alike:

a) PROPFIND Depth 1 (named properties and allprop) on collections of 1,000 and 10,000
   members — median and p95 latency, response size;
b) PROPFIND Depth infinity on a 10,111-node tree — the same, and who refuses;
c) PROPFIND Depth 0 and GET of a 4 KiB file at concurrency 16 with wrk — req/s;
d) PUT and GET of a 256 MiB file with curl — MiB/s;
e) 1,000 sequential 1 KiB PUTs — seconds;
f) peak RSS of each server (process tree) during a) and b);
g) cold listings: 100 collections of 500 members listed by 4 clients right after a
   restart of the server process, and again (``harness_cold``);
h) GET latency (p50, p99, max) of a 4 KiB file at concurrency 16, quiet and while another
   client PUTs and COPYs a 10,111-node tree (``harness_latency``).

Writes a JSON record and a Markdown table (every figure also as a ratio to the best peer,
plus the machine description) into ``--out``, and prints the table. ``--quick`` uses
smaller sizes. Compare by ratio within one run; absolute numbers move between machines.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness_install import install
from peers import Server, StartError, registry

HERE = Path(__file__).resolve().parent
KIB, MIB = 1024, 1 << 20
PHASE_TESTS: dict[str, frozenset[str]] = {  # the test names a Server.tests may list
    "propfind": frozenset({"propfind"}), "wrk": frozenset({"propfind", "get4k"}),
    "big": frozenset({"big"}), "puts": frozenset({"puts"}),
    "cold": frozenset({"cold"}), "latency": frozenset({"latency"}),
}
PHASES = tuple(PHASE_TESTS)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes (1,000 members, 1,111-node tree, 32 MiB, 200 PUTs, "
                   "20 cold collections, one 4-s latency round)")
    p.add_argument("--only", help="comma-separated servers to run (default: all), e.g. "
                   "davbind,nginx; known: " + ", ".join(registry()))
    p.add_argument("--out", type=Path, default=HERE / "results", help="output directory")
    p.add_argument("--install", action="store_true",
                   help="apt-get/pip install missing peers and tools first (needs root)")
    p.add_argument("--phases", default=",".join(PHASES),
                   help="comma-separated phases to run, in order (default: all): "
                   "propfind (a, b, f), wrk (c), big (d), puts (e), cold (g), latency (h)")
    p.add_argument("--runs", type=int, help="timed PROPFINDs per server and case")
    p.add_argument("--wrk-seconds", type=float, help="seconds per wrk round")
    p.add_argument("--latency-seconds", type=float,
                   help="seconds per wrk window of the latency phase")
    p.add_argument("--davbind-workers", type=int, default=2, help="davbind serve --workers")
    p.add_argument("--davbind-metadata-url", default="",
                   help="with --davbind-blobs-url: also run davbind-pg, a davbind on these "
                   "backends (e.g. postgresql://... of an empty database)")
    p.add_argument("--davbind-blobs-url", default="",
                   help="s3://bucket/prefix?endpoint=... for davbind-pg (AWS_* credentials)")
    p.add_argument("--restart-runs", type=int, default=5,
                   help="a): listings timed as the first request after a restart, per server "
                   "and collection size")
    p.add_argument("--workdir", type=Path, help="where servers and data live (default: a "
                   "new temporary directory, removed afterwards)")
    p.add_argument("--keep", action="store_true", help="keep the work directory")
    return p.parse_args(argv)


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rotations(servers: list[Server], rounds: int) -> Iterator[tuple[int, Server]]:
    """Round by round, every server once, starting each round one server further on."""
    for r in range(rounds):
        k = r % len(servers) if servers else 0
        for srv in servers[k:] + servers[:k]:
            yield r, srv


def failure(exc: BaseException) -> str:
    from harness_measure import Refused

    if isinstance(exc, Refused):
        return f"refused ({exc.status})"
    return f"error: {type(exc).__name__}"


class Run:
    """One harness run: the servers, the sizes, and the report being filled."""

    def __init__(self, args: argparse.Namespace, servers: list[Server], report: Any,
                 sizes: Any, workdir: Path) -> None:
        self.args, self.servers, self.report = args, servers, report
        self.sizes, self.workdir = sizes, workdir

    def taking(self, test: str) -> list[Server]:
        return [s for s in self.servers if s.tests is None or test in s.tests]

    def fail(self, metric_ids: list[str], srv: Server, exc: BaseException, what: str,
             quiet: bool = False) -> None:
        """Record a failed (server, test): the cells say why; a note says more unless quiet."""
        note = failure(exc)
        for m in self.report.metrics:
            if m.id in metric_ids:
                m.set(srv.name, None, note)
        if not quiet:
            self.report.notes.append(f"{srv.name}: {what}: {note} — {exc}")
        log(f"  {srv.name}: {what}: {note} {exc}")

    # --- a) and b): PROPFIND latency, RSS ---------------------------------------------

    def propfind_case(self, rss: Any, phase: str, label: str, case: str, path: str,
                      depth: str, body_name: str, expect: int, touch: str | None = None,
                      restart: bool = False) -> None:
        """With ``touch``, every PROPFIND follows a PUT of 64 bytes to that path (untimed):
        a file outside the listing (the answer is unchanged, but the store is not), or
        a file the listing shows (then the answer cannot come from any cache of it).
        With ``restart``, every PROPFIND is the first request to a server process just
        restarted (``harness_cold.restart``: started and idle), on a new connection,
        ``--restart-runs`` times, without warm-ups."""
        import httpx
        from harness_cold import restart as restart_server
        from harness_measure import BODIES, count_responses, percentile, propfind

        servers = self.taking("propfind")
        warmup, runs = (0, self.args.restart_runs) if restart else (
            self.sizes.warmup, self.sizes.runs)
        median = self.report.metric(f"{case}_median_ms", f"{label} — median", "ms", "lower")
        p95 = self.report.metric(f"{case}_p95_ms", f"{label} — p95", "ms", "lower")
        size = self.report.metric(f"{case}_kib", f"{label} — response size", "KiB", "lower")
        ids = [median.id, p95.id, size.id]
        samples: dict[str, list[float]] = {s.name: [] for s in servers}
        failed: set[str] = set()
        raw: dict[str, Any] = {}
        with ExitStack() as stack:
            clients = {s.name: stack.enter_context(
                httpx.Client(base_url=s.url, timeout=600, trust_env=False)) for s in servers}
            for r, srv in rotations(servers, warmup + runs):
                if srv.name in failed:
                    continue
                if touch:
                    clients[srv.name].put(touch, content=b"%064d" % r)
                if restart:
                    clients[srv.name].close()
                    restart_server(srv)
                    clients[srv.name] = stack.enter_context(
                        httpx.Client(base_url=srv.url, timeout=600, trust_env=False))
                rss.activate(phase, srv.name, srv.pid)
                try:
                    result = propfind(clients[srv.name], path, depth, BODIES[body_name])
                except Exception as exc:
                    failed.add(srv.name)
                    # Refusing Depth infinity is a policy, summed up in one note below.
                    self.fail(ids, srv, exc, label, quiet=depth == "infinity")
                    continue
                finally:
                    rss.active = None
                if r >= warmup:
                    samples[srv.name].append(result.seconds * 1000)
                if r == warmup:
                    n = count_responses(result.body)
                    raw[srv.name] = {"responses": n, "bytes": len(result.body),
                                     "wire_bytes": result.wire_bytes}
                    size.set(srv.name, len(result.body) / KIB)
                    if n != expect:
                        self.report.notes.append(
                            f"{srv.name}: {label}: {n} <response> elements, expected {expect}")
        for name, ms in samples.items():
            if name in failed or not ms:
                continue
            median.set(name, statistics.median(ms))
            p95.set(name, percentile(ms, 0.95))
            raw[name]["runs_ms"] = [round(x, 3) for x in ms]
        self.report.raw[case] = raw
        log(f"  {label}: " + ", ".join(
            f"{n} {median.values[n]:.1f} ms" for n in samples if median.values.get(n)))

    def phase_propfind(self) -> None:
        from harness_measure import RssMonitor, tree_rss

        servers = self.taking("propfind")
        idle = {s.name: tree_rss(s.pid) for s in servers}
        self.report.raw["idle_rss_mib"] = {n: v / MIB for n, v in idle.items()}
        with RssMonitor() as rss:
            for n in self.sizes.members:
                for body in ("named", "allprop"):
                    label = f"PROPFIND Depth 1, {n:,} members, {body}"
                    log(label)
                    self.propfind_case(rss, f"a{n}", label, f"propfind_d1_{body}_{n}",
                                       f"/c{n}/", "1", body, n + 1)
                if self.args.restart_runs > 0:
                    label = f"PROPFIND Depth 1, {n:,} members, allprop, first after a restart"
                    log(label)
                    self.propfind_case(rss, f"a{n}", label, f"propfind_d1_allprop_{n}_restart",
                                       f"/c{n}/", "1", "allprop", n + 1, restart=True)
                for where, touch, case in (
                    ("a write elsewhere", "/touch.txt", "elsewhere"),
                    ("a change of one of them", f"/c{n}/m00000.txt", "inside"),
                ):
                    label = f"PROPFIND Depth 1, {n:,} members, allprop, each after {where}"
                    log(label)
                    self.propfind_case(rss, f"a{n}", label, f"propfind_d1_allprop_{n}_{case}",
                                       f"/c{n}/", "1", "allprop", n + 1, touch=touch)
            nodes = self.sizes.tree_nodes
            label = f"PROPFIND Depth infinity, {nodes:,}-node tree, allprop"
            log(label)
            self.propfind_case(rss, "b", label, "propfind_dinf_allprop", "/tree/", "infinity",
                               "allprop", nodes)
            label = (f"PROPFIND Depth infinity, {nodes:,}-node tree, allprop, "
                     "each after a change in it")
            log(label)
            self.propfind_case(rss, "b", label, "propfind_dinf_allprop_inside", "/tree/",
                               "infinity", "allprop", nodes, touch="/tree/d00/e00/f000.txt")
        # f): a server whose memory does not grow with the listing shows the same peak for
        # 1,000 and 10,000 members; the resting figure is what it held before a) began
        m = self.report.metric("rss_idle_mib", "RSS at rest, before a)", "MiB", "lower")
        for s in servers:
            m.set(s.name, idle[s.name] / MIB if idle[s.name] else None)
        phases = [(f"a{n}", f"peak RSS during a) Depth 1, {n:,} members")
                  for n in self.sizes.members] + [("b", "peak RSS during b) Depth infinity")]
        for phase, what in phases:
            m = self.report.metric(f"peak_rss_{phase}_mib", what, "MiB", "lower")
            for s in servers:
                peak = rss.peaks.get((phase, s.name))
                m.set(s.name, peak / MIB if peak else None)
        dinf = next(m for m in self.report.metrics if m.id == "propfind_dinf_allprop_median_ms")
        refusers = [f"{n} ({note})" for n, note in dinf.notes.items()]
        self.report.notes.append("PROPFIND Depth infinity refused or failed by: "
                                 + (", ".join(refusers) if refusers else "nobody"))

    # --- c): wrk ----------------------------------------------------------------------

    def phase_wrk(self) -> None:
        from harness_measure import run_wrk, write_lua

        lua = write_lua(self.workdir)
        seconds = self.args.wrk_seconds or self.sizes.wrk_seconds
        cases: list[tuple[str, str, Path | None]] = [
            ("propfind", "PROPFIND Depth 0 (named props) of a 4 KiB file, 16 connections", lua),
            ("get4k", "GET of a 4 KiB file, 16 connections", None),
        ]
        for test, label, script in cases:
            servers = self.taking(test)
            log(label)
            m = self.report.metric(f"wrk_{test}_rps", label, "req/s", "higher")
            rounds: dict[str, list[float]] = {s.name: [] for s in servers}
            raw: dict[str, Any] = {s.name: [] for s in servers}
            failed: set[str] = set()
            for r, srv in rotations(servers, 1 + self.sizes.wrk_rounds):
                if srv.name in failed:
                    continue
                try:
                    res = run_wrk(f"{srv.url}/small.bin", 1 if r == 0 else seconds,
                                  script=script)
                except Exception as exc:
                    failed.add(srv.name)
                    self.fail([m.id], srv, exc, label)
                    continue
                if res.non_2xx > res.requests // 100:
                    failed.add(srv.name)
                    m.set(srv.name, None, f"non-2xx ({res.non_2xx})")
                    self.report.notes.append(f"{srv.name}: {label}: {res.non_2xx} of "
                                             f"{res.requests} responses not 2xx")
                    continue
                if r > 0:  # round 0 is a one-second warm-up
                    rounds[srv.name].append(res.requests_per_s)
                    raw[srv.name].append({"rps": res.requests_per_s, "requests": res.requests,
                                          "socket_errors": res.socket_errors,
                                          "latency_ms": res.latency_ms})
                    if res.socket_errors:
                        self.report.notes.append(
                            f"{srv.name}: {label}: {res.socket_errors} socket errors")
            for name, values in rounds.items():
                if name not in failed and values:
                    m.set(name, statistics.median(values))
            self.report.raw[f"wrk_{test}"] = raw
            log(f"  {label}: " + ", ".join(
                f"{n} {m.values[n]:,.0f}" for n in rounds if m.values.get(n)))

    # --- d): big file -----------------------------------------------------------------

    def phase_big(self) -> None:
        from harness_measure import get_big, make_big, put_big, refresh_big

        mib = self.sizes.big_mib
        servers = self.taking("big")
        source = self.workdir / "big.bin"
        make_big(source, mib)
        log(f"PUT and GET of a {mib} MiB file")
        put_m = self.report.metric("big_put_mibs", f"PUT of a {mib} MiB file", "MiB/s", "higher")
        get_m = self.report.metric("big_get_mibs", f"GET of a {mib} MiB file", "MiB/s", "higher")
        settled_m = self.report.metric(
            "big_get_settled_mibs", f"GET of a {mib} MiB file, once it is on disk (sync first)",
            "MiB/s", "higher")
        put_s: dict[str, list[float]] = {s.name: [] for s in servers}
        get_s: dict[str, list[float]] = {s.name: [] for s in servers}
        settled_s: dict[str, list[float]] = {s.name: [] for s in servers}
        failed: set[str] = set()
        for _, srv in rotations(servers, self.sizes.big_rounds):
            if srv.name in failed:
                continue
            refresh_big(source)
            # every PUT starts with no dirty data queued by the server measured before it: a
            # server that makes uploads durable (fsync) would otherwise wait for another
            # server's writeback, one that does not would not
            os.sync()
            try:
                put_s[srv.name].append(mib / put_big(f"{srv.url}/big.bin", source))
                get_s[srv.name].append(mib / get_big(f"{srv.url}/big.bin", mib * MIB))
                # the GET just above may race the server's own flush of the upload (a
                # server that fsyncs soon) or not (one that leaves it to the kernel);
                # this one reads what is on disk, as a later download would
                os.sync()
                settled_s[srv.name].append(mib / get_big(f"{srv.url}/big.bin", mib * MIB))
            except Exception as exc:
                failed.add(srv.name)
                self.fail([put_m.id, get_m.id, settled_m.id], srv, exc, f"{mib} MiB transfer")
        for metric, series in ((put_m, put_s), (get_m, get_s), (settled_m, settled_s)):
            for name, values in series.items():
                if name not in failed and values:
                    metric.set(name, statistics.median(values))
        self.report.raw["big_mibs"] = {"put": put_s, "get": get_s, "get_settled": settled_s}
        source.unlink()
        log("  PUT: " + ", ".join(f"{n} {v:,.0f}" for n, v in put_m.values.items() if v)
            + "; GET: " + ", ".join(f"{n} {v:,.0f}" for n, v in get_m.values.items() if v))

    # --- e): sequential small PUTs ----------------------------------------------------

    def phase_puts(self) -> None:
        import httpx
        from harness_measure import sequential_puts

        total = self.sizes.puts
        servers = self.taking("puts")
        label = f"{total:,} sequential 1 KiB PUTs"
        log(label)
        m = self.report.metric("puts_seconds", label, "s", "lower")
        chunk = max(1, total // 10)
        times: dict[str, list[float]] = {s.name: [] for s in servers}
        failed: set[str] = set()
        with ExitStack() as stack:
            clients = {s.name: stack.enter_context(
                httpx.Client(base_url=s.url, timeout=60, trust_env=False)) for s in servers}
            for r, srv in rotations(servers, (total + chunk - 1) // chunk):
                if srv.name in failed:
                    continue
                span = range(r * chunk, min(total, (r + 1) * chunk))
                paths = [f"/puts/p{i:05d}.bin" for i in span]
                try:
                    times[srv.name] += sequential_puts(clients[srv.name], paths)
                except Exception as exc:
                    failed.add(srv.name)
                    self.fail([m.id], srv, exc, label)
        for name, values in times.items():
            if name not in failed and values:
                m.set(name, sum(values))
        self.report.raw["puts"] = {n: {"total_s": sum(v), "median_ms": statistics.median(v) * 1000}
                                   for n, v in times.items() if v and n not in failed}
        log(f"  {label}: " + ", ".join(f"{n} {v:.2f} s" for n, v in m.values.items() if v))


def start_servers(classes: list[type[Server]], sizes: Any, workdir: Path,
                  args: argparse.Namespace, servers_info: dict[str, dict[str, Any]],
                  started: list[Server], phases: list[str]) -> None:
    from harness_data import copy_tree, make_collections, parts_for, populate_http, write_tree

    parts = parts_for(phases)
    template = workdir / "template"
    if any(c.filesystem for c in classes):
        t0 = time.perf_counter()
        count = write_tree(template, sizes, parts)
        log(f"wrote the data set: {count:,} files in {time.perf_counter() - t0:.1f} s")
    for cls in classes:
        srv = cls(workdir / cls.name, free_port())
        if cls.name.startswith("davbind"):
            srv.workers = args.davbind_workers  # type: ignore[attr-defined]
        info = servers_info[cls.name]
        info["versions"] = srv.versions()
        try:
            if cls.filesystem:
                copy_tree(template, srv.data_dir)
            t0 = time.perf_counter()
            started.append(srv)  # before start(): an interrupt must still stop it
            srv.start()
            info.update(url=srv.url, command=srv.command_line,
                        start_seconds=round(time.perf_counter() - t0, 2),
                        config={p.name: p.read_text() for p in sorted(srv.workdir.glob("*.conf"))})
            if not cls.filesystem and cls.tests is None:
                log(f"populating {cls.name} over HTTP")
                info["populate_seconds"] = round(populate_http(srv.url, sizes, parts), 1)
                log(f"  done in {info['populate_seconds']} s")
            elif not cls.filesystem and "puts" in (cls.tests or ()):  # the write tests only
                make_collections(srv.url, ["/puts/"])
            log(f"{cls.name} ready on {srv.url} (pid {srv.pid})")
        except (StartError, OSError, RuntimeError, subprocess.SubprocessError) as exc:
            info["skipped"] = f"failed to start or populate: {exc}"
            log(f"{cls.name}: {info['skipped']}")
            if srv in started:
                started.remove(srv)
                srv.stop()
    if template.exists():
        shutil.rmtree(template)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    known = registry()
    shared = known["davbind-pg"]
    shared.metadata_url = args.davbind_metadata_url  # type: ignore[attr-defined]
    shared.blobs_url = args.davbind_blobs_url  # type: ignore[attr-defined]
    names = [n.strip() for n in args.only.split(",")] if args.only else list(known)
    if not args.only and not (args.davbind_metadata_url and args.davbind_blobs_url):
        names.remove("davbind-pg")  # not asked for: no "skipped" line for it
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown server(s): {', '.join(unknown)}; known: {', '.join(known)}")
    classes = [known[n] for n in known if n in names]
    chosen = [p.strip() for p in args.phases.split(",") if p.strip()]
    wrong = [p for p in chosen if p not in PHASES]
    if wrong:
        sys.exit(f"unknown phase(s): {', '.join(wrong)}; known: {', '.join(PHASES)}")
    # a server limited to some tests (the references) is not started for phases it skips
    tests = {t for p in chosen for t in PHASE_TESTS[p]}
    classes = [c for c in classes if c.tests is None or c.tests & tests]
    if args.install:
        install(classes)

    import harness_data
    import harness_report
    from harness_cold import phase_cold
    from harness_latency import phase_latency

    sizes = harness_data.QUICK if args.quick else harness_data.FULL
    if args.runs:
        sizes = dataclasses.replace(sizes, runs=args.runs)
    servers_info: dict[str, dict[str, Any]] = {
        c.name: {"kind": c.kind, "description": c.description} for c in classes}
    runnable = []
    for c in classes:
        reason = c.missing()
        if reason:
            servers_info[c.name]["skipped"] = reason
            log(f"{c.name}: skipped, {reason} (try --install)")
        else:
            runnable.append(c)
    for tool in ("wrk", "curl"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (apt-get install {tool}, or --install)")

    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    meta: dict[str, Any] = {
        "benchmark": "harness", "time": stamp, "quick": args.quick,
        "machine": harness_report.machine(), "sizes": dataclasses.asdict(sizes),
        "davbind_workers": args.davbind_workers, "phases": chosen,
    }
    report = harness_report.Report(servers=servers_info)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="davbind-harness-"))
    workdir.mkdir(parents=True, exist_ok=True)
    os.chmod(workdir, 0o755)  # server workers run as www-data and must reach their data
    started: list[Server] = []
    t_start = time.perf_counter()
    try:
        try:
            start_servers(runnable, sizes, workdir, args, servers_info, started, chosen)
            run = Run(args, started, report, sizes, workdir)
            phases: dict[str, Callable[[], None]] = {
                "propfind": run.phase_propfind, "wrk": run.phase_wrk,
                "big": run.phase_big, "puts": run.phase_puts,
                "cold": lambda: phase_cold(run), "latency": lambda: phase_latency(run),
            }
            for name in chosen:
                phases[name]()
        finally:
            for srv in started:
                t0 = time.perf_counter()
                srv.stop()
                log(f"stopped {srv.name} in {time.perf_counter() - t0:.1f} s")
        meta["seconds"] = round(time.perf_counter() - t_start, 1)
        meta["machine"]["load_average_end"] = list(os.getloadavg())
        if max(meta["machine"]["load_average"][0], meta["machine"]["load_average_end"][0]) > 0.5:
            report.notes.append("other processes were busy on this machine (see the load "
                                "averages): figures are noisier than on an idle machine")
        report.compute_ratios()
        json_path, md_path = harness_report.write(report, meta, args.out, stamp)
        print(harness_report.markdown(report, meta), flush=True)
        log(f"wrote {json_path} and {md_path} ({meta['seconds']:.0f} s)")
    finally:
        if not args.keep and args.workdir is None:
            log(f"removing {workdir}")
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
