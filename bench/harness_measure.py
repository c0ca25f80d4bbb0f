"""Measurements, one server at a time: PROPFIND latency (httpx), throughput under
concurrency (wrk), large-file transfer (curl), sequential small PUTs (httpx), and the
peak RSS of the server being measured (psutil, in a background thread).

The harness interleaves servers; these functions only ever talk to the one they are given.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil  # type: ignore[import-untyped]

XML = "application/xml; charset=utf-8"
BODIES = {
    "allprop": b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>',
    "named": b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/><D:getetag/><D:getlastmodified/>"
    b"<D:displayname/>"
    b"</D:prop></D:propfind>",
}
RESPONSE_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?response[\s>]")


class Refused(Exception):
    """The server answered, but not with what the test needs (e.g. 403 to Depth infinity)."""

    def __init__(self, status: int, detail: str = "") -> None:
        super().__init__(f"{status} {detail}".strip())
        self.status = status


# --- RSS ----------------------------------------------------------------------------------


class RssMonitor:
    """Samples the process tree of the *active* server every ``interval`` seconds and keeps
    the peak per (phase, server). Set ``active`` before each request of a measured phase."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval = interval
        self.active: tuple[str, str, int] | None = None  # (phase, server, pid)
        self.peaks: dict[tuple[str, str], int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss")

    def activate(self, phase: str, server: str, pid: int) -> None:
        self.active = (phase, server, pid)
        self._record(self.active)

    def _record(self, active: tuple[str, str, int]) -> None:
        phase, server, pid = active
        rss = tree_rss(pid)
        key = (phase, server)
        if rss > self.peaks.get(key, 0):
            self.peaks[key] = rss

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            active = self.active
            if active is not None:
                self._record(active)

    def __enter__(self) -> RssMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def tree_total(pid: int, of: Callable[[Any], float]) -> float:
    """``of(process)`` summed over a process and all its descendants (0 if it is gone)."""
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += of(p)
    return total


def tree_rss(pid: int) -> int:
    """RSS of a process and all its descendants, in bytes (0 if it is gone)."""
    return int(tree_total(pid, lambda p: p.memory_info().rss))


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by a process and all its descendants."""
    return tree_total(pid, lambda p: sum(p.cpu_times()[:2]))


# --- PROPFIND latency ---------------------------------------------------------------------


@dataclass(slots=True)
class Propfind:
    seconds: float
    body: bytes
    wire_bytes: int


def propfind(client: httpx.Client, path: str, depth: str, body: bytes) -> Propfind:
    headers = {"Depth": depth, "Content-Type": XML, "Accept-Encoding": "identity"}
    start = time.perf_counter()
    r = client.request("PROPFIND", path, headers=headers, content=body)
    content = r.content
    seconds = time.perf_counter() - start
    if r.status_code != 207:
        raise Refused(r.status_code, r.reason_phrase)
    return Propfind(seconds, content, r.num_bytes_downloaded)


def count_responses(body: bytes) -> int:
    return len(RESPONSE_TAG.findall(body))


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- wrk ----------------------------------------------------------------------------------

PROPFIND_LUA = """\
wrk.method = "PROPFIND"
wrk.headers["Depth"] = "0"
wrk.headers["Content-Type"] = "application/xml; charset=utf-8"
wrk.body = [[{body}]]
"""


@dataclass(slots=True)
class WrkResult:
    requests_per_s: float
    requests: int
    non_2xx: int
    socket_errors: int
    latency_ms: dict[str, float]


def write_lua(workdir: Path) -> Path:
    path = workdir / "propfind_depth0.lua"
    path.write_text(PROPFIND_LUA.format(body=BODIES["named"].decode()))
    return path


def run_wrk(url: str, seconds: float, connections: int = 16, threads: int = 2,
            script: Path | None = None) -> WrkResult:
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds:g}s",
           "--timeout", "10s", "--latency"]
    if script is not None:
        cmd += ["-s", str(script)]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr.strip()[:300]}")
    text = out.stdout
    rps = re.search(r"Requests/sec:\s*([\d.]+)", text)
    total = re.search(r"(\d+) requests in", text)
    if rps is None or total is None:
        raise RuntimeError(f"cannot read wrk output: {text[:300]}")
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       text)
    latency = {f"p{m.group(1)}": to_ms(m.group(2))
               for m in re.finditer(r"^\s+(50|75|90|99)%\s+([\d.]+\w+)", text, re.M)}
    # "Thread Stats" line: avg, stdev, max (the slowest request of the whole run)
    stats = re.search(r"^\s+Latency\s+([\d.]+\w+)\s+([\d.]+\w+)\s+([\d.]+\w+)", text, re.M)
    if stats is not None:
        latency["avg"], latency["max"] = to_ms(stats.group(1)), to_ms(stats.group(3))
    return WrkResult(
        requests_per_s=float(rps.group(1)), requests=int(total.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        latency_ms=latency,
    )  # fmt: skip


def to_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if m is None:
        return float("nan")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[m.group(2)]
    return float(m.group(1)) * scale


# --- big file (curl) ----------------------------------------------------------------------


def make_big(path: Path, mib: int) -> None:
    chunk = os.urandom(1 << 20)
    with path.open("wb") as f:
        for _ in range(mib):
            f.write(chunk)


def refresh_big(path: Path) -> None:
    """New content for each upload (a content-addressed store must not skip a known blob)."""
    with path.open("r+b") as f:
        f.write(os.urandom(4096))


def curl(args: list[str], expect_bytes: int, ok: tuple[int, ...]) -> float:
    """Run one curl transfer; returns seconds. ``-w`` reports status, time and size."""
    fmt = "%{http_code} %{time_total} %{size_upload} %{size_download}"
    cmd = ["curl", "-sS", "--noproxy", "*", "-o", "/dev/null", "-H", "Expect:", "-w", fmt, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"curl failed: {out.stderr.strip()[:300]}")
    code, seconds, up, down = out.stdout.split()
    if int(code) not in ok:
        raise Refused(int(code))
    moved = max(float(up), float(down))
    if int(moved) != expect_bytes:
        raise RuntimeError(f"curl moved {moved:.0f} bytes, expected {expect_bytes}")
    return float(seconds)


def put_big(url: str, source: Path) -> float:
    return curl(["-T", str(source), url], source.stat().st_size, (200, 201, 204))


def get_big(url: str, size: int) -> float:
    return curl([url], size, (200,))


# --- sequential PUTs ----------------------------------------------------------------------


def sequential_puts(client: httpx.Client, paths: list[str], size: int = 1024) -> list[float]:
    """PUT each path in turn over one keep-alive connection; returns per-PUT seconds."""
    filler = os.urandom(size)
    times = []
    for path in paths:
        content = (path.encode() + b"\n" + filler)[:size]
        start = time.perf_counter()
        r = client.put(path, content=content)
        times.append(time.perf_counter() - start)
        if r.status_code not in (200, 201, 204):
            raise Refused(r.status_code, f"PUT {path}")
    return times
