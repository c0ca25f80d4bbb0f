"""Storage work never blocks the event loop (server/storage_threads.py).

Another process holds SQLite's write lock for 5 s: meanwhile OPTIONS, GET and PROPFIND
(on other resources) answer well before the lock is released, a PUT waits for it in the
writer thread without holding anything else up, and the PUT's content is there once the
lock is gone.  A real uvicorn server on a socket, so requests really overlap."""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Live

HOLD = 5.0
PROPFIND = b'<D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'


@pytest.fixture
def live(tmp_path: Path) -> Iterator[Live]:
    server = Live(tmp_path / "data")
    try:
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def write_lock_held(db: Path, seconds: float) -> Iterator[threading.Event]:
    """Hold the database's write lock from another connection for ``seconds``."""
    taken = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(db, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("ROLLBACK")
        conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert taken.wait(10)
        yield taken
    finally:
        holder.join()


def test_reads_answer_while_another_process_holds_the_write_lock(
    live: Live, tmp_path: Path
) -> None:
    c = live.http
    assert c.request("MKCOL", "/dir/").status_code == 201
    for i in range(50):
        assert c.put(f"/dir/f{i}.txt", content=b"x" * i).status_code == 201
    results: dict[str, tuple[int, float]] = {}

    def put() -> None:
        with httpx.Client(base_url=live.url, timeout=60) as w:
            t = time.monotonic()
            r = w.put("/dir/new.txt", content=b"written under the lock")
            results["PUT"] = (r.status_code, time.monotonic() - t)

    with write_lock_held(tmp_path / "data" / "meta.sqlite3", HOLD):
        started = time.monotonic()
        writer = threading.Thread(target=put)
        writer.start()
        time.sleep(0.3)  # the PUT is now waiting for the lock in the writer thread
        with httpx.Client(base_url=live.url, timeout=60) as r:
            for name, method, url, headers, body in (
                ("OPTIONS", "OPTIONS", "/", {}, None),
                ("GET", "GET", "/dir/f7.txt", {}, None),
                ("PROPFIND", "PROPFIND", "/dir/", {"Depth": "1"}, PROPFIND),
                ("HEAD", "HEAD", "/dir/f9.txt", {}, None),
            ):
                t = time.monotonic()
                resp = r.request(method, url, headers=headers, content=body)
                results[name] = (resp.status_code, time.monotonic() - t)
                if name == "GET":
                    assert resp.content == b"x" * 7
                if name == "PROPFIND":
                    assert resp.text.count("<D:response>") == 51
        reads_done = time.monotonic() - started
        assert "PUT" not in results, "the PUT cannot have committed while the lock is held"
    writer.join(60)
    assert results["OPTIONS"][0] == 200 and results["GET"][0] == 200
    assert results["PROPFIND"][0] == 207 and results["HEAD"][0] == 200
    # every read answered while the lock was still held (bounded, not timed to the ms)
    assert reads_done < HOLD - 1.0, results
    status, waited = results["PUT"]
    assert status == 201 and waited >= HOLD - 1.0
    assert live.http.get("/dir/new.txt").content == b"written under the lock"


def test_a_listing_does_not_write(live: Live, tmp_path: Path) -> None:
    """A PROPFIND of a store nobody listed before makes no commit (no stored renderings
    written back: reads never write)."""
    c = live.http
    assert c.request("MKCOL", "/d/").status_code == 201
    for i in range(20):
        c.put(f"/d/{i}", content=b"%d" % i)
    db = sqlite3.connect(tmp_path / "data" / "meta.sqlite3")
    before = db.execute("PRAGMA data_version").fetchone()[0]
    for depth in ("0", "1", "infinity"):
        assert c.request("PROPFIND", "/", headers={"Depth": depth}).status_code == 207
    assert c.get("/d/3").content == b"3"
    assert db.execute("PRAGMA data_version").fetchone()[0] == before
    db.close()
