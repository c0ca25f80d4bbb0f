"""What the benchmark scripts share: starting a throw-away ``davbind serve``, sampling
the server's resident memory, percentiles and run metadata.  Scripts, not tests: nothing
here asserts a time."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import psutil  # type: ignore[import-untyped]

HERE = Path(__file__).resolve().parent

def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

@contextmanager
def own_server(workers: int, settings: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Start ``davbind serve`` on a temp dir; yield (url, pid); SIGTERM it afterwards.
    ``settings``: ``DAVBIND_*`` environment variables for it (none is inherited)."""
    with tempfile.TemporaryDirectory(prefix="davbind-bench-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}/"
        log_path = Path(tmp) / "server.log"
        cmd = [
            sys.executable, "-m", "davbind.cli.main", "serve",
            "--host", "127.0.0.1", "--port", str(port),
            "--data", str(Path(tmp) / "data"), "--workers", str(workers),
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
        env.update(settings or {})
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp, env=env,
                start_new_session=True,
            )  # fmt: skip
        try:
            wait_ready(url, proc, log_path)
            yield url, proc.pid
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes], grace: float = 10) -> None:
    """SIGTERM a server started in a session of its own, up to ``grace`` seconds for it
    to exit, then SIGKILL to whatever is left of its session (its workers)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            print(f"the server ignored SIGTERM for {grace:g} s; killing it", file=sys.stderr)
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def tree_cpu(pid: int) -> float:
    """User + system CPU seconds so far of ``pid`` and its descendants."""
    root = psutil.Process(pid)
    total = 0.0
    for p in (root, *root.children(recursive=True)):
        with suppress(psutil.NoSuchProcess):
            times = p.cpu_times()
            total += times.user + times.system
    return total

def wait_ready(url: str, proc: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"davbind serve exited with {proc.returncode}:\n{log_path.read_text()}")
        try:
            if httpx.request("OPTIONS", url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    sys.exit(f"davbind serve did not answer OPTIONS {url} within 20 s:\n{log_path.read_text()}")

class RssSampler:
    """Peak RSS of a process and its children, sampled in a background thread."""

    def __init__(self, pid: int | None, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.before = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> int:
        if self.pid is None:
            return 0
        try:
            proc = psutil.Process(self.pid)
            procs = [proc, *proc.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with suppress(psutil.NoSuchProcess):
                total += p.memory_info().rss
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.sample())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        if self.pid is not None:
            self.before = self.peak = self.sample()
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pid is not None:
            self._stop.set()
            self._thread.join()

def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)

def write_record(out_dir: Path, name: str, record: dict[str, object]) -> Path:
    """Write ``record`` plus the run's machine and commit as ``<name>-<time>.json`` in
    ``out_dir``; returns the file (also named on stderr)."""
    record = {
        **record,
        "commit": git_commit(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = out_dir / f"{name}-{stamp}.json"
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out}", file=sys.stderr)
    return out


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=HERE, capture_output=True, text=True, timeout=5,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def run_on_server(
    args: argparse.Namespace, run: Callable[[argparse.Namespace, str, int | None], None]
) -> None:
    """Run a benchmark against ``--server-url`` (RSS from ``--server-pid``) or against a
    throw-away ``davbind serve`` with ``--workers``."""
    if args.server_url:
        url = args.server_url if args.server_url.endswith("/") else args.server_url + "/"
        run(args, url, args.server_pid)
    else:
        with own_server(args.workers) as (url, pid):
            run(args, url, pid)
