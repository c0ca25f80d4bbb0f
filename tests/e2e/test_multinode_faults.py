"""Faults of the shared services under a running ``davbind serve``: PostgreSQL stopped and
started again, the object store unreachable.

A node answers 503 with ``Retry-After`` while a service it needs is down, within a
bounded time (no request hangs), keeps nothing of a write it could not finish, and
serves again by itself once the service is back (no restart of davbind)."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: shared helper modules
import pg_cluster
import postgres_databases

pytestmark = [pytest.mark.e2e]

POOL_WAIT = 5.0  # storage/postgres.py: how long a request waits for a connection
SLOW = POOL_WAIT + 5.0  # the bound on any answer while a service is down


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_cluster.Cluster]:
    """A private PostgreSQL: this module stops it, which must not disturb other tests."""
    made = pg_cluster.Cluster()
    yield made
    made.destroy()


def write_config(tmp_path: Path, metadata_url: str, blobs_url: str = "") -> str:
    config = tmp_path / "davbind.toml"
    lines = [f'metadata_url = "{metadata_url}"']
    if blobs_url:
        lines.append(f'blobs_url = "{blobs_url}"')
    config.write_text("\n".join(lines) + "\n")
    return str(config)


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
