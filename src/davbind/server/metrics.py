"""Prometheus metrics of one worker process's requests (``prometheus-client``).

Recorded by the observability middleware once per request, after the answer:

* ``davbind_http_requests_total{method, status}`` and
  ``davbind_http_request_duration_seconds{method, status}`` (a histogram): ``status``
  is the class (``2xx`` ... ``5xx``); a method davbind does not serve counts as
  ``other``, so a client cannot make up label values;
* ``davbind_http_request_body_bytes_total{method}``,
  ``davbind_http_response_body_bytes_total{method}``;
* ``davbind_http_requests_in_flight`` (summed over the live workers);
* ``davbind_small_blob_cache_hits_total`` / ``..._misses_total``: small contents by
  digest (``server.read.SmallBlobCache``); the hit rate is ``hits / (hits + misses)``;
* ``davbind_listing_cache_hits_total`` / ``..._misses_total``: listed members whose kept
  text was used, and those read and rendered again (``server.listing_cache``).

With several workers every process writes its values to files in the directory named
by ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's multiprocess mode) and the
listener of ``server.metrics_listener`` adds them up; the variable must be set before
``prometheus_client`` is first imported in a process, which ``davbind serve`` does.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.multiprocess import mark_process_dead

from davbind.server.listing_cache import ListingCache
from davbind.server.read import SMALL_BLOBS, SmallBlobCache

BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
           10.0, 30.0, 60.0)  # fmt: skip
"""Seconds; a small GET takes well under a millisecond, a large upload minutes."""

STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")


def multiprocess_dir() -> str | None:
    """The directory of prometheus-client's multiprocess mode, when it is on."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


@dataclass(frozen=True, slots=True)
class _Series:
    """The label children of one (method, status class), looked up once: ``labels()``
    takes a lock and builds a key on every call."""

    requests: Any
    duration: Any
    bytes_in: Any
    bytes_out: Any


class _Counting(Protocol):
    hits: int
    misses: int


class _CacheCounts:
    """One cache's hit and miss counters, carried over from the cache's own counts (the
    cache knows nothing of Prometheus); synced on the event loop only, so the last seen
    counts need no lock."""

    def __init__(self, cache: _Counting, name: str, hit: str, miss: str,
                 registry: CollectorRegistry | None) -> None:  # fmt: skip
        self.cache = cache
        self.hits = Counter(f"davbind_{name}_cache_hits", hit, registry=registry)
        self.misses = Counter(f"davbind_{name}_cache_misses", miss, registry=registry)
        self._hits, self._misses = cache.hits, cache.misses

    def sync(self) -> None:
        hits, misses = self.cache.hits, self.cache.misses
        if hits != self._hits:
            self.hits.inc(hits - self._hits)
            self._hits = hits
        if misses != self._misses:
            self.misses.inc(misses - self._misses)
            self._misses = misses


class HttpMetrics:
    """One process's request metrics (module doc).  ``registry``: where they can be
    read in this process (tests); in multiprocess mode values go to files regardless."""

    def __init__(self, methods: Iterable[str], registry: CollectorRegistry | None = None,
                 cache: SmallBlobCache = SMALL_BLOBS,
                 listings: ListingCache | None = None) -> None:  # fmt: skip
        self.registry = registry
        self._methods = frozenset(methods)
        by_status = ("method", "status")
        self.requests = Counter("davbind_http_requests", "HTTP requests answered",
                                by_status, registry=registry)  # fmt: skip
        self.duration = Histogram(
            "davbind_http_request_duration_seconds",
            "Time from the request's arrival to its answer's last byte handed to the server",
            by_status, buckets=BUCKETS, registry=registry,
        )  # fmt: skip
        self.bytes_in = Counter("davbind_http_request_body_bytes", "Request body bytes read",
                                ("method",), registry=registry)  # fmt: skip
        self.bytes_out = Counter("davbind_http_response_body_bytes", "Response body bytes sent",
                                 ("method",), registry=registry)  # fmt: skip
        self.in_flight = Gauge("davbind_http_requests_in_flight", "Requests being answered",
                               registry=registry, multiprocess_mode="livesum")  # fmt: skip
        self._caches = [
            _CacheCounts(cache, "small_blob", "Small contents served from memory",
                         "Small contents read from the store", registry),
        ]  # fmt: skip
        if listings is not None:
            self._caches.append(_CacheCounts(
                listings, "listing", "Listed members whose kept text was used",
                "Listed members read and rendered again", registry))  # fmt: skip
        self._series: dict[tuple[str, int], _Series] = {}

    def observe(self, method: str, status: int, seconds: float, bytes_in: int,
                bytes_out: int) -> None:  # fmt: skip
        """Count one answered request."""
        key = (method, status // 100)
        series = self._series.get(key) or self._add(key)
        series.requests.inc()
        series.duration.observe(seconds)
        if bytes_in:
            series.bytes_in.inc(bytes_in)
        if bytes_out:
            series.bytes_out.inc(bytes_out)
        self._sync_cache()

    def _add(self, key: tuple[str, int]) -> _Series:
        method = key[0] if key[0] in self._methods else "other"
        status = STATUS_CLASSES[key[1] - 1] if 1 <= key[1] <= 5 else "other"
        series = _Series(
            self.requests.labels(method, status), self.duration.labels(method, status),
            self.bytes_in.labels(method), self.bytes_out.labels(method),
        )  # fmt: skip
        self._series[key] = series
        return series

    def _sync_cache(self) -> None:
        for counts in self._caches:
            counts.sync()

    def close(self) -> None:
        """At worker shutdown: its in-flight gauge no longer counts."""
        path = multiprocess_dir()
        if path is not None:
            mark_process_dead(os.getpid(), path)  # type: ignore[no-untyped-call]
