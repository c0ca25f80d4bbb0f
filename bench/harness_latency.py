"""Phase ``latency``: GET latency of a 4 KiB file while another client writes.

For every server, round by round (servers interleaved, the starting one rotating), two
wrk windows of the same length back to back, GET of ``/small.bin`` at 2 threads and 16
connections with ``--latency``:

- *quiet*: nobody else talks to the server;
- *with writers*: one more client, on two keep-alive connections of its own, from the
  window's start: on one it PUTs 1,000 files of 1 KiB one after the other (stopping
  early if the window closes first), on the other it COPYs the ``/tree/`` of the data set
  (10,111 nodes) with ``Depth: infinity`` to a new destination, and again to another one
  while the window lasts. When wrk ends the writer stops after its requests in flight;
  that wait, and deleting the copies, are not timed.

Reported: p50, p99 and max latency and req/s in both conditions, the ratio p99 with
writers / p99 quiet, and what the writer got done within the window (PUTs, COPYs
finished, the median COPY time): a server that stalls its writers protects its readers.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from harness_measure import Refused, WrkResult, run_wrk

if TYPE_CHECKING:
    from harness import Run
    from peers import Server

PUTS = 1000
PUT_BYTES = 1024


class Writer:
    """The writing client, on two keep-alive connections from the window's start: one
    PUTs ``puts`` files one after another, the other COPYs ``tree`` to new destinations
    until ``finish()`` (a sync client uploading while it copies a folder). Side by side,
    so every server gets COPY load through the whole window, however fast its PUTs."""

    def __init__(self, url: str, tag: str, puts: int, tree: str) -> None:
        self.url, self.tag, self.puts_wanted, self.tree = url, tag, puts, tree
        self.stopping = threading.Event()
        self.puts = 0
        self.copies: list[str] = []  # destinations made (finished or not)
        self.copy_seconds: list[float] = []  # COPYs finished
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guard, args=(f,), daemon=True)
                        for f in (self._put_loop, self._copy_loop)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        """Stop after the requests in flight (waiting for them: they are not timed)."""
        self.stopping.set()
        for t in self.threads:
            t.join()

    def _guard(self, loop: Callable[[httpx.Client], None]) -> None:
        try:
            with httpx.Client(base_url=self.url, timeout=600, trust_env=False) as client:
                loop(client)
        except BaseException as exc:  # read by the phase after finish()
            self.errors.append(exc)

    def _put_loop(self, client: httpx.Client) -> None:
        filler = bytes(range(256)) * (PUT_BYTES // 256)
        while self.puts < self.puts_wanted and not self.stopping.is_set():
            path = f"/puts/w-{self.tag}-{self.puts:04d}.bin"
            r = client.put(path, content=(path.encode() + b"\n" + filler)[:PUT_BYTES])
            if r.status_code not in (200, 201, 204):
                raise Refused(r.status_code, f"PUT {path}")
            self.puts += 1

    def _copy_loop(self, client: httpx.Client) -> None:
        while not self.stopping.is_set():
            dest = f"/copy-{self.tag}-{len(self.copies)}/"
            self.copies.append(dest)
            start = time.perf_counter()
            r = client.request("COPY", self.tree, headers={
                "Destination": self.url + dest, "Depth": "infinity", "Overwrite": "F"})
            # 201 and 204 are RFC 4918's (§9.8.5); lighttpd answers a done COPY with 200;
            # 207 would say some members were not copied
            if r.status_code not in (200, 201, 204):
                raise Refused(r.status_code, f"COPY {self.tree} {dest}")
            self.copy_seconds.append(time.perf_counter() - start)

    def clean(self) -> None:
        """Delete the copies (untimed), so every round starts from the same data."""
        with httpx.Client(base_url=self.url, timeout=600, trust_env=False) as client:
            for dest in self.copies:
                client.request("DELETE", dest)


def window(srv: Server, seconds: float, tag: str | None, tree: str) -> tuple[WrkResult,
                                                                             Writer | None]:
    """One wrk window; with ``tag``, a writer runs beside it."""
    writer = Writer(srv.url, tag, PUTS, tree) if tag else None
    if writer:
        writer.start()
    try:
        res = run_wrk(f"{srv.url}/small.bin", seconds)
    finally:
        if writer:
            writer.finish()
    if writer:
        writer.clean()
        if writer.errors:
            raise writer.errors[0]
    return res, writer


def phase_latency(run: Run) -> None:
    from harness import log, rotations

    seconds = run.args.latency_seconds or run.sizes.latency_seconds
    servers = run.taking("latency")
    nodes = run.sizes.tree_nodes
    head = f"GET of a 4 KiB file, 16 connections, {seconds:g}-s windows"
    quiet_lbl = f"{head}, quiet"
    busy_lbl = (f"{head}, while one client PUTs 1,000 × 1 KiB and COPYs a {nodes:,}-node "
                "tree (Depth infinity)")
    log(busy_lbl)
    cols = {}
    for cond, label in (("quiet", quiet_lbl), ("writes", busy_lbl)):
        for key, unit, better in (("p50", "ms", "lower"), ("p99", "ms", "lower"),
                                  ("max", "ms", "lower"), ("rps", "req/s", "higher")):
            cols[cond, key] = run.report.metric(f"lat_{cond}_{key}", f"{label} — {key}",
                                                unit, better)
    ratio_m = run.report.metric("lat_p99_ratio", "GET p99 with writers / p99 quiet", "×",
                                "lower")
    puts_m = run.report.metric("lat_writer_puts", "writer: PUTs done within the window",
                               "count", "higher")
    copies_m = run.report.metric("lat_writer_copies", "writer: COPYs finished (window and "
                                 "its end)", "count", "higher")
    copy_s_m = run.report.metric("lat_copy_s", f"writer: COPY of the {nodes:,}-node tree, "
                                 "median", "s", "lower")
    samples: dict[tuple[str, str], dict[str, list[float]]] = {
        k: {s.name: [] for s in servers} for k in cols}
    wrote: dict[str, dict[str, list[float]]] = {s.name: {"puts": [], "copies": [], "copy_s": []}
                                                for s in servers}
    raw: dict[str, list[dict[str, Any]]] = {s.name: [] for s in servers}
    failed: set[str] = set()
    for r, srv in rotations(servers, run.sizes.latency_rounds):
        if srv.name in failed:
            continue
        try:
            run_wrk(f"{srv.url}/small.bin", 1)  # warm-up, untimed
            quiet, _ = window(srv, seconds, None, "/tree/")
            busy, writer = window(srv, seconds, f"r{r}", "/tree/")
        except Exception as exc:
            failed.add(srv.name)
            run.fail([m.id for m in (*cols.values(), ratio_m, puts_m, copies_m, copy_s_m)],
                     srv, exc, "latency under writes")
            continue
        assert writer is not None
        for cond, res in (("quiet", quiet), ("writes", busy)):
            if res.non_2xx or res.socket_errors:
                run.report.notes.append(f"{srv.name}: latency ({cond}): {res.non_2xx} non-2xx, "
                                        f"{res.socket_errors} socket errors")
            for key in ("p50", "p99", "max"):
                samples[cond, key][srv.name].append(res.latency_ms.get(key, float("nan")))
            samples[cond, "rps"][srv.name].append(res.requests_per_s)
        wrote[srv.name]["puts"].append(writer.puts)
        wrote[srv.name]["copies"].append(len(writer.copy_seconds))
        wrote[srv.name]["copy_s"] += writer.copy_seconds
        raw[srv.name].append({"quiet": quiet.latency_ms, "quiet_rps": quiet.requests_per_s,
                              "writes": busy.latency_ms, "writes_rps": busy.requests_per_s,
                              "puts": writer.puts, "copy_s": writer.copy_seconds})
        log(f"  {srv.name}: p99 {quiet.latency_ms.get('p99', 0):.1f} -> "
            f"{busy.latency_ms.get('p99', 0):.1f} ms, {writer.puts} PUTs, "
            f"{len(writer.copy_seconds)} COPYs")
    for (cond, key), per in samples.items():
        for name, values in per.items():
            if name not in failed and values:
                cols[cond, key].set(name, statistics.median(values))
    for s in servers:
        quiet_p99 = cols["quiet", "p99"].values.get(s.name)
        busy_p99 = cols["writes", "p99"].values.get(s.name)
        if s.name in failed or not quiet_p99 or busy_p99 is None:
            continue
        ratio_m.set(s.name, busy_p99 / quiet_p99)
        w = wrote[s.name]
        puts_m.set(s.name, statistics.median(w["puts"]))
        copies_m.set(s.name, statistics.median(w["copies"]))
        copy_s_m.set(s.name, statistics.median(w["copy_s"]) if w["copy_s"] else None,
                     "" if w["copy_s"] else "none finished")
    run.report.raw["latency"] = raw
