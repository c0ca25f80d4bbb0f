"""Access log, health and metrics of a real ``davbind serve`` process.

What must hold: with ``--workers 2 --metrics-port P`` a scrape of the metrics listener
counts the requests every worker answered (prometheus-client's multiprocess mode) and
reports the store's size; the values' temporary directory is gone after shutdown; each
worker writes whole JSON access lines; with one worker the metrics still count (the
multiprocess directory is named before the app imports prometheus-client); the access
log and the info messages can be turned off.
"""

from __future__ import annotations

import json
import os
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest

pytestmark = pytest.mark.e2e

HEALTH = "/.well-known/davbind/health"
BODY = os.urandom(100 * 1024)  # above the size kept inside the database: a blob file


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _scrape(port: int) -> dict[str, float]:
    """``name{labels}`` -> value, from the text exposition format."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            values[key] = float(value)
    return values


def _fresh_get(url: str) -> httpx.Response:
    """A GET on a connection of its own, so the kernel may hand it to either worker."""
    with httpx.Client(timeout=10) as c:
        return c.get(url)


def _access_lines(log: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]


def test_metrics_add_up_both_workers(server_factory) -> None:
    mport = _port()
    args = ["--workers", "2", "--metrics-port", str(mport), "--access-log-format", "json"]
    with server_factory(args) as srv:
        workers = [p for p in psutil.Process(srv.proc.pid).children()
                   if "spawn_main" in " ".join(p.cmdline())]  # not the resource tracker
        directories = {w.environ().get("PROMETHEUS_MULTIPROC_DIR") for w in workers}
        assert len(workers) == 2 and len(directories) == 1
        directory = directories.pop()
        assert directory and Path(directory).is_dir()

        # health until both workers have answered (each names its pid)
        pids: set[int] = set()
        health = 0
        with ThreadPoolExecutor(8) as pool:
            while len(pids) < 2 and health < 400:
                for r in pool.map(_fresh_get, [srv.url_for(HEALTH)] * 8):
                    assert r.status_code == 200 and r.json()["status"] == "ok"
                    pids.add(r.json()["pid"])
                    health += 1
        assert pids == {w.pid for w in workers}, "one worker answered every request"

        with srv.client() as c:
            assert c.put("/f.bin", content=BODY).status_code == 201
            assert c.put("/small.txt", content=b"small").status_code == 201
        with ThreadPoolExecutor(4) as pool:
            answers = list(pool.map(_fresh_get, [srv.url_for("/f.bin")] * 20))
            small = list(pool.map(_fresh_get, [srv.url_for("/small.txt")] * 10))
        assert all(r.content == BODY for r in answers)
        assert all(r.content == b"small" for r in small)

        m = _scrape(mport)
        assert m['davbind_http_requests_total{method="GET",status="2xx"}'] == health + 30
        assert m['davbind_http_requests_total{method="PUT",status="2xx"}'] == 2
        assert m['davbind_http_request_body_bytes_total{method="PUT"}'] == len(BODY) + 5
        assert m['davbind_http_response_body_bytes_total{method="GET"}'] >= 20 * len(BODY)
        assert m['davbind_http_request_duration_seconds_count{method="GET",status="2xx"}'] == (
            health + 30)  # fmt: skip
        assert m["davbind_http_requests_in_flight"] == 0
        assert m['davbind_store_bytes{part="blobs"}'] >= len(BODY)
        assert m['davbind_store_bytes{part="metadata"}'] > 0
        # every GET of the small file asks the cache; each worker misses it once at most
        hits, misses = (m[f"davbind_small_blob_cache_{k}_total"] for k in ("hits", "misses"))
        assert hits + misses == 10 and hits >= 8

        deadline = time.monotonic() + 5
        while len([x for x in _access_lines(srv.log_path) if x["path"] == "/f.bin"]) < 21:
            assert time.monotonic() < deadline, srv.log_tail()
            time.sleep(0.05)
        lines = [x for x in _access_lines(srv.log_path) if x["path"] == "/f.bin"]
        gets = [x for x in lines if x["method"] == "GET"]
        assert len(gets) == 20 and all(x["bytes_out"] == len(BODY) for x in gets)
        assert [x["bytes_in"] for x in lines if x["method"] == "PUT"] == [len(BODY)]
    assert not Path(directory).exists(), "the metrics directory outlived the server"


def test_one_worker_metrics_and_quiet_logs(server_factory) -> None:
    mport = _port()
    args = ["--metrics-port", str(mport), "--no-access-log", "--log-level", "warning"]
    with server_factory(args) as srv:
        with srv.client() as c:
            for _ in range(3):
                assert c.get(HEALTH).status_code == 200
            assert c.get("/nothing").status_code == 404
        m = _scrape(mport)
        assert m['davbind_http_requests_total{method="GET",status="2xx"}'] == 3
        assert m['davbind_http_requests_total{method="GET",status="4xx"}'] == 1
        log = srv.log_path.read_text()
        files = [f.path for f in psutil.Process(srv.proc.pid).open_files()]
        directory = next(Path(f).parent for f in files if "davbind-metrics-" in f)
        assert directory.is_dir()
    assert not directory.exists(), "the metrics directory outlived the server"
    assert HEALTH not in log and "/nothing" not in log  # no access lines
    assert "INFO" not in log  # uvicorn's start-up messages are info


def test_metrics_port_taken_is_a_clear_error(tmp_path: Path) -> None:
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        mport = taken.getsockname()[1]
        r = subprocess.run(
            [sys.executable, "-m", "davbind.cli.main", "serve", "--port", str(_port()),
             "--data", str(tmp_path / "d"), "--metrics-port", str(mport)],
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert r.returncode == 1
    assert f"cannot serve metrics on http://127.0.0.1:{mport}/" in r.stderr
    assert "Traceback" not in r.stderr
