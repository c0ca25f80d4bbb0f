"""The data every server gets, and the two ways of giving it: on disk, or over HTTP.

Layout under each server's root (sizes from ``Sizes``):

- ``/c{N}/m{i:05d}.txt`` — one collection per member count, 64-byte files;
- ``/tree/d{a:02d}/e{b:02d}/f{c:03d}.txt`` — the Depth-infinity tree (``tree_nodes`` nodes
  counting ``/tree/`` itself: 10 x 10 x 100 gives 10,111);
- ``/small.bin`` — 4 KiB, for GET and PROPFIND Depth 0 under wrk;
- ``/puts/`` — an empty collection for the sequential-PUT test;
- ``/cold/k{i:03d}/m{j:03d}.txt`` — the cold-listing collections (``cold``: 100 x 500),
  100-byte files.

Every file's content is distinct, so content-addressed storage cannot fold them. Only
the parts the chosen phases use are made (``PHASE_DATA``): a ``--phases cold`` run does
not spend a minute filling davbind with collections it never lists.
"""

from __future__ import annotations

import random
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

MEMBER_BYTES = 64
COLD_BYTES = 100
# the parts of the data set each phase reads or writes into
PHASE_DATA: dict[str, frozenset[str]] = {
    "propfind": frozenset({"members", "tree"}),
    "wrk": frozenset({"small"}),
    "big": frozenset(),
    "puts": frozenset({"puts"}),
    "cold": frozenset({"cold"}),
    "latency": frozenset({"small", "tree", "puts"}),  # GETs /small.bin, COPYs /tree/
}
ALL_PARTS = frozenset().union(*PHASE_DATA.values())
SMALL = random.Random(4096).randbytes(4096)


@dataclass(frozen=True, slots=True)
class Sizes:
    members: tuple[int, ...]  # PROPFIND Depth 1 collections
    tree: tuple[int, int, int]  # fan-out at each level of /tree/
    big_mib: int  # PUT/GET file
    puts: int  # sequential 1 KiB PUTs
    runs: int  # timed PROPFINDs per server and case
    warmup: int  # untimed PROPFINDs per server and case
    wrk_seconds: float
    wrk_rounds: int
    big_rounds: int
    cold: tuple[int, int]  # cold listings: collections, members each
    cold_rounds: int  # restarts after the first listing (median of these)
    latency_seconds: float  # each wrk window of the latency phase
    latency_rounds: int

    @property
    def tree_nodes(self) -> int:
        a, b, c = self.tree
        return 1 + a + a * b + a * b * c


FULL = Sizes(members=(1000, 10000), tree=(10, 10, 100), big_mib=256, puts=1000, runs=20,
             warmup=2, wrk_seconds=5, wrk_rounds=3, big_rounds=11, cold=(100, 500),
             cold_rounds=2, latency_seconds=8, latency_rounds=2)
QUICK = Sizes(members=(1000,), tree=(10, 10, 10), big_mib=32, puts=200, runs=10,
              warmup=2, wrk_seconds=3, wrk_rounds=1, big_rounds=2, cold=(20, 500),
              cold_rounds=1, latency_seconds=4, latency_rounds=1)


def parts_for(phases: list[str]) -> frozenset[str]:
    return frozenset().union(*(PHASE_DATA[p] for p in phases))


def cold_collections(sizes: Sizes) -> list[str]:
    return [f"/cold/k{i:03d}/" for i in range(sizes.cold[0])]


def collections(sizes: Sizes, parts: frozenset[str] = ALL_PARTS) -> list[str]:
    """Every collection path, parents before children."""
    out = [f"/c{n}/" for n in sizes.members] if "members" in parts else []
    if "tree" in parts:
        out.append("/tree/")
        a, b, _ = sizes.tree
        for i in range(a):
            out.append(f"/tree/d{i:02d}/")
            out.extend(f"/tree/d{i:02d}/e{j:02d}/" for j in range(b))
    if "puts" in parts:
        out.append("/puts/")
    if "cold" in parts:
        out += ["/cold/", *cold_collections(sizes)]
    return out


def files(sizes: Sizes, parts: frozenset[str] = ALL_PARTS) -> Iterator[tuple[str, bytes]]:
    """Every file path with its content."""
    if "small" in parts:
        yield "/small.bin", SMALL
    if "members" in parts:
        for n in sizes.members:
            for i in range(n):
                path = f"/c{n}/m{i:05d}.txt"
                yield path, member_content(path)
    if "tree" in parts:
        a, b, c = sizes.tree
        for i in range(a):
            for j in range(b):
                for k in range(c):
                    path = f"/tree/d{i:02d}/e{j:02d}/f{k:03d}.txt"
                    yield path, member_content(path)
    if "cold" in parts:
        for col in cold_collections(sizes):
            for j in range(sizes.cold[1]):
                path = f"{col}m{j:03d}.txt"
                yield path, member_content(path, COLD_BYTES)


def member_content(path: str, size: int = MEMBER_BYTES) -> bytes:
    return (path + "\n").encode().ljust(size, b".")


def write_tree(root: Path, sizes: Sizes, parts: frozenset[str] = ALL_PARTS) -> int:
    """Write the data set under ``root``; returns the number of files."""
    root.mkdir(parents=True, exist_ok=True)
    for col in collections(sizes, parts):
        (root / col.strip("/")).mkdir(parents=True, exist_ok=True)
    count = 0
    for path, content in files(sizes, parts):
        (root / path.lstrip("/")).write_bytes(content)
        count += 1
    return count


def copy_tree(template: Path, dest: Path) -> None:
    """Give a file-system server its own copy (writes in one must not show in another)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(template, dest, copy_function=shutil.copy2)


def make_collections(url: str, cols: list[str]) -> None:
    """MKCOL each of ``cols`` (one that exists already is fine)."""
    with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
        for col in cols:
            r = client.request("MKCOL", col)
            if r.status_code not in (201, 405):
                raise RuntimeError(f"MKCOL {col}: {r.status_code} {r.text[:200]}")


def populate_http(url: str, sizes: Sizes, parts: frozenset[str] = ALL_PARTS,
                  threads: int = 16) -> float:
    """MKCOL every collection, then PUT every file with a pool of keep-alive clients."""
    start = time.perf_counter()
    make_collections(url, collections(sizes, parts))
    local = threading.local()
    made: list[httpx.Client] = []

    def put(item: tuple[str, bytes]) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=url, timeout=60, trust_env=False)
            made.append(local.client)
        path, content = item
        r = local.client.put(path, content=content)
        if r.status_code not in (200, 201, 204):
            raise RuntimeError(f"PUT {path}: {r.status_code} {r.text[:200]}")

    try:
        with ThreadPoolExecutor(threads) as pool:
            for done, _ in enumerate(pool.map(put, files(sizes, parts)), 1):
                if done % 5000 == 0:
                    print(f"    {done} files", file=sys.stderr)
    finally:
        for c in made:
            c.close()
    return time.perf_counter() - start
