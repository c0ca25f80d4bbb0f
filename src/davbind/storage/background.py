"""CPU priority of the storage layer's background threads.

The blob flusher (``flusher``), the closer that frees deleted blobs (``blobs_file``) and
the WAL checkpointer (``checkpoint``) do work nobody is waiting for, yet the kernel does
most of it in their context: fsync submits the pages still unwritten, a truncate frees
page cache and blocks, a checkpoint copies pages.  On a busy machine that competes with
the threads that serve requests.  Measured on 2 cores, a 256 MiB download started right
after the upload it reads (so it overlaps that upload's flush and the freeing of the
content it replaced): at the default priority, 11 of 54 downloads fell below
4,000 MiB/s (the lowest 2,804); with these threads at nice 10, 3 of 73 (the lowest 3,526),
at the same median.  So each of them lowers its own priority when it starts.

Linux applies ``setpriority(PRIO_PROCESS, tid)`` to the one thread (a documented
departure from POSIX, which makes nice per process); elsewhere the same call would lower
the whole server, so there this does nothing.  A thread only ever lowers its priority,
which needs no privilege, and a process already started nicer than ``NICE`` keeps its
own value.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading

NICE = 10
"""Nice value of background threads: about a tenth of a request thread's CPU share
when both want the CPU, yet not starved (a flush must still end within a second or so)."""


def lower_priority() -> None:
    """Lower the calling thread's CPU priority to ``NICE`` (Linux only; never raises)."""
    if not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < NICE:
            os.setpriority(os.PRIO_PROCESS, tid, NICE)
