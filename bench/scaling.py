#!/usr/bin/env python3
"""What a request costs the shared services, and the limits of the single writer
(docs/scaling.md).  Runs ``davbind serve`` nodes on postgresql+s3 and measures:

* ``costs``: SQL round trips and S3 requests per request (PUT 4 KiB, which is kept
  inline, PUT 1 MiB, GET of each, PROPFIND Depth 1 of 100 and of 1,000 members).  Both
  are counted by proxies between the node and the service: the PostgreSQL one counts
  the client's ``Query`` and ``Sync`` messages (each is one wait for the server), the S3
  one counts HTTP requests;
* ``puts``: PUT/s of 4 KiB files with 1 node and with 2 nodes (one worker each) sharing
  one database, ``--clients`` concurrent clients in total;
* ``copy``: PUT latency while a COPY (Depth infinity) of a 10,000-member collection runs;
* ``gets``: GET/s of one 4 KiB file with wrk (``--clients`` connections in total), from 1
  node and from 2 nodes (one worker each) sharing one database and bucket: both nodes
  run throughout; "1 node" is one wrk on node 1, "2 nodes" two wrk processes started
  together, half the connections each, one per node (their req/s added).  The two
  alternate for ``--rounds`` rounds, so drift of a shared machine hits both alike.

    python bench/scaling.py --postgres postgresql://davbind@127.0.0.1:5432/postgres \\
        --s3 's3://bucket/prefix?endpoint=http://127.0.0.1:8333' [costs|puts|copy|gets ...]

``--postgres`` names a server on which throwaway databases are created (and dropped);
credentials for S3 come from the ``AWS_*`` variables.  Prints one JSON line per figure.
Scripts, not tests: nothing asserts a time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import struct
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, suppress
from http.client import HTTPConnection
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import httpx
import psutil

sys.path.insert(0, os.path.dirname(__file__))
from benchkit import own_server, percentile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import postgres_databases


class PgCounter:
    """A TCP proxy to PostgreSQL counting the client's round trips (``Q`` and ``S``
    messages: after each the client waits for ``ReadyForQuery``)."""

    def __init__(self, host: str, port: int) -> None:
        self.upstream = (host, port)
        self.trips = 0
        self._lock = threading.Lock()
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.sock.accept()
            server = socket.create_connection(self.upstream)
            threading.Thread(target=self._up, args=(client, server), daemon=True).start()
            threading.Thread(target=_pipe, args=(server, client), daemon=True).start()

    def _up(self, client: socket.socket, server: socket.socket) -> None:
        buf, started = b"", False
        while data := _recv(client):
            server.sendall(data)
            buf += data
            while True:
                if not started:  # the startup message has no type byte
                    if len(buf) < 4:
                        break
                    (n,) = struct.unpack("!i", buf[:4])
                    if len(buf) < n:
                        break
                    buf, started = buf[n:], True
                    continue
                if len(buf) < 5:
                    break
                kind, (n,) = buf[:1], struct.unpack("!i", buf[1:5])
                if len(buf) < 1 + n:
                    break
                if kind in (b"Q", b"S"):
                    with self._lock:
                        self.trips += 1
                buf = buf[1 + n :]
        _close(client, server)


def _recv(sock: socket.socket) -> bytes:
    try:
        return sock.recv(65536)
    except OSError:
        return b""


def _close(*socks: socket.socket) -> None:
    for s in socks:
        with suppress(OSError):
            s.shutdown(socket.SHUT_RDWR)


def _pipe(src: socket.socket, dst: socket.socket) -> None:
    while data := _recv(src):
        try:
            dst.sendall(data)
        except OSError:
            break
    _close(src, dst)


class S3Counter:
    """An HTTP proxy to the S3 endpoint counting requests (the Host header is passed
    through unchanged, so signatures stay valid)."""

    def __init__(self, endpoint: str) -> None:
        up = urlsplit(endpoint)
        counter = self
        self.requests = 0
        self._lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                with counter._lock:
                    counter.requests += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=60)
                conn.putrequest(self.command, self.path, skip_host=True,
                                skip_accept_encoding=True)  # fmt: skip
                for k, v in self.headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body)
                answer = conn.getresponse()
                data = answer.read()
                self.send_response_only(answer.status, answer.reason)
                for k, v in answer.getheaders():
                    if k.lower() not in ("transfer-encoding", "content-length", "connection"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def _s3_url(base: str, endpoint: str | None = None) -> str:
    """A fresh prefix of ``base``, through ``endpoint`` if given."""
    parts = urlsplit(base)
    query = parse_qs(parts.query)
    if endpoint:
        query["endpoint"] = [endpoint]
    path = f"{parts.path.rstrip('/')}/scaling-{uuid.uuid4().hex[:8]}"
    return urlunsplit(parts._replace(path=path, query=urlencode(query, doseq=True)))


@contextmanager
def database(server: str) -> Iterator[str]:
    url = postgres_databases.create(server, "davbind_bench_")
    try:
        yield url
    finally:
        postgres_databases.drop(server, [url])


def _settings(meta: str, blobs: str) -> dict[str, str]:
    return {"DAVBIND_METADATA_URL": meta, "DAVBIND_BLOBS_URL": blobs}


def _emit(record: dict[str, object]) -> None:
    print(json.dumps(record), flush=True)


def costs(args: argparse.Namespace) -> None:
    s3_endpoint = parse_qs(urlsplit(args.s3).query)["endpoint"][0]
    s3 = S3Counter(s3_endpoint)
    with database(args.postgres) as db:
        parts = urlsplit(db)
        pg = PgCounter(parts.hostname or "127.0.0.1", parts.port or 5432)
        netloc = f"{parts.username}@127.0.0.1:{pg.port}"
        proxied = urlunsplit(parts._replace(netloc=netloc,
                                            query="sslmode=disable&gssencmode=disable"))
        blobs = _s3_url(args.s3, f"http://127.0.0.1:{s3.port}")
        with own_server(1, _settings(proxied, blobs)) as (url, _), httpx.Client(base_url=url) as c:
            for size in (100, 1000):
                c.request("MKCOL", f"d{size}/")
                for i in range(size):
                    c.put(f"d{size}/f{i}", content=b"x" * 100)

            def measure(name: str, method: str, path: str, body: bytes | None = None,
                        headers: dict[str, str] | None = None, n: int = 20) -> None:  # fmt: skip
                trips, reqs = pg.trips, s3.requests
                for i in range(n):
                    r = c.request(method, path.format(i=i), content=body, headers=headers)
                    assert r.status_code < 300, (method, path, r.status_code)
                _emit({"figure": "cost", "request": name,
                       "sql_round_trips": (pg.trips - trips) / n,
                       "s3_requests": (s3.requests - reqs) / n})  # fmt: skip

            small, big = os.urandom(4096), os.urandom(1 << 20)
            measure("PUT 4 KiB (new)", "PUT", "s{i}", small)
            measure("PUT 4 KiB (overwrite)", "PUT", "s0", small)
            measure("PUT 1 MiB (new)", "PUT", "b{i}", big)
            measure("GET 4 KiB", "GET", "s{i}")
            measure("GET 1 MiB", "GET", "b{i}")
            depth1 = {"Depth": "1"}
            measure("PROPFIND Depth 1, 100 members", "PROPFIND", "d100/", headers=depth1)
            measure("PROPFIND Depth 1, 1000 members", "PROPFIND", "d1000/", headers=depth1,
                    n=5)  # fmt: skip


async def _put_load(urls: list[str], clients: int, seconds: float,
                    latencies: list[tuple[float, float]]) -> int:  # fmt: skip
    """PUT 4 KiB files for ``seconds``, round robin over ``urls``; records (start time,
    latency) of each; returns the PUTs done."""
    body = b"y" * 4096
    stop = time.perf_counter() + seconds
    done = 0

    async def client(n: int) -> None:
        nonlocal done
        async with httpx.AsyncClient(base_url=urls[n % len(urls)], timeout=120) as c:
            i = 0
            while time.perf_counter() < stop:
                began = time.perf_counter()
                r = await c.put(f"load/c{n}-{i}", content=body)
                assert r.status_code == 201, r.status_code
                latencies.append((began, time.perf_counter() - began))
                done += 1
                i += 1

    await asyncio.gather(*(client(n) for n in range(clients)))
    return done


def puts(args: argparse.Namespace) -> None:
    for nodes in (1, 2):
        with database(args.postgres) as db, ExitStack() as stack:
            blobs = _s3_url(args.s3)
            urls = [stack.enter_context(own_server(1, _settings(db, blobs)))[0]
                    for _ in range(nodes)]  # fmt: skip
            httpx.request("MKCOL", urls[0] + "load/")
            lat: list[tuple[float, float]] = []
            began = time.perf_counter()
            done = asyncio.run(_put_load(urls, args.clients, args.seconds, lat))
            wall = time.perf_counter() - began
            ms = sorted(x[1] * 1000 for x in lat)
            _emit({"figure": "puts", "nodes": nodes, "clients": args.clients,
                   "puts_per_s": round(done / wall, 1), "p50_ms": round(percentile(ms, 0.5), 1),
                   "p99_ms": round(percentile(ms, 0.99), 1)})  # fmt: skip


def _fill(db: str, blobs: str, members: int) -> None:
    """``big/`` with ``members`` small files, written straight into the store."""
    from davbind.storage.open import open_blobs, open_metadata

    store = open_metadata(db, open_blobs(blobs))
    try:
        with store.write() as txn:
            home = txn.create(txn.root_key, "big", collection=True).key
            digest, size = txn.store_inline(b"z" * 100)
            for i in range(members):
                txn.create(home, f"m{i:05d}", collection=False, digest=digest, size=size)
    finally:
        store.close()


def copy(args: argparse.Namespace) -> None:
    with database(args.postgres) as db:
        blobs = _s3_url(args.s3)
        _fill(db, blobs, args.members)
        with own_server(1, _settings(db, blobs)) as (url, _):
            httpx.request("MKCOL", url + "load/")
            lat: list[tuple[float, float]] = []
            window: list[float] = []

            def do_copy() -> None:
                time.sleep(args.seconds / 3)
                began = time.perf_counter()
                r = httpx.request("COPY", url + "big/", timeout=600,
                                  headers={"Destination": url + "big-copy/"})  # fmt: skip
                assert r.status_code == 201, r.status_code
                window.extend((began, time.perf_counter()))

            copier = threading.Thread(target=do_copy)
            copier.start()
            asyncio.run(_put_load([url], args.clients, args.seconds, lat))
            copier.join()
            start, end = window
            during = sorted(d * 1000 for t, d in lat if start <= t <= end or start <= t + d <= end)
            before = sorted(d * 1000 for t, d in lat if t + d < start)
            _emit({"figure": "copy", "members": args.members,
                   "copy_s": round(end - start, 2), "puts_during": len(during),
                   "put_p50_ms_before": round(percentile(before, 0.5), 1),
                   "put_max_ms_before": round(max(before), 1),
                   "put_p50_ms_during": round(percentile(during, 0.5), 1) if during else None,
                   "put_max_ms_during": round(max(during), 1) if during else None})  # fmt: skip


def _wrk(urls: list[str], seconds: float, connections: int) -> float:
    """Total req/s of one wrk per URL, started together, sharing ``connections``."""
    from harness_measure import run_wrk

    results: list[float] = []
    errors: list[str] = []

    def one(url: str) -> None:
        res = run_wrk(url, seconds, connections=connections // len(urls),
                      threads=max(1, 2 // len(urls)))  # fmt: skip
        if res.non_2xx or res.socket_errors:
            errors.append(f"{url}: {res.non_2xx} non-2xx, {res.socket_errors} socket errors")
        results.append(res.requests_per_s)

    threads = [threading.Thread(target=one, args=(u,)) for u in urls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors or len(results) != len(urls):
        sys.exit("wrk: " + "; ".join(errors or ["a wrk run failed"]))
    return sum(results)


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        with suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _backends(db: str) -> list[psutil.Process]:
    """The PostgreSQL server processes serving connections to ``db`` (not this one's)."""
    import psycopg

    with psycopg.connect(db) as conn:
        rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = "
                            "current_database() AND pid <> pg_backend_pid()").fetchall()
    return [psutil.Process(pid) for (pid,) in rows]


def gets(args: argparse.Namespace) -> None:
    """Also reports the CPU time per request of the nodes and of the PostgreSQL backends
    serving them."""
    with database(args.postgres) as db, ExitStack() as stack:
        blobs = _s3_url(args.s3)
        started = [stack.enter_context(own_server(1, _settings(db, blobs))) for _ in (1, 2)]
        urls = [url for url, _ in started]
        node_procs = [psutil.Process(pid) for _, pid in started]
        node_procs += [c for p in node_procs for c in p.children(recursive=True)]
        r = httpx.put(urls[0] + "small.bin", content=os.urandom(4096))
        assert r.status_code == 201, r.status_code
        targets = [u + "small.bin" for u in urls]
        _wrk(targets, 1, args.clients)  # warm-up: connections, caches, both nodes
        pg_procs = _backends(db)  # after the warm-up: the nodes' connections are open
        rounds: dict[int, list[float]] = {1: [], 2: []}
        cpu: dict[int, list[tuple[float, float]]] = {1: [], 2: []}  # per request: node, pg
        for r_ in range(args.rounds):
            for nodes in (1, 2) if r_ % 2 == 0 else (2, 1):
                node0, pg0 = _cpu_seconds(node_procs), _cpu_seconds(pg_procs)
                rps = _wrk(targets[:nodes], args.seconds, args.clients)
                done = rps * args.seconds
                cpu[nodes].append(((_cpu_seconds(node_procs) - node0) / done,
                                   (_cpu_seconds(pg_procs) - pg0) / done))  # fmt: skip
                rounds[nodes].append(rps)
        for nodes, rps in rounds.items():
            _emit({"figure": "gets", "nodes": nodes, "connections": args.clients,
                   "rounds_rps": [round(x) for x in rps],
                   "median_rps": round(statistics.median(rps)),
                   "node_cpu_us_per_request": round(statistics.median(c[0] for c in cpu[nodes])
                                                    * 1e6),
                   "postgres_cpu_us_per_request": round(
                       statistics.median(c[1] for c in cpu[nodes]) * 1e6),
                   "load_average": os.getloadavg()})  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="PostgreSQL server URL")
    parser.add_argument("--s3", required=True, help="s3://bucket/prefix?endpoint=…")
    parser.add_argument("--seconds", type=float, default=15.0, help="per load run")
    parser.add_argument("--clients", type=int, default=16, help="concurrent PUT clients")
    parser.add_argument("--members", type=int, default=10_000, help="of the copied collection")
    parser.add_argument("--rounds", type=int, default=5, help="gets: rounds of each")
    parser.add_argument("figures", nargs="*", default=["costs", "puts", "copy", "gets"])
    args = parser.parse_args()
    runs = {"costs": costs, "puts": puts, "copy": copy, "gets": gets}
    for name in args.figures:
        runs[name](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
