#!/usr/bin/env python3
"""Does the listing cache pay?  Two ``davbind serve`` processes, the same data, one with
the cache (``listing_cache_mb`` 64, the default) and one without (0), alternating, on the
workloads sync clients make:

* ``poll``: PROPFIND Depth 1 of one collection of ``--members`` members, each right after
  a PUT that changes one of them (allprop and the named properties rclone asks for);
* ``folders``: ``--folders`` collections of ``--folder-members`` members, each listed
  once per pass by ``--clients`` concurrent keep-alive clients: pass 1 right after a
  restart (nothing kept: what the cache costs), passes 2 and 3 (each after a change of
  one member in every folder, as between two sync rounds);
* ``first``: the first listing of the big collection after a restart.

Reports wall-clock medians and the servers' CPU time per listing (user + system of the
server and its workers, from psutil: less sensitive to a busy machine than wall clock).
Scripts, not tests: nothing asserts a time.

    python bench/listing_cache.py [--members 10000] [--rounds 15] [--workers 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

sys.path.insert(0, os.path.dirname(__file__))
from benchkit import free_port, git_commit, positive, stop, tree_cpu, wait_ready

ALLPROP = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
NAMED = (b'<D:propfind xmlns:D="DAV:"><D:prop><D:resourcetype/><D:getcontentlength/>'
         b"<D:getetag/><D:getlastmodified/><D:displayname/></D:prop></D:propfind>")  # fmt: skip
BODIES = {"allprop": ALLPROP, "named": NAMED}
MODES = {"cache": "64", "no cache": "0"}


class Server:
    """One ``davbind serve`` on a shared data directory, restartable."""

    def __init__(self, data: Path, workers: int, cache_mb: str) -> None:
        self.data, self.workers, self.cache_mb = data, workers, cache_mb
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = self.data.parent / f"server-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
        env.update(DAVBIND_LISTING_CACHE_MB=self.cache_mb, DAVBIND_ACCESS_LOG="false",
                   DAVBIND_ALLOW_ANONYMOUS_WRITE="true")  # fmt: skip
        cmd = [sys.executable, "-m", "davbind.cli.main", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--data", str(self.data),
               "--workers", str(self.workers)]  # fmt: skip
        with log.open("ab") as out:
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                         start_new_session=True)  # fmt: skip
        wait_ready(self.url + "/", self.proc, log)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def cpu(self) -> float:
        """CPU seconds used so far by the server and its workers."""
        assert self.proc is not None
        return tree_cpu(self.proc.pid)


def propfind(client: httpx.Client, url: str, body: bytes) -> float:
    start = time.perf_counter()
    r = client.request("PROPFIND", url, headers={"Depth": "1"}, content=body)
    if r.status_code != 207:
        sys.exit(f"PROPFIND {url}: {r.status_code} {r.text[:200]}")
    return time.perf_counter() - start


def fill(url: str, members: int, folders: int, folder_members: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        c.request("MKCOL", "/big/")
        for i in range(folders):
            c.request("MKCOL", f"/f{i:03d}/")

        paths = [f"/big/m{i:05d}.txt" for i in range(members)]
        paths += [f"/f{i:03d}/m{j:04d}.txt" for i in range(folders) for j in range(folder_members)]

        def put_all(share: list[str]) -> None:
            with httpx.Client(base_url=url, timeout=60) as one:  # one keep-alive connection
                for path in share:
                    r = one.put(path, content=f"content of {path}".encode())
                    assert r.status_code in (201, 204), (path, r.status_code)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(put_all, [paths[i::8] for i in range(8)]))


def measure(server: Server, runs: Callable[[], list[float]]) -> dict[str, float]:
    cpu = server.cpu()
    times = runs()
    used = server.cpu() - cpu
    return {"median_ms": statistics.median(times) * 1000, "cpu_ms_each": used * 1000 / len(times)}


def poll(server: Server, body: bytes, rounds: int, tick: Iterator[int]) -> dict[str, float]:
    with httpx.Client(base_url=server.url, timeout=120) as c:
        propfind(c, "/big/", body)  # what a sync client listed before

        def runs() -> list[float]:
            out = []
            for _ in range(rounds):
                c.put(f"/big/m{next(tick) % 100:05d}.txt", content=b"changed %d" % next(tick))
                out.append(propfind(c, "/big/", body))
            return out

        return measure(server, runs)


def folders(server: Server, count: int, clients: int,
            tick: Iterator[int]) -> list[dict[str, float]]:  # fmt: skip
    """Three passes over every folder, ``clients`` keep-alive clients sharing them."""
    results = []
    pool = [httpx.Client(base_url=server.url, timeout=120) for _ in range(clients)]
    try:
        for n in range(3):
            if n:  # between two sync rounds one member of every folder changed
                for i in range(count):
                    pool[0].put(f"/f{i:03d}/m0000.txt", content=b"round %d" % next(tick))

            def runs() -> list[float]:
                start = time.perf_counter()

                def one(k: int) -> None:
                    for i in range(k, count, clients):
                        propfind(pool[k], f"/f{i:03d}/", ALLPROP)

                with ThreadPoolExecutor(clients) as ex:
                    list(ex.map(one, range(clients)))
                return [time.perf_counter() - start] * count  # the pass, once per listing

            r = measure(server, runs)
            results.append({"pass_s": r["median_ms"] / 1000, "cpu_ms_each": r["cpu_ms_each"]})
    finally:
        for c in pool:
            c.close()
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=positive, default=10_000)
    p.add_argument("--folders", type=positive, default=100)
    p.add_argument("--folder-members", type=positive, default=500)
    p.add_argument("--clients", type=positive, default=4)
    p.add_argument("--rounds", type=positive, default=15, help="polls per body and round")
    p.add_argument("--repeat", type=positive, default=3, help="rounds, alternating servers")
    p.add_argument("--workers", type=positive, default=1)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="davbind-listing-cache-"))
    data = tmp / "data"
    servers = {mode: Server(data, args.workers, mb) for mode, mb in MODES.items()}
    tick = iter(range(10**9))
    out: dict[str, list[object]] = {}
    try:
        first = servers["cache"]
        first.start()
        print(f"filling {args.members} + {args.folders}x{args.folder_members} members",
              file=sys.stderr)  # fmt: skip
        fill(first.url, args.members, args.folders, args.folder_members)
        servers["no cache"].start()
        for rnd in range(args.repeat):
            for mode, server in servers.items():
                server.stop()
                server.start()  # after a restart: nothing kept
                with httpx.Client(base_url=server.url, timeout=120) as c:
                    cpu = server.cpu()
                    t = propfind(c, "/big/", ALLPROP)
                    fresh = {"median_ms": t * 1000, "cpu_ms_each": (server.cpu() - cpu) * 1000}
                out.setdefault(f"{mode}: first listing after a restart", []).append(fresh)
                out.setdefault(f"{mode}: folders, passes 1-3", []).append(
                    folders(server, args.folders, args.clients, tick))
                for name, body in BODIES.items():
                    out.setdefault(f"{mode}: poll after a change, {name}", []).append(
                        poll(server, body, args.rounds, tick))
                print(f"round {rnd + 1} {mode} done (load {os.getloadavg()[0]:.1f})",
                      file=sys.stderr)  # fmt: skip
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"commit": git_commit(), "args": vars(args), "results": out}, indent=1))
    print("| workload | cache: ms | no cache: ms | cache: CPU ms | no cache: CPU ms |",
          "|---|---:|---:|---:|---:|", sep="\n", file=sys.stderr)  # fmt: skip
    for key in [k.split(": ", 1)[1] for k in out if k.startswith("cache: ")]:
        on, off = out[f"cache: {key}"], out[f"no cache: {key}"]
        if key.startswith("folders"):
            for n in range(3):
                cells = [statistics.median(r[n][f] for r in rows)  # type: ignore[index]
                         for f in ("pass_s", "cpu_ms_each") for rows in (on, off)]  # fmt: skip
                print(f"| folders, pass {n + 1} (s for the pass; CPU per listing) | "
                      f"{cells[0]:.3f} | {cells[1]:.3f} | {cells[2]:.1f} | {cells[3]:.1f} |",
                      file=sys.stderr)  # fmt: skip
            continue
        cells = [statistics.median(r[f] for r in rows)  # type: ignore[index]
                 for f in ("median_ms", "cpu_ms_each") for rows in (on, off)]  # fmt: skip
        print(f"| {key} | {cells[0]:.1f} | {cells[1]:.1f} | {cells[2]:.1f} | {cells[3]:.1f} |",
              file=sys.stderr)  # fmt: skip


if __name__ == "__main__":
    main()
