#!/usr/bin/env python3
"""GET latency under writes on its own: the harness's ``latency`` phase (h), nothing else.

wrk GETs a 4 KiB file at 16 connections for a fixed window, once with nobody else on the
server and once while another client PUTs 1,000 files of 1 KiB and then COPYs a
10,111-node tree (Depth infinity) to new destinations until the window closes; prints
p50, p99, max and req/s for both and the ratio p99 with writers / p99 quiet. Details in
``harness_latency``.

Takes the harness's options (``--only``, ``--quick``, ``--latency-seconds S``,
``--davbind-workers``, ``--keep``, ``--out`` ...); ``--phases`` is fixed. Examples::

    python bench/latency_under_writes.py --only davbind,nginx
    python bench/latency_under_writes.py --only davbind --latency-seconds 20
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import main

if __name__ == "__main__":
    if any(a == "--phases" or a.startswith("--phases=") for a in sys.argv[1:]):
        sys.exit("latency_under_writes.py runs the latency phase only; use harness.py --phases")
    sys.exit(main(["--phases", "latency", *sys.argv[1:]]))
