#!/usr/bin/env python3
"""Benchmark: what authentication costs.  The same wrk runs, authenticated with HTTP
Basic and anonymous, against one ``davbind serve``:

* ``PROPFIND`` Depth 1 of a collection of N members (10,000 by default);
* ``GET`` of a 4 KiB file.

The server is started with ``--allow-anonymous-write`` (anonymous requests and logged-in
ones are both served), filled anonymously, then given a user with ``davbind user add``.
Both kinds of run take the same path through the app; the authenticated ones add the
``Authorization`` check (a credential-cache hit after the first request of each
connection's worker).  Reported: requests/s of each and authenticated / anonymous
(the target is at least 0.8).  Any non-2xx answer aborts the run.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from benchkit import free_port, git_commit, positive, stop, wait_ready

HERE = Path(__file__).resolve().parent
USER, PASSWORD = "bench", "bench-password-1"
RPS = re.compile(r"Requests/sec:\s+([\d.]+)")
NON_2XX = re.compile(r"Non-2xx or 3xx responses: (\d+)")
PROPFIND_LUA = 'wrk.method = "PROPFIND"\nwrk.headers["Depth"] = "1"\n'


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=positive, default=10_000, help="files in the collection")
    p.add_argument("--connections", type=positive, default=16, help="wrk -c")
    p.add_argument("--threads", type=positive, default=2, help="wrk -t")
    p.add_argument("--duration", type=positive, default=10, help="seconds per wrk run")
    p.add_argument("--rounds", type=positive, default=3,
                   help="anonymous/authenticated pairs per request; the median is reported")
    p.add_argument("--workers", type=positive, default=1, help="--workers of the server")
    p.add_argument("--out", type=Path, default=HERE / "results")
    return p.parse_args(argv)


def populate(url: str, members: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as c:
        assert c.request("MKCOL", "/bench/").status_code == 201
        assert c.request("MKCOL", "/bench/many/").status_code == 201
        assert c.put("/bench/g.bin", content=os.urandom(4096)).status_code == 201

        def put(i: int) -> None:
            r = c.put(f"/bench/many/f{i:06d}.txt", content=f"member {i}\n".encode())
            assert r.status_code == 201, r.status_code

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, range(members)))


def wrk(args: argparse.Namespace, url: str, script: Path | None, auth: bool) -> float:
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections),
           "-d", f"{args.duration}s", "--latency"]  # fmt: skip
    if auth:
        token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
        cmd += ["-H", f"Authorization: Basic {token}"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    bad = NON_2XX.search(out)
    if bad:
        sys.exit(f"{bad.group(0)} for {url} (auth={auth}):\n{out}")
    found = RPS.search(out)
    if found is None:
        sys.exit(f"no Requests/sec in wrk's output:\n{out}")
    return float(found[1])


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="davbind-authbench-") as tmp:
        data, port = Path(tmp) / "data", free_port()
        url = f"http://127.0.0.1:{port}/"
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
        log_path = Path(tmp) / "server.log"
        davbind = [sys.executable, "-m", "davbind.cli.main"]
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*davbind, "serve", "--port", str(port), "--data", str(data),
                 "--workers", str(args.workers), "--allow-anonymous-write"],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
            )  # fmt: skip
        try:
            wait_ready(url, proc, log_path)
            print(f"populating {args.members} members ...", file=sys.stderr)
            populate(url, args.members)
            subprocess.run([*davbind, "user", "add", USER, "--password-stdin", "--data",
                            str(data)], input=PASSWORD + "\n", text=True, check=True,
                           env=env, capture_output=True)  # fmt: skip
            script = Path(tmp) / "propfind.lua"
            script.write_text(PROPFIND_LUA)
            cases = {
                f"PROPFIND Depth 1, {args.members} members": (f"{url}bench/many/", script),
                "GET 4 KiB": (f"{url}bench/g.bin", None),
            }
            results: dict[str, dict[str, Any]] = {}
            for name, (target, lua) in cases.items():
                wrk(args, target, lua, True)  # warm-up: the credential is verified once
                anon, auth = [], []
                for i in range(args.rounds):
                    print(f"{name}: round {i + 1}/{args.rounds}", file=sys.stderr)
                    anon.append(wrk(args, target, lua, False))
                    auth.append(wrk(args, target, lua, True))
                a, b = statistics.median(anon), statistics.median(auth)
                results[name] = {"anonymous_rps": anon, "basic_rps": auth, "ratio": b / a}
        finally:
            stop(proc)
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s, median of "
          f"{args.rounds}, {args.workers} worker(s), commit {git_commit()}\n")  # fmt: skip
    print("| request | anonymous req/s | Basic req/s | Basic / anonymous |")
    print("|---|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {statistics.median(r['anonymous_rps']):.1f} | "
              f"{statistics.median(r['basic_rps']):.1f} | {r['ratio']:.2f} |")  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    record = {"commit": git_commit(), "python": platform.python_version(),
              "platform": platform.platform(), "cpus": os.cpu_count(),
              "args": {k: str(v) for k, v in vars(args).items()}, "results": results}  # fmt: skip
    (args.out / f"auth_overhead-{stamp}.json").write_text(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
