#!/usr/bin/env python3
"""Cold listings on their own: the harness's ``cold`` phase (g), nothing else.

100 collections of 500 files of 100 bytes; for each server: restart its process, then 4
concurrent clients list the 100 collections once in total (PROPFIND Depth 1, allprop,
bodies read to the end) and the wall time of that pass is the figure; then the same pass
again without a restart. The first round lists data never listed before; later rounds
data listed before the restart; a last round has each client list all 100. Details in
``harness_cold``.

Takes the harness's options (``--only``, ``--quick``, ``--davbind-workers``, ``--keep``,
``--out`` ...); ``--phases`` is fixed. Examples::

    python bench/cold_listing.py --only davbind,nginx,apache
    python bench/cold_listing.py --quick --only davbind
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import main

if __name__ == "__main__":
    if any(a == "--phases" or a.startswith("--phases=") for a in sys.argv[1:]):
        sys.exit("cold_listing.py runs the cold phase only; use harness.py --phases for others")
    sys.exit(main(["--phases", "cold", *sys.argv[1:]]))
