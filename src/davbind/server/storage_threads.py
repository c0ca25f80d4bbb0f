"""Storage work off the event loop: a pool of reader threads and one writer thread.

The event loop does HTTP and nothing else.  Every storage call of a request runs as a
plain synchronous function over one transaction (``Txn``) in a thread:

* reads (``read``, ``stream``) run in a small pool; each takes its own read snapshot,
  so a reader never waits for a writer (SQLite WAL, PostgreSQL MVCC);
* writes (``write``) are queued to one writer thread per process: write transactions
  are short and contain no awaits, and queueing them here instead of letting each
  request's thread wait for the database's write lock keeps a busy writer from tying
  up the reader threads.  Another process (a second worker, or anything else holding
  the lock) is waited for in that thread, never on the loop.

A ``stream`` keeps its snapshot open while a long answer is sent, but not a thread:
each next chunk is produced by a reader thread and the loop only awaits it.  When the
client goes away, the chunks are closed in a thread as well, which ends the snapshot.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from davbind.storage.interface import MetadataStore, Txn

T = TypeVar("T")

READERS = 4
"""Reader threads per process.  SQLite reads are CPU work in C with the GIL released for
part of it; more threads than this only queue for the GIL on a small machine."""


class StorageThreads:
    """Runs storage work for one process's requests (module doc)."""

    def __init__(self, store: MetadataStore, readers: int = READERS) -> None:
        self.store = store
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="davbind-read")
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="davbind-write")

    async def read(self, work: Callable[[Txn], T]) -> T:
        """``work(txn)`` over a read snapshot, in a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(
            self._readers, self._in_read, work
        )

    async def write(self, work: Callable[[Txn], T]) -> T:
        """``work(txn)`` in one write transaction, in the writer thread; committed when
        it returns, rolled back when it raises."""
        return await asyncio.get_running_loop().run_in_executor(
            self._writer, self._in_write, work
        )

    async def run(self, work: Callable[[], T]) -> T:
        """Other blocking storage work (blob files) in a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._readers, work)

    def _in_read(self, work: Callable[[Txn], T]) -> T:
        with self.store.read() as txn:
            return work(txn)

    def _in_write(self, work: Callable[[Txn], T]) -> T:
        with self.store.write() as txn:
            return work(txn)

    async def stream(
        self, start: Callable[[Txn], tuple[T, Iterator[bytes]]]
    ) -> tuple[T, bytes | AsyncIterator[bytes]]:
        """Open a read snapshot in a thread and call ``start(txn)``, which decides
        everything that can fail the request (it raises) and returns a head value and the
        body's chunks, produced over that snapshot.  The first two chunks are produced in
        the same thread call: a body that ends there comes back whole (one thread hop,
        sent with Content-Length); a longer one comes back as an async iterator whose
        every next chunk is produced in a reader thread, and the snapshot closes when it
        ends or is closed."""
        loop = asyncio.get_running_loop()
        head, first, rest = await loop.run_in_executor(self._readers, self._begin, start)
        if rest is None:
            return head, first
        return head, self._chunks(first, rest)

    def _begin(
        self, start: Callable[[Txn], tuple[T, Iterator[bytes]]]
    ) -> tuple[T, bytes, Iterator[bytes] | None]:
        stack = contextlib.ExitStack()
        try:
            txn = stack.enter_context(self.store.read())
            head, body = start(txn)
            body = _closing(body, stack)
            first = next(body, b"")
            second = next(body, None)
        except BaseException:
            stack.close()
            raise
        if second is None:
            return head, first, None
        return head, first, _after(second, body)

    async def _chunks(self, first: bytes, rest: Iterator[bytes]) -> AsyncIterator[bytes]:
        loop = asyncio.get_running_loop()
        pending: asyncio.Future[bytes | None] | None = None
        try:
            yield first
            while True:
                pending = loop.run_in_executor(self._readers, next, rest, None)
                chunk = await pending
                pending = None
                if chunk is None:
                    return
                yield chunk
        finally:
            # ends the snapshot, in a thread, once no chunk is being produced
            await asyncio.shield(self._close(pending, rest))

    async def _close(self, pending: asyncio.Future[bytes | None] | None,
                     rest: Iterator[bytes]) -> None:  # fmt: skip
        if pending is not None:
            with contextlib.suppress(BaseException):
                await pending
        close = getattr(rest, "close", None)
        if close is not None:
            await asyncio.get_running_loop().run_in_executor(self._readers, close)

    def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)


def _closing(body: Iterator[bytes], stack: contextlib.ExitStack) -> Iterator[bytes]:
    """``body``, then the snapshot closed (also when the consumer closes it early)."""
    try:
        yield from body
    finally:
        stack.close()


def _after(chunk: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    """``chunk`` then ``rest``; closing this closes ``rest`` too."""
    yield chunk
    yield from rest
