#!/usr/bin/env python3
"""The first listing after a restart: davbind on PostgreSQL against davbind on SQLite.

Fills one collection of ``--members`` small files once per store (over HTTP, through a
``davbind serve``), runs ``ANALYZE`` on the PostgreSQL database (what autovacuum does a
minute after a bulk load: without statistics the listing's plans are different, see
docs/scaling.md), then ``--rounds`` times, the two stores alternating and the first of
each round alternating too: start a fresh ``davbind serve`` process on the filled store,
wait until it answers and its processes are idle, and time the first ``PROPFIND Depth:
1`` (allprop, body read to its end) on a new connection, then the second.  Prints the
medians, PG ÷ SQLite, and the load average before and after.

Content lives in files for both stores (``file://`` blobs): a listing never reads
content, so an object store would change only the start-up sweep, which is over before
the first request is timed.  A script, not a test: nothing here asserts a time.

    eval "$(scripts/postgres.sh start /tmp/pg)"
    python bench/pg_listing.py --pg-url "$DAVBIND_TEST_POSTGRES_URL" --rounds 9
    # the same against the code of an older commit, in the same rounds:
    mkdir /tmp/old && git archive COMMIT src | tar -x -C /tmp/old
    python bench/pg_listing.py --state /tmp/pgl --pg-src before=/tmp/old/src

The PostgreSQL database is a new one (``davbind_pg_listing_<pid>``) on the server the
URL names, dropped at the end unless ``--state DIR`` keeps it (and the stores) for the
next run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchkit import free_port, positive, stop, wait_ready
from harness_cold import wait_idle
from harness_measure import BODIES, count_responses, propfind

COLLECTION = "/c/"


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


@contextmanager
def serve(data: Path, workers: int, env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """A ``davbind serve`` on ``data``, answering and idle; yields (url, pid)."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = data.parent / f"{data.name}.log"
    cmd = [
        sys.executable, "-m", "davbind.cli.main", "serve", "--host", "127.0.0.1",
        "--port", str(port), "--data", str(data), "--workers", str(workers),
    ]  # fmt: skip
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    full_env.update(env)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=full_env,
                                start_new_session=True)  # fmt: skip
    try:
        wait_ready(url, proc, log_path)
        wait_idle(proc.pid)
        yield url, proc.pid
    finally:
        stop(proc, 15)


def fill(url: str, members: int, threads: int = 8) -> None:
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        r = client.request("MKCOL", COLLECTION)
        if r.status_code != 201:
            sys.exit(f"MKCOL {COLLECTION}: {r.status_code} {r.text[:200]}")

    def put_share(share: range) -> None:
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
            for i in share:
                path = f"{COLLECTION}m{i:05d}.txt"
                r = client.put(path, content=(path + "\n").encode().ljust(100, b"."))
                if r.status_code not in (201, 204):
                    raise RuntimeError(f"PUT {path}: {r.status_code}")

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put_share, [range(t, members, threads) for t in range(threads)]))


def first_two(url: str, expect: int) -> tuple[float, float]:
    """Milliseconds of the first and the second listing, on one new connection."""
    with httpx.Client(base_url=url, timeout=600, trust_env=False) as client:
        out = []
        for _ in range(2):
            result = propfind(client, COLLECTION, "1", BODIES["allprop"])
            if count_responses(result.body) != expect:
                sys.exit(f"{url}: {count_responses(result.body)} responses, expected {expect}")
            out.append(result.seconds * 1000)
    return out[0], out[1]


def pg_database(admin_url: str, name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as conn:
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')
        else:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_dbname(url: str, name: str) -> str:
    """``url`` (postgresql://...) naming database ``name`` instead of its own."""
    return urlsplit(url)._replace(path="/" + name).geturl()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pg-url", default=os.environ.get("DAVBIND_TEST_POSTGRES_URL", ""),
                   help="a PostgreSQL server to create the test database on "
                        "[$DAVBIND_TEST_POSTGRES_URL]")  # fmt: skip
    p.add_argument("--members", type=positive, default=10_000)
    p.add_argument("--rounds", type=positive, default=7)
    p.add_argument("--workers", type=positive, default=2)
    p.add_argument("--state", type=Path, default=None,
                   help="keep both stores in this folder (and the database): a later run "
                        "with the same folder and server lists them without filling again")
    p.add_argument("--pg-src", action="append", default=[], metavar="NAME=DIR",
                   help="also time PostgreSQL with davbind imported from the src folder DIR "
                        "(e.g. `git archive COMMIT src | tar -x -C X`, then X/src), as "
                        "pg-NAME, in the same rounds: a change against what it replaces; "
                        "may be repeated")
    args = p.parse_args()
    if not args.pg_url:
        sys.exit("needs --pg-url (or DAVBIND_TEST_POSTGRES_URL): scripts/postgres.sh start DIR")
    keep = args.state is not None
    tmp = args.state or Path(tempfile.mkdtemp(prefix="davbind-pg-listing-"))
    tmp.mkdir(parents=True, exist_ok=True)
    filled = (tmp / "filled").is_file()
    dbname = (tmp / "filled").read_text().strip() if filled else (
        f"davbind_pg_listing_{os.getpid()}")
    meta_url = with_dbname(args.pg_url, dbname)
    stores = {
        "sqlite": (tmp / "sqlite", {}),
        "pg": (tmp / "pg", {"DAVBIND_METADATA_URL": meta_url,
                            "DAVBIND_BLOBS_URL": f"file://{tmp / 'pg' / 'blobs'}"}),
    }  # fmt: skip
    names = list(stores)
    for spec in args.pg_src:
        name, _, src = spec.partition("=")
        if not src or not Path(src, "davbind").is_dir():
            sys.exit(f"--pg-src {spec!r}: give NAME=DIR, DIR holding the davbind package")
        env = {**stores["pg"][1], "PYTHONPATH": str(Path(src).resolve())}
        stores[f"pg-{name}"] = (stores["pg"][0], env)
        names.append(f"pg-{name}")
    if not filled:
        pg_database(args.pg_url, dbname, create=True)
    try:
        if not filled:
            for name in ("sqlite", "pg"):
                data, env = stores[name]
                start = time.perf_counter()
                with serve(data, args.workers, env) as (url, _):
                    fill(url, args.members)
                print(f"filled {name}: {args.members} members in "
                      f"{time.perf_counter() - start:.0f} s", file=sys.stderr)  # fmt: skip
            import psycopg

            with psycopg.connect(meta_url, autocommit=True) as conn:
                conn.execute("ANALYZE")
            (tmp / "filled").write_text(dbname + "\n")
        print(f"load before: {load()}", file=sys.stderr)
        times: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in names}
        for r in range(args.rounds):
            for name in names if r % 2 == 0 else names[::-1]:
                data, env = stores[name]
                with serve(data, args.workers, env) as (url, _):
                    first, second = first_two(url, args.members + 1)
                times[name][0].append(first)
                times[name][1].append(second)
                print(f"round {r + 1} {name}: first {first:.1f} ms, second {second:.1f} ms",
                      file=sys.stderr)  # fmt: skip
        print(f"load after: {load()}", file=sys.stderr)
        print(f"{args.members:,} members, {args.workers} workers, {args.rounds} rounds, "
              "medians (ms):")  # fmt: skip
        others = names[1:]
        print("| request | SQLite | " + " | ".join(others) + " | "
              + " | ".join(f"{n} / SQLite" for n in others) + " |")
        print("|---|---:|" + "---:|" * (2 * len(others)))
        for i, what in enumerate(("first after a restart", "second")):
            lite = statistics.median(times["sqlite"][i])
            pgs = [statistics.median(times[n][i]) for n in others]
            print(f"| {what} | {lite:.1f} | " + " | ".join(f"{t:.1f}" for t in pgs) + " | "
                  + " | ".join(f"{t / lite:.2f}" for t in pgs) + " |")
    finally:
        if not keep:
            pg_database(args.pg_url, dbname, create=False)
            subprocess.run(["rm", "-rf", str(tmp)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
