#!/usr/bin/env python3
"""Small PUT-like write transactions against a metadata store, one or more writers.

Each transaction is what a PUT of a new small file does to the metadata store: look the
segment up, store 100 bytes of content inline, create the resource.  Each writer thread
works in its own collection (no logical conflict), so the only thing that serialises
them is the store's writer lock: SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's
``pg_advisory_xact_lock`` (``storage.postgres``).  ``--no-advisory-lock`` measures
PostgreSQL without it (unsafe: for the cost figure only).

    python bench/metadata_writes.py --url postgresql://davbind@127.0.0.1:5432/bench
    python bench/metadata_writes.py --url sqlite:///tmp/bench/meta.sqlite3 --threads 2

Prints transactions per second and the median / p99 latency of one transaction.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from davbind.storage.open import open_blobs, open_metadata


def _disable_advisory_lock() -> None:
    from davbind.storage import postgres

    def begin(conn: postgres.Conn) -> None:
        conn.execute("BEGIN")

    postgres._begin_write = begin


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="metadata store URL (a fresh one)")
    parser.add_argument("--transactions", type=int, default=1000, help="in total")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-advisory-lock", action="store_true")
    args = parser.parse_args()
    if args.no_advisory_lock:
        _disable_advisory_lock()
    blob_dir = Path(tempfile.mkdtemp(prefix="bench-blobs-"))
    store = open_metadata(args.url, open_blobs(f"file://{blob_dir}", durable=True))
    with store.write() as txn:
        homes = [
            txn.create(txn.root_key, f"w{i}-{time.time_ns()}", collection=True).key
            for i in range(args.threads)
        ]
    per_thread = args.transactions // args.threads
    latencies: list[float] = []
    guard = threading.Lock()

    def writer(home: int, index: int) -> None:
        mine: list[float] = []
        for n in range(per_thread):
            began = time.perf_counter()
            with store.write() as txn:
                segment = f"f{n}"
                if txn.lookup(home, segment) is None:
                    digest, size = txn.store_inline(f"{index}:{n}:".encode().ljust(100, b"x"))
                    txn.create(home, segment, collection=False, digest=digest, size=size)
            mine.append(time.perf_counter() - began)
        with guard:
            latencies.extend(mine)

    threads = [threading.Thread(target=writer, args=(h, i)) for i, h in enumerate(homes)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    store.close()
    latencies.sort()
    done = len(latencies)
    print(
        f"{args.url.split(':', 1)[0]} threads={args.threads} "
        f"lock={'off' if args.no_advisory_lock else 'on'} transactions={done} "
        f"wall={wall:.2f}s rate={done / wall:.0f}/s "
        f"median={statistics.median(latencies) * 1e3:.2f}ms "
        f"p99={latencies[int(done * 0.99) - 1] * 1e3:.2f}ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
