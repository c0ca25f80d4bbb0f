"""Faults of the shared services under a running ``davbind serve``: PostgreSQL stopped and
started again, the object store unreachable.

A node answers 503 with ``Retry-After`` while a service it needs is down, within a
bounded time (no request hangs), keeps nothing of a write it could not finish, and
serves again by itself once the service is back (no restart of davbind)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
sys.path.insert(0, str(Path(__file__).parent))  # this directory's helper modules
import pg_cluster
import postgres_databases
from multinode_setup import write_config

pytestmark = [pytest.mark.e2e]

POOL_WAIT = 5.0  # storage/postgres.py: how long a request waits for a connection
SLOW = POOL_WAIT + 5.0  # the bound on any answer while a service is down
FAST = 3.0  # the bound once a node knows its database is down (DOWN_WAIT, 0.5 s)


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_cluster.Cluster]:
    """A private PostgreSQL: this module stops it, which must not disturb other tests."""
    made = pg_cluster.Cluster()
    yield made
    made.destroy()


def timed(send: Callable[[], httpx.Response]) -> tuple[httpx.Response, float]:
    t0 = time.monotonic()
    response = send()
    return response, time.monotonic() - t0


def assert_unavailable(response: httpx.Response, took: float, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text[:300]}"
    assert response.headers.get("retry-after", "").isdigit(), f"{what}: {response.headers}"
    assert took < SLOW, f"{what} took {took:.1f} s while the service was down"


def slow_body(parts: int, part: bytes, started: threading.Event,
              go_on: threading.Event) -> Iterator[bytes]:  # fmt: skip
    """A request body whose first part is sent at once and the rest once ``go_on`` is
    set: the request is in flight meanwhile."""
    yield part
    started.set()
    go_on.wait(60)
    for _ in range(parts - 1):
        yield part


def test_postgres_stopped_and_started_under_a_running_node(
    cluster: pg_cluster.Cluster, server_factory, tmp_path: Path, record_property
) -> None:
    url = postgres_databases.create(cluster.url, "davbind_e2e_fault_")
    config = write_config(tmp_path, url)
    try:
        with server_factory(["--config", config]) as srv, srv.client(timeout=60) as c:
            assert c.put("/kept.txt", content=b"kept").status_code == 201
            # a PUT whose body is still arriving when the database goes down
            started, go_on = threading.Event(), threading.Event()
            answer: dict[str, httpx.Response] = {}

            def upload() -> None:
                with srv.client(timeout=60) as own:
                    answer["put"] = own.put(
                        "/in-flight.bin",
                        content=slow_body(4, b"x" * 100_000, started, go_on),
                    )

            uploader = threading.Thread(target=upload)
            uploader.start()
            assert started.wait(30)
            t_stop = time.monotonic()
            cluster.stop()
            try:
                go_on.set()
                uploader.join(60)
                t_in_flight = time.monotonic() - t_stop
                assert_unavailable(answer["put"], t_in_flight, "the PUT in flight")
                durations = {}
                for method, path, body in (
                    ("GET", "/kept.txt", None), ("PUT", "/during.txt", b"during"),
                    ("PROPFIND", "/", None), ("DELETE", "/kept.txt", None),
                ):  # fmt: skip
                    response, took = timed(
                        lambda m=method, p=path, b=body: c.request(
                            m, p, content=b, headers={"Depth": "1"}
                        )
                    )
                    assert_unavailable(response, took, f"{method} {path}")
                    assert took < FAST, f"{method} {path}: {took:.1f} s after the first 503"
                    durations[method] = took
            finally:
                cluster.start()
            t_up = time.monotonic()
            while (r := c.get("/kept.txt")).status_code != 200:
                assert r.status_code == 503, r.status_code
                assert time.monotonic() - t_up < 30, "the node did not reconnect within 30 s"
                time.sleep(0.2)
            recovered = time.monotonic() - t_up
            assert r.content == b"kept"
            assert c.get("/during.txt").status_code == 404
            assert c.get("/in-flight.bin").status_code == 404
            assert c.put("/after.txt", content=b"after").status_code == 201
            assert c.get("/after.txt").content == b"after"
            record_property("pg_down_503_seconds", {k: round(v, 2) for k, v in durations.items()})
            record_property("pg_recovery_seconds", round(recovered, 2))
            print(f"503 while down: {durations}; in flight {t_in_flight:.2f} s; "
                  f"served again {recovered:.2f} s after the start returned")  # fmt: skip
    finally:
        with contextlib.suppress(Exception):
            postgres_databases.drop(cluster.url, [url])


class Cuttable:
    """A TCP forwarder on a loopback port to ``target`` that a test can cut (every
    connection reset, new ones refused) and restore: an object store that goes away and
    comes back, without stopping the one other tests share."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            sockets, self._open = self._open, []
            if self._listener is not None:
                sockets.append(self._listener)
                self._listener = None
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._open += [client, upstream]
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def test_object_store_unreachable(server_factory, tmp_path: Path, s3_blob_url: str,
                                  postgres_server: str, record_property) -> None:  # fmt: skip
    """PUT of content that needs the bucket answers 503 and commits nothing; content kept
    in the metadata (up to 64 KiB), listings and other metadata keep working."""
    parsed = urlsplit(s3_blob_url)
    endpoint = urlsplit(parse_qs(parsed.query)["endpoint"][0])
    proxy = Cuttable((endpoint.hostname or "127.0.0.1", endpoint.port or 80))
    blobs_url = urlunsplit(parsed._replace(query=f"endpoint=http://127.0.0.1:{proxy.port}"))
    server = postgres_server
    url = postgres_databases.create(server, "davbind_e2e_s3fault_")
    big = os.urandom(300_000)
    try:
        config = write_config(tmp_path, url, blobs_url)
        with server_factory(["--config", config]) as srv, srv.client(timeout=60) as c:
            assert c.put("/big.bin", content=big).status_code == 201
            assert c.put("/small.txt", content=b"small").status_code == 201
            proxy.cut()
            try:
                durations = {}
                response, durations["PUT"] = timed(
                    lambda: c.put("/new-big.bin", content=os.urandom(300_000))
                )
                assert_unavailable(response, durations["PUT"], "PUT of 300 kB")
                response, durations["PUT over"] = timed(
                    lambda: c.put("/big.bin", content=b"y" * 100_000)
                )
                assert_unavailable(response, durations["PUT over"], "PUT over a file")
                response, durations["GET"] = timed(lambda: c.get("/big.bin"))
                assert_unavailable(response, durations["GET"], "GET of content in the bucket")
                assert c.get("/small.txt").content == b"small"
                assert c.put("/small2.txt", content=b"inline").status_code == 201
                assert c.request("PROPFIND", "/", headers={"Depth": "1"}).status_code == 207
                assert c.request("MKCOL", "/folder").status_code == 201
            finally:
                proxy.restore()
            assert c.get("/new-big.bin").status_code == 404
            assert c.get("/big.bin").content == big
            again = os.urandom(300_000)
            assert c.put("/new-big.bin", content=again).status_code == 201
            assert c.get("/new-big.bin").content == again
            record_property("s3_down_503_seconds", {k: round(v, 2) for k, v in durations.items()})
            print(f"503 while the bucket is unreachable: {durations}")
    finally:
        proxy.cut()
        postgres_databases.drop(server, [url])


def test_fsck_checks_the_configured_database_and_bucket(
    server_factory, tmp_path: Path, s3_blob_url: str, postgres_server: str
) -> None:
    """``davbind fsck --config`` checks the store the configuration names (PostgreSQL and
    a bucket), not the data directory's default SQLite file and local blobs."""
    import obstore
    from obstore.store import S3Store

    server = postgres_server
    url = postgres_databases.create(server, "davbind_e2e_fsck_")
    try:
        config = write_config(tmp_path, url, s3_blob_url)
        data = tmp_path / "data"
        with server_factory(["--config", config]) as srv, srv.client() as c:
            assert c.put("/big.bin", content=os.urandom(200_000)).status_code == 201
            assert c.put("/small.txt", content=b"inline").status_code == 201

        def fsck(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [sys.executable, "-m", "davbind.cli.main", "fsck", str(data), *args],
                capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip

        clean = fsck("--config", config)
        assert clean.returncode == 0, clean.stderr
        assert "0 damaged" in clean.stderr
        assert fsck("--config", config, "--quick").returncode == 0
        parsed = urlsplit(s3_blob_url)
        bucket = S3Store(
            parsed.netloc, prefix=parsed.path.strip("/"), client_options={"allow_http": True},
            config={"endpoint": parse_qs(parsed.query)["endpoint"][0]},
        )  # fmt: skip
        data_keys = [m["path"] for batch in obstore.list(bucket) for m in batch
                     if m["path"].startswith("data/")]  # fmt: skip
        assert len(data_keys) == 1
        obstore.delete(bucket, data_keys[0])
        for mode in ((), ("--quick",)):
            damaged = fsck("--config", config, *mode)
            assert damaged.returncode == 1, (mode, damaged.stderr)
            assert "/big.bin" in damaged.stdout and "missing" in damaged.stdout
            assert "small.txt" not in damaged.stdout
    finally:
        postgres_databases.drop(server, [url])
