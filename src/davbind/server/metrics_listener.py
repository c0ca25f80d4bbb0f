"""The metrics listener of ``davbind serve --metrics-port``: Prometheus text on its own
address (``metrics_host``, 127.0.0.1 by default), apart from the WebDAV port, so metrics
are never exposed to WebDAV clients by accident.

It runs in the ``serve`` process (uvicorn's supervisor when there are several workers)
in a thread of its own.  Workers write their values to files in a temporary directory
this module creates and names in ``PROMETHEUS_MULTIPROC_DIR`` (prometheus-client's
multiprocess mode), which the workers inherit; a scrape adds up every worker's files,
so counts cover all workers, those restarted included.  The directory is removed when
the listener closes.

``prometheus_client`` reads ``PROMETHEUS_MULTIPROC_DIR`` once, when it is first
imported in a process: with one worker the app runs in this very process, so the
variable is set before anything imports it (hence the imports inside ``open_listener``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from typing import Any

from davbind.server.settings import Settings

ENV = "PROMETHEUS_MULTIPROC_DIR"


@dataclass(frozen=True, slots=True)
class MetricsListener:
    """A running listener; ``close()`` stops it and removes the values' directory."""

    url: str
    directory: str
    _server: Any
    _thread: threading.Thread

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        if os.environ.get(ENV) == self.directory:
            del os.environ[ENV]
        shutil.rmtree(self.directory, ignore_errors=True)


def open_listener(settings: Settings) -> MetricsListener:
    """Start listening on ``metrics_host:metrics_port``; ``OSError`` when that address
    cannot be bound (nothing is left behind then)."""
    directory = tempfile.mkdtemp(prefix="davbind-metrics-")
    os.environ[ENV] = directory
    try:
        # not at module level: the variable must be set first (module doc)
        from prometheus_client import CollectorRegistry, start_http_server
        from prometheus_client.multiprocess import MultiProcessCollector

        from davbind.server.store_size import StoreSize

        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
        registry.register(StoreSize(settings.metadata_url, settings.blobs_url))
        server, thread = start_http_server(
            settings.metrics_port, addr=settings.metrics_host, registry=registry
        )
    except BaseException:
        del os.environ[ENV]
        shutil.rmtree(directory, ignore_errors=True)
        raise
    host = settings.metrics_host
    shown = f"[{host}]" if ":" in host else host
    return MetricsListener(f"http://{shown}:{settings.metrics_port}/metrics", directory,
                           server, thread)  # fmt: skip
