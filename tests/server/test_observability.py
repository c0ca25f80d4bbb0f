"""The observability middleware (server/observability.py) in front of davbind's app, served
by uvicorn with the zero-copy seam on a real socket (from a thread of the test process).

What must hold: one access line per request, text or JSON, with the status, the response
body bytes as sent (streamed chunks and ``sendfile`` bytes counted), the request body
bytes, the path as received and the principal the scope carries; no credential ever
reaches the log; the health endpoint answers 200 while the store answers a read and 503
with the error when it fails or hangs; metrics count requests, bytes and cache hits.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import random
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from davbind.server.access_log import USER_KEY, AccessLog
from davbind.server.app import HANDLERS, App, build_services
from davbind.server.health import PATH as HEALTH
from davbind.server.health import Health
from davbind.server.http import ZEROCOPY
from davbind.server.observability import observe
from davbind.server.settings import Settings
from davbind.server.storage_threads import StorageThreads

sys.path.insert(0, str(Path(__file__).parent))
from live_server import Served

MIB = 1024 * 1024
BIG = random.Random(3).randbytes(6 * MIB + 77)  # sent with sendfile(2)
SMALL = random.Random(4).randbytes(4096)
TEXT_LINE = re.compile(
    r'^(?P<client>\S+) - (?P<user>\S+) \[(?P<time>[^]]+)\] "(?P<request>(?:[^"\\]|\\.)*)" '
    r'(?P<status>\d{3}) (?P<out>\d+) "(?P<referer>(?:[^"\\]|\\.)*)" '
    r'"(?P<agent>(?:[^"\\]|\\.)*)" (?P<in>\d+) (?P<ms>\d+\.\d{3})$'
)


class Lines:
    """Collects the access lines as written (whole lines per write)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, data: bytes) -> None:
        assert data.endswith(b"\n")
        self.lines.extend(data.decode().splitlines())


class Spy:
    """Between the middleware and the app: records the message types the app sends and
    sets the principal when asked, as authentication will."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.sent: list[dict[str, Any]] = []
        self.principal: str | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.principal is not None and scope["type"] == "http":
            scope[USER_KEY] = self.principal

        async def spying(message: Any) -> None:
            if message["type"] != "http.response.body":
                self.sent.append({k: v for k, v in message.items() if k != "file"})
            await send(message)

        await self.app(scope, receive, spying)


class Site:
    """davbind behind the observability middleware, served; access lines collected."""

    def __init__(self, data_dir: Path, fmt: str = "text", **settings: Any) -> None:
        self.settings = Settings(data_dir=str(data_dir), **settings).resolved()
        services = build_services(self.settings)
        self.spy = Spy(App(services))
        self.observed = observe(self.spy, services, HANDLERS)
        self.handler = Lines()
        self.observed.access = AccessLog(fmt, self.handler)
        self.served = Served(self.observed, lifespan="on")
        self.http = httpx.Client(base_url=self.served.url, timeout=30)

    @property
    def lines(self) -> list[str]:
        return self.handler.lines

    def wait(self, n: int) -> list[str]:
        """The access lines, once ``n`` are written (each right after its answer)."""
        deadline = time.monotonic() + 5
        while len(self.lines) < n:
            assert time.monotonic() < deadline, f"{len(self.lines)} access lines, not {n}"
            time.sleep(0.01)
        time.sleep(0.05)  # and no more come
        return self.lines

    def last(self) -> str:
        """The access line of the only request since ``fresh()``."""
        return self.wait(1)[-1]

    def fresh(self) -> None:
        self.lines.clear()
        self.spy.sent.clear()

    def close(self) -> None:
        self.http.close()
        self.served.stop()


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path / "data")
    yield s
    s.close()


@pytest.fixture
def json_site(tmp_path: Path) -> Iterator[Site]:
    s = Site(tmp_path / "data", "json")
    yield s
    s.close()


def text_fields(line: str) -> dict[str, str]:
    m = TEXT_LINE.match(line)
    assert m, f"not an access line: {line!r}"
    return m.groupdict()


# -- the access line ---------------------------------------------------------------------


def test_text_line_of_a_get(site: Site) -> None:
    assert site.http.put("/a%20b.bin", content=SMALL).status_code == 201
    site.fresh()
    r = site.http.get("/a%20b.bin?x=1", headers={"User-Agent": "probe/1.0", "Referer": "/r"})
    assert r.status_code == 200 and r.content == SMALL
    f = text_fields(site.last())
    assert f["client"] == "127.0.0.1"
    assert f["user"] == "-"
    assert f["request"] == "GET /a%20b.bin?x=1 HTTP/1.1"  # as received, not decoded
    assert (f["status"], f["out"], f["in"]) == ("200", "4096", "0")
    assert (f["referer"], f["agent"]) == ("/r", "probe/1.0")
    assert re.fullmatch(r"\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}", f["time"])
    assert 0 < float(f["ms"]) < 10_000


def test_json_line_of_a_get_and_a_put(json_site: Site) -> None:
    site = json_site
    assert site.http.put("/x.bin", content=SMALL).status_code == 201
    put = json.loads(site.last())
    assert (put["method"], put["status"], put["bytes_in"], put["bytes_out"]) == (
        "PUT", 201, 4096, 0)  # fmt: skip
    site.fresh()
    r = site.http.get("/x.bin", headers={"User-Agent": b'evil"\t{"status":1}\xc3\xa9'})
    assert r.status_code == 200
    assert len(site.wait(1)) == 1
    got = json.loads(site.last())
    assert got["method"] == "GET" and got["path"] == "/x.bin"
    assert (got["status"], got["bytes_out"], got["bytes_in"]) == (200, 4096, 0)
    assert got["user"] == "-" and got["client"] == "127.0.0.1"
    assert got["user_agent"] == 'evil"\t{"status":1}é'
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", got["time"])
    assert isinstance(got["duration_ms"], float) and got["duration_ms"] >= 0


def test_text_line_escapes_what_the_client_sent(site: Site) -> None:
    r = site.http.get("/nothing", headers={"User-Agent": b'a"b\\c\tz\xc3\xa9'})
    assert r.status_code == 404
    f = text_fields(site.last())
    assert f["agent"] == 'a\\"b\\\\c\\x09z\\xc3\\xa9'
    assert f["status"] == "404"


def _seed_members(site: Site, n: int) -> None:
    """``/many/`` with ``n`` member collections, written straight to the store (faster
    than ``n`` MKCOLs; the test thread is not the event loop)."""
    store = site.observed.health.threads.store
    with store.write() as txn:
        many = txn.create(txn.root_key, "many", collection=True)
        for i in range(n):
            txn.create(many.key, f"member-{i:05d}", collection=True)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_streamed_propfind_counts_every_chunk(tmp_path: Path, fmt: str) -> None:
    site = Site(tmp_path / "data", fmt)
    try:
        _seed_members(site, 3000)
        body = b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:allprop/></D:propfind>'
        site.fresh()
        r = site.http.request("PROPFIND", "/many/", headers={"Depth": "1"}, content=body)
        assert r.status_code == 207
        assert "content-length" not in r.headers  # streamed: chunked, several chunks
        assert len(r.content) > 3 * 256 * 1024
        line = site.last()
        if fmt == "json":
            got = json.loads(line)
            status, out, got_in = got["status"], got["bytes_out"], got["bytes_in"]
        else:
            f = text_fields(line)
            assert f["request"] == "PROPFIND /many/ HTTP/1.1"
            status, out, got_in = int(f["status"]), int(f["out"]), int(f["in"])
        assert (status, out, got_in) == (207, len(r.content), len(body))
    finally:
        site.close()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_zero_copy_get_counts_the_sendfile_bytes(tmp_path: Path, fmt: str) -> None:
    site = Site(tmp_path / "data", fmt)
    try:
        assert site.http.put("/big.bin", content=BIG).status_code == 201
        site.fresh()
        r = site.http.get("/big.bin")
        assert r.content == BIG
        zerocopy = [m for m in site.spy.sent if m["type"] == ZEROCOPY]
        assert [m["count"] for m in zerocopy] == [len(BIG)]  # it did go out with sendfile
        line = site.last()
        out = json.loads(line)["bytes_out"] if fmt == "json" else int(text_fields(line)["out"])
        assert out == len(BIG)
        site.fresh()
        r = site.http.get("/big.bin", headers={"Range": f"bytes=1000-{3 * MIB}"})
        assert r.status_code == 206 and r.content == BIG[1000 : 3 * MIB + 1]
        line = site.last()
        out = json.loads(line)["bytes_out"] if fmt == "json" else int(text_fields(line)["out"])
        assert out == 3 * MIB + 1 - 1000
        site.fresh()
        assert site.http.head("/big.bin").status_code == 200
        line = site.last()
        out = json.loads(line)["bytes_out"] if fmt == "json" else int(text_fields(line)["out"])
        assert out == 0
    finally:
        site.close()


def test_no_credentials_in_the_log(tmp_path: Path) -> None:
    secret = "s3cr3t-Pa55"
    token = base64.b64encode(f"alice:{secret}".encode()).decode()
    for fmt in ("text", "json"):
        site = Site(tmp_path / f"data-{fmt}", fmt)
        try:
            site.http.put("/f", content=b"x")
            auth = {"Authorization": f"Basic {token}", "Cookie": f"session={secret}"}
            assert site.http.get("/f", headers=auth).status_code == 200
            site.http.get(f"http://alice:{secret}@127.0.0.1:{site.served.port}/f")
            site.spy.principal = "alice"  # what authentication will set
            assert site.http.get("/f", headers=auth).status_code == 200
            text = "\n".join(site.wait(4))
            assert len(site.lines) == 4
            for leak in (secret, token, "Basic", "session="):
                assert leak not in text, (leak, text)
            last = site.lines[-1]
            user = json.loads(last)["user"] if fmt == "json" else text_fields(last)["user"]
            assert user == "alice"
        finally:
            site.close()


def test_principal_with_a_space_stays_one_field(site: Site) -> None:
    site.spy.principal = "Jane Doe"
    site.http.get("/")
    assert text_fields(site.last())["user"] == "Jane\\x20Doe"


def test_access_log_on_by_default_and_off_when_asked(tmp_path: Path) -> None:
    for on in (True, False):
        settings = Settings(data_dir=str(tmp_path / "d"), access_log=on).resolved()
        services = build_services(settings)
        try:
            observed = observe(App(services), services, HANDLERS)
            assert (observed.access is not None) is on
        finally:
            services.threads.close()
            services.store.close()
    assert Settings().access_log is True


# -- health ------------------------------------------------------------------------------


def test_health_ok(site: Site) -> None:
    r = site.http.get(HEALTH)
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    doc = r.json()
    assert doc["status"] == "ok" and doc["store"] == "ok" and doc["duration_ms"] >= 0
    head = site.http.head(HEALTH)
    assert head.status_code == 200 and head.content == b""
    post = site.http.post(HEALTH)
    assert post.status_code == 405 and post.headers["allow"] == "GET, HEAD"
    site.wait(3)
    assert '"GET /.well-known/davbind/health HTTP/1.1" 200' in site.lines[0]


class FailingStore:
    """A metadata store whose reads fail like a broken disk, or hang until released."""

    def __init__(self, hang: threading.Event | None = None) -> None:
        self.hang = hang
        self.reads = 0

    @contextlib.contextmanager
    def read(self) -> Iterator[Any]:
        self.reads += 1
        if self.hang is not None:
            self.hang.wait(10)
        raise sqlite3.OperationalError("disk I/O error")
        yield  # pragma: no cover

    def close(self) -> None:
        pass


def _swap_health(site: Site, store: Any, timeout: float = 2.0) -> StorageThreads:
    threads = StorageThreads(store)  # type: ignore[arg-type]
    site.observed.health = Health(threads, timeout=timeout)
    return threads


def test_health_503_when_the_store_fails(site: Site) -> None:
    threads = _swap_health(site, FailingStore())
    try:
        r = site.http.get(HEALTH)
        assert r.status_code == 503
        assert r.json() == {"status": "error", "error": "OperationalError: disk I/O error"}
        assert site.http.head(HEALTH).status_code == 503
        assert site.http.get("/").status_code == 200  # the real store still serves
    finally:
        threads.close()


def test_health_503_in_bounded_time_when_the_store_hangs(site: Site) -> None:
    release = threading.Event()
    store = FailingStore(hang=release)
    threads = _swap_health(site, store, timeout=0.3)
    try:
        t0 = time.monotonic()
        rs = asyncio.run(_many(site.served.url, 5))
        assert time.monotonic() - t0 < 3
        assert [r.status_code for r in rs] == [503] * 5
        assert "within 0.3 s" in rs[0].json()["error"]
        assert store.reads == 1  # concurrent probes share one read: one thread tied up
        assert site.http.get("/").status_code == 200  # the event loop was never blocked
    finally:
        release.set()
        threads.close()


async def _many(url: str, n: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url) as c:
        return list(await asyncio.gather(*(c.get(HEALTH) for _ in range(n))))


# -- metrics (in-process; the multiprocess listener is tested end to end) ----------------


def _sample(site: Site, name: str, **labels: str) -> float:
    registry = site.observed.metrics.registry  # type: ignore[union-attr]
    value = registry.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_metrics_count_requests_bytes_and_cache_hits(tmp_path: Path) -> None:
    site = Site(tmp_path / "data", metrics_port=9)
    fresh = os.urandom(4096)  # not in the process-wide cache from an earlier test
    try:
        site.http.put("/s.bin", content=fresh)
        for _ in range(3):
            assert site.http.get("/s.bin").content == fresh
        site.http.get("/missing")
        site.http.request("PATCH", "/")  # not a method davbind implements: 501
        get2 = {"method": "GET", "status": "2xx"}
        assert _sample(site, "davbind_http_requests_total", **get2) == 3
        assert _sample(site, "davbind_http_requests_total", method="GET", status="4xx") == 1
        assert _sample(site, "davbind_http_requests_total", method="other", status="5xx") == 1
        assert _sample(site, "davbind_http_requests_total", method="PUT", status="2xx") == 1
        assert _sample(site, "davbind_http_request_duration_seconds_count", **get2) == 3
        assert _sample(site, "davbind_http_request_body_bytes_total", method="PUT") == 4096
        out = _sample(site, "davbind_http_response_body_bytes_total", method="GET")
        assert out >= 3 * 4096
        # the first GET reads the content and remembers it, the next two are hits
        assert _sample(site, "davbind_small_blob_cache_hits_total") >= 2
        assert _sample(site, "davbind_small_blob_cache_misses_total") >= 1
        # a listing keeps its members' texts; the same listing again uses them
        for _ in range(2):
            r = site.http.request("PROPFIND", "/", headers={"Depth": "1"})
            assert r.status_code == 207
        assert _sample(site, "davbind_listing_cache_misses_total") >= 1
        assert _sample(site, "davbind_listing_cache_hits_total") >= 1
        assert _sample(site, "davbind_http_requests_in_flight") == 0
    finally:
        site.close()


def test_in_flight_counts_a_running_request(tmp_path: Path) -> None:
    site = Site(tmp_path / "data", metrics_port=9)
    try:

        async def slow_body() -> Any:
            yield b"a"
            await asyncio.sleep(0.5)
            yield b"b"

        async def run() -> tuple[int, float]:
            async with httpx.AsyncClient(base_url=site.served.url) as c:
                put = asyncio.ensure_future(c.put("/slow", content=slow_body()))
                await asyncio.sleep(0.25)
                during = _sample(site, "davbind_http_requests_in_flight")
                return (await put).status_code, during

        status, during = asyncio.run(run())
        assert status == 201 and during == 1
        assert _sample(site, "davbind_http_requests_in_flight") == 0
        assert _sample(site, "davbind_http_request_body_bytes_total", method="PUT") == 2
    finally:
        site.close()


# -- settings ----------------------------------------------------------------------------


def test_observability_settings_from_env_and_their_errors(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from davbind.server.settings import SettingsError, load_settings

    monkeypatch.setenv("DAVBIND_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("DAVBIND_ACCESS_LOG", "off")
    monkeypatch.setenv("DAVBIND_ACCESS_LOG_FORMAT", "json")
    monkeypatch.setenv("DAVBIND_METRICS_PORT", "9100")
    s = load_settings(None, {"data_dir": str(tmp_path)})
    assert (s.log_level, s.access_log, s.access_log_format, s.metrics_port) == (
        "debug", False, "json", 9100)  # fmt: skip
    assert load_settings(None, {"data_dir": str(tmp_path), "access_log": True}).access_log
    monkeypatch.setenv("DAVBIND_LOG_LEVEL", "loud")
    with pytest.raises(SettingsError, match="DAVBIND_LOG_LEVEL: use one of critical"):
        load_settings(None, {})
    monkeypatch.delenv("DAVBIND_LOG_LEVEL")
    with pytest.raises(SettingsError, match="--access-log-format: use one of text, json"):
        load_settings(None, {"access_log_format": "xml"})
    with pytest.raises(SettingsError, match="metrics_port 8080 is the port served already"):
        load_settings(None, {"metrics_port": 8080})
    with pytest.raises(SettingsError, match="--metrics-port: 70000 is out of range"):
        load_settings(None, {"metrics_port": 70000})
    with pytest.raises(ValueError, match="log_level must be one of"):
        Settings(log_level="verbose")
