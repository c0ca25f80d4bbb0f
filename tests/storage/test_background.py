"""The storage layer's background threads run at a lower CPU priority than the threads
that serve requests, and lower only themselves (``storage.background``)."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from davbind.storage import background, blobs_file
from davbind.storage.blobs_file import FileBlobStore
from davbind.storage.checkpoint import Checkpointer
from davbind.storage.flusher import Flusher

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice is Linux's"
)


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _in_thread(fn: Callable[[], None]) -> None:
    t = threading.Thread(target=fn)
    t.start()
    t.join(10)


def test_lower_priority_lowers_the_calling_thread_only() -> None:
    here = _nice()
    seen: list[int] = []

    def run() -> None:
        background.lower_priority()
        seen.append(_nice())

    _in_thread(run)
    assert seen == [max(here, background.NICE)]
    assert _nice() == here  # the process (and this thread) keeps its priority


def test_a_thread_already_nicer_keeps_its_value() -> None:
    seen: list[int] = []

    def run() -> None:
        nicer = min(19, background.NICE + 5)
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nicer)
        background.lower_priority()
        seen.append(_nice())
        seen.append(nicer)

    _in_thread(run)
    assert seen[0] == seen[1]


def test_the_flusher_thread_runs_lowered(tmp_path: Path) -> None:
    blobs = FileBlobStore(tmp_path / "blobs")
    up = blobs.begin()
    up.write(b"flushed in the background")
    blobs.commit(up)
    digest = up.finish()[0]
    seen: list[int] = []
    flusher = Flusher(blobs, lambda digests: seen.append(_nice()), lambda before: [])
    try:
        flusher.submit([digest])
        assert flusher.drain(10)
    finally:
        flusher.close()
    assert seen == [max(_nice(), background.NICE)]


def test_the_checkpoint_thread_runs_lowered(tmp_path: Path) -> None:
    seen: list[int] = []
    done = threading.Event()

    def connect() -> sqlite3.Connection:  # called in the checkpoint thread
        seen.append(_nice())
        done.set()
        return sqlite3.connect(tmp_path / "db.sqlite3", check_same_thread=False)

    cp = Checkpointer(connect)
    try:
        cp.wrote()
        assert done.wait(10)
    finally:
        cp.close()
    assert seen == [max(_nice(), background.NICE)]


def test_the_closer_thread_runs_lowered() -> None:
    closer = blobs_file._Closer()
    assert closer.wait(10)
    assert closer._thread is not None and closer._thread.native_id is not None
    assert os.getpriority(os.PRIO_PROCESS, closer._thread.native_id) == max(
        _nice(), background.NICE
    )
