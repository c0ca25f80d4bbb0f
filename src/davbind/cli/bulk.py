"""Many transfers at once, for ``davbind import`` and ``davbind export``.

What it holds: :class:`Pool`, which runs one function per file on a few worker threads,
each with a ``Client`` (and so a keep-alive connection) of its own, and reports files and
bytes on one rich progress bar for the whole tree; the ``X-OC-Mtime`` transport that
lets an upload carry its modification time.

The rules it keeps:

- A failure of one file is recorded with its reason and the others go on (the caller
  reports them and exits 1); losing the connection stops the run, since every further
  request would fail the same way — rerunning resumes where it stopped.
- ``X-OC-Mtime: <unix seconds>`` on a PUT asks the server to record that modification
  time instead of the time of the upload (the header Nextcloud and ownCloud servers and
  clients use; WebDAV itself has no way: ``DAV:getlastmodified`` is protected, RFC 4918
  §15.7, so PROPPATCH cannot set it).  A server that did so answers
  ``X-OC-MTime: accepted``; any other answer means the time was not kept.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TypeVar

import click
import httpx

from davbind.cli.connection import Options, Target
from davbind.cli.transfer_cmds import transfer_bar
from davbind.client import Client, DAVClientError
from davbind.client.errors import TransportError
from davbind.client.transfer import Source

T = TypeVar("T")

MTIME_HEADER = "X-OC-Mtime"
MTIME_ACCEPTED = "accepted"


class MtimeTransport(httpx.BaseTransport):
    """Adds ``X-OC-Mtime`` to PUTs while :attr:`mtime` is set and records whether the
    server said it kept it.  One per client, and each client is used by one thread."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner
        self.mtime: float | None = None
        self.accepted = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        stamped = request.method == "PUT" and self.mtime is not None
        if stamped:
            request.headers[MTIME_HEADER] = str(int(self.mtime or 0))
        response = self._inner.handle_request(request)
        if stamped:
            answer = response.headers.get(MTIME_HEADER, "")
            self.accepted = answer.strip().lower() == MTIME_ACCEPTED
        return response

    def close(self) -> None:
        self._inner.close()


@dataclass(frozen=True, slots=True)
class Worker:
    """What a job gets: its thread's client, and the transport to stamp uploads with."""

    client: Client
    transport: MtimeTransport

    def put(self, path: str, source: Source, mtime: float) -> bool:
        """PUT ``source`` to ``path`` asking for ``mtime``; True when kept."""
        self.transport.mtime = mtime
        self.transport.accepted = False
        try:
            self.client.put(path, source)
            return self.transport.accepted
        finally:
            self.transport.mtime = None


def open_client(opts: Options, target: Target) -> Worker:
    """A client for ``target`` with the credentials ``davbind``'s other commands use."""
    auth = opts.credentials(target)
    transport = MtimeTransport(httpx.HTTPTransport(verify=not opts.insecure))
    client = Client(target.base, auth=auth, timeout=opts.timeout, transport=transport)
    return Worker(client, transport)


@dataclass
class Tally:
    """Counts of a run, updated from the worker threads under :attr:`lock`."""

    files: int = 0
    bytes: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def done(self, size: int) -> None:
        with self.lock:
            self.files += 1
            self.bytes += size

    def fail(self, what: str, why: object) -> None:
        with self.lock:
            self.failures.append(f"{what}: {why}")

    def finish(self, line: str) -> None:
        """Failures on stderr (the first 20), the summary ``line`` on stdout; exit 1
        when anything failed."""
        for failure in self.failures[:20]:
            click.echo(f"davbind: failed {failure}", err=True)
        if len(self.failures) > 20:
            click.echo(f"davbind: ... and {len(self.failures) - 20} more failures", err=True)
        if self.failures:
            line += f"; {len(self.failures)} FAILED (rerun to retry)"
        click.echo(line)
        if self.failures:
            raise click.exceptions.Exit(1)


class Pool:
    """Runs jobs on ``jobs`` threads, each with its own :class:`Worker`."""

    def __init__(self, opts: Options, target: Target, jobs: int) -> None:
        self._opts = opts
        self._target = target
        self._jobs = max(1, jobs)
        self._local = threading.local()
        self._workers: list[Worker] = []
        self._lock = threading.Lock()

    def worker(self) -> Worker:
        """The calling thread's worker, opened on first use."""
        found: Worker | None = getattr(self._local, "worker", None)
        if found is None:
            found = open_client(self._opts, self._target)
            self._local.worker = found
            with self._lock:
                self._workers.append(found)
        return found

    def run(
        self,
        items: Iterable[T],
        job: Callable[[Worker, T], None],
        tally: Tally,
        name: Callable[[T], str],
    ) -> None:
        """``job(worker, item)`` for every item; a :class:`DAVClientError` or ``OSError``
        fails that item only, a lost connection stops the run and is raised."""

        def one(item: T) -> None:
            try:
                job(self.worker(), item)
            except TransportError:
                raise
            except (DAVClientError, OSError) as exc:
                tally.fail(name(item), exc)

        with ThreadPoolExecutor(self._jobs, thread_name_prefix="davbind-bulk") as pool:
            futures: list[Future[None]] = [pool.submit(one, item) for item in items]
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            for future in finished:
                if future.exception() is not None:
                    for other in futures:
                        other.cancel()
                    future.result()

    def close(self) -> None:
        for worker in self._workers:
            worker.client.close()


@contextlib.contextmanager
def tree_progress(
    verb: str, total_files: int, total_bytes: int, enabled: bool
) -> Iterator[Callable[[int], None]]:
    """One bar for the whole tree on stderr (files done, bytes, speed); ``advance(size)``
    is called once per file, from any thread."""
    if not enabled:
        yield lambda size: None
        return
    from rich.progress import TextColumn

    files_column = TextColumn(f"{{task.fields[files]}}/{total_files} files")
    bar = transfer_bar(TextColumn(verb), files_column)
    task = bar.add_task(verb, total=total_bytes, files=0)
    lock = threading.Lock()
    count = 0

    def advance(size: int) -> None:
        nonlocal count
        with lock:
            count += 1
            bar.update(task, advance=size, files=count)

    with bar:
        yield advance


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
