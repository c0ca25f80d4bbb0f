"""Phase ``cold``: listing many collections right after the server process restarts.

The data: ``/cold/`` with 100 collections of 500 small files (``Sizes.cold``). For every
server, round by round (servers interleaved, the starting one rotating):

1. restart the process (stop it, start it as the harness first did, wait until it
   answers and its process tree is idle), then one *pass*: 4 concurrent clients, each on
   its own keep-alive connection, list the 100 collections once in total (each client a
   quarter of them) with ``PROPFIND Depth: 1`` ``allprop``, every body read to its end;
   the figure is the wall time of the whole pass. Then the same pass again without a
   restart ("second pass").
2. The first round is the only one where the data has never been listed by anyone since
   it was written ("never listed"); the next ``cold_rounds`` rounds list data that was
   listed before the restart ("listed before"); whatever a server keeps on disk from an
   earlier listing is then there, whatever it kept in memory is not.
3. A last round where each of the 4 clients lists all 100 (400 listings), all in the same
   order, as 4 sync clients starting together after a restart would.

The row means the same for any server: it depends only on what goes over HTTP and on the
process being new, not on what a server keeps where. The kernel's page cache is not
dropped (the machine is shared): "cold" means a new process, not a cold disk.
"""

from __future__ import annotations

import http.client
import statistics
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness_measure import BODIES, XML, Refused, count_responses, tree_cpu

if TYPE_CHECKING:
    from harness import Run
    from harness_report import Metric
    from peers import Server

CLIENTS = 4
HEADERS = {"Depth": "1", "Content-Type": XML, "Accept-Encoding": "identity"}


@dataclass(frozen=True, slots=True)
class ListingPass:
    seconds: float
    listings: int
    bytes: int
    responses: int  # <response> elements in one listing, checked against members + 1


def listing_pass(url: str, shares: list[list[str]]) -> ListingPass:
    """Each share is one client (a thread with its own connection) listing its paths in
    turn; the clock runs from the common start to the last body's last byte."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    barrier = threading.Barrier(len(shares) + 1)
    sizes: list[int] = []
    first: list[bytes] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client(share: list[str]) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=600)
        barrier.wait()
        try:
            for path in share:
                conn.request("PROPFIND", path, body=BODIES["allprop"], headers=HEADERS)
                response = conn.getresponse()
                data = response.read()
                if response.status != 207:
                    raise Refused(response.status, f"PROPFIND {path}")
                with lock:
                    sizes.append(len(data))
                    if not first:
                        first.append(data)
        except BaseException as exc:  # reported by the caller, with the server's name
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(s,), daemon=True) for s in shares]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    if errors:
        raise errors[0]
    return ListingPass(seconds, len(sizes), sum(sizes),
                       count_responses(first[0]) if first else 0)


def wait_idle(pid: int, window: float = 0.25, busy: float = 0.05, limit: float = 15) -> float:
    """Wait until the server's processes use under ``busy`` of a core over ``window``
    seconds: a server with several workers answers as soon as one of them is up, and
    the others' start-up must not be timed as part of its first listings."""
    start = time.perf_counter()
    before = tree_cpu(pid)
    while time.perf_counter() - start < limit:
        time.sleep(window)
        now = tree_cpu(pid)
        if now - before < busy * window:
            break
        before = now
    return time.perf_counter() - start


def restart(srv: Server) -> float:
    """Stop the server's process and start it again; returns seconds until it answers."""
    start = time.perf_counter()
    srv.stop()
    srv.start()
    seconds = time.perf_counter() - start
    wait_idle(srv.pid)
    return seconds


def phase_cold(run: Run) -> None:
    from harness import log, rotations
    from harness_data import cold_collections

    cols, members = run.sizes.cold
    paths = cold_collections(run.sizes)
    split = [paths[i::CLIENTS] for i in range(CLIENTS)]
    every = [list(paths) for _ in range(CLIENTS)]
    servers = run.taking("cold")
    what = f"{cols} collections × {members} members, {CLIENTS} clients"
    steps = (["never"] + ["listed"] * run.sizes.cold_rounds) + ["all"]
    labels = {
        "never": f"Cold listings, {what}: first pass after a restart, never listed before",
        "listed": f"Cold listings, {what}: first pass after a restart, listed before",
        "all": f"Cold listings, {what} each lists all ({CLIENTS * cols} listings): "
        "first pass after a restart",
    }
    first_m: dict[str, Metric] = {}
    second_m: dict[str, Metric] = {}
    samples: dict[str, dict[str, tuple[list[float], list[float]]]] = {}
    for kind in ("never", "listed", "all"):
        first_m[kind] = run.report.metric(f"cold_{kind}_s", labels[kind], "s", "lower")
        second_m[kind] = run.report.metric(f"cold_{kind}_second_s",
                                           labels[kind].split(":")[0] + ": second pass",
                                           "s", "lower")
        samples[kind] = {s.name: ([], []) for s in servers}
    restart_m = run.report.metric("cold_restart_s", "Restart: stop, start until it answers",
                                  "s", "lower")
    restarts: dict[str, list[float]] = {s.name: [] for s in servers}
    failed: set[str] = set()
    raw: dict[str, list[dict[str, object]]] = {s.name: [] for s in servers}
    for r, srv in rotations(servers, len(steps)):
        kind = steps[r]
        if srv.name in failed:
            continue
        shares = every if kind == "all" else split
        try:
            restarts[srv.name].append(restart(srv))
            cold = listing_pass(srv.url, shares)
            warm = listing_pass(srv.url, shares)
        except Exception as exc:
            failed.add(srv.name)
            ids = [m.id for m in (*first_m.values(), *second_m.values())]
            run.fail(ids, srv, exc, f"cold listings ({kind})")
            continue
        samples[kind][srv.name][0].append(cold.seconds)
        samples[kind][srv.name][1].append(warm.seconds)
        raw[srv.name].append({"kind": kind, "first_s": round(cold.seconds, 4),
                              "second_s": round(warm.seconds, 4), "listings": cold.listings,
                              "bytes": cold.bytes, "restart_s": round(restarts[srv.name][-1], 2)})
        if cold.responses != members + 1:
            run.report.notes.append(f"{srv.name}: cold listings: {cold.responses} <response> "
                                    f"elements in a listing, expected {members + 1}")
        log(f"  {srv.name} {kind}: first {cold.seconds:.2f} s, second {warm.seconds:.2f} s")
    for kind in samples:
        for name, (firsts, seconds) in samples[kind].items():
            if name in failed or not firsts:
                continue
            first_m[kind].set(name, statistics.median(firsts))
            second_m[kind].set(name, statistics.median(seconds))
    for name, values in restarts.items():
        if name not in failed and values:
            restart_m.set(name, statistics.median(values))
    run.report.raw["cold"] = raw
