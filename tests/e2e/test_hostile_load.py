"""Availability under hostile load: a real ``davbind serve`` against idle and slowloris
floods, oversized heads and requests its HTTP parser would mishandle, over raw sockets.

The head deadline is shortened to 2 s through a configuration file so the flood test is
quick; everything else runs with the defaults (64 KiB heads, 200 fields, 1000
connections per worker).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 2
LINGER = 2  # seconds a refused connection is kept reading before it is closed
FLOOD = 3000


@pytest.fixture
def hostile(server_factory, tmp_path: Path) -> Iterator[object]:
    config = tmp_path / "davbind.toml"
    config.write_text(f"[davbind]\nheader_timeout = {HEADER_TIMEOUT}\n")
    with server_factory(["--config", str(config)]) as srv:
        yield srv


@pytest.fixture
def many_files() -> Iterator[None]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * FLOOD + 500
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"the open-files hard limit {hard} is below the {want} this test needs")
    resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY
                                                 else hard, hard))  # fmt: skip
    yield
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def request(port: int, raw: bytes, timeout: float = 10) -> tuple[int, bytes, float]:
    """Send ``raw`` on a new connection; the status, the answer and the seconds taken."""
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    match = re.match(rb"HTTP/1\.1 (\d{3}) ", data)
    assert match, f"no HTTP answer: {data[:200]!r}"
    return int(match[1]), data, time.monotonic() - start


def closed_by_server(socks: list[socket.socket], deadline: float) -> int:
    """Wait until ``deadline`` for the server to close each socket; how many it closed."""
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    closed = 0
    while closed < len(socks) and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if sock.recv(65536):
                    continue  # the 408; the end of the connection follows
            except BlockingIOError:
                continue
            except OSError:
                pass
            sel.unregister(sock)
            closed += 1
    sel.close()
    return closed


def test_idle_and_slowloris_floods_are_closed_while_a_client_is_served(hostile, many_files):
    worker = psutil.Process(hostile.proc.pid)
    fds_before = worker.num_fds()
    idle = [socket.create_connection(("127.0.0.1", hostile.port), timeout=5)
            for _ in range(FLOOD)]  # fmt: skip
    slow = []
    for _ in range(FLOOD):
        s = socket.create_connection(("127.0.0.1", hostile.port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        s.setblocking(False)
        slow.append(s)
    flooded = time.monotonic()
    probes: list[tuple[int, float]] = []
    while time.monotonic() - flooded < HEADER_TIMEOUT + 1:
        for s in slow:  # a header line every quarter second: never a complete head
            with contextlib.suppress(OSError):
                s.send(b"X-Slow: 1\r\n")
        status, _, took = request(hostile.port, b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n", 5)
        probes.append((status, took))
        time.sleep(0.25)
    deadline = flooded + HEADER_TIMEOUT + LINGER + 3
    closed_idle = closed_by_server(idle, deadline)
    closed_slow = closed_by_server(slow, deadline)
    for s in idle + slow:
        s.close()
    print(f"probes: {len(probes)}, slowest {max(t for _, t in probes):.3f} s; "
          f"closed by the server: {closed_idle} idle, {closed_slow} slow")  # fmt: skip
    assert [status for status, _ in probes] == [200] * len(probes)
    assert max(took for _, took in probes) < 1.0
    assert (closed_idle, closed_slow) == (FLOOD, FLOOD)
    time.sleep(0.5)
    assert worker.num_fds() < fds_before + 20  # every descriptor of the flood released


def _rss(worker: psutil.Process) -> int:
    return int(worker.memory_info().rss)


def test_oversized_heads_are_431_and_memory_stays_flat(hostile):
    worker = psutil.Process(hostile.proc.pid)
    for _ in range(20):  # warm up: the first answers allocate what every answer needs
        assert request(hostile.port, b"OPTIONS / HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200
    baseline = _rss(worker)
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: "
    status, answer, _ = request(hostile.port, head + b"a" * 65536 + b"\r\n\r\n")
    assert status == 431, answer

    # 64 MiB in one header, sent by a thread while the answer is read: it comes early
    with socket.create_connection(("127.0.0.1", hostile.port), timeout=10) as s:
        def send_all() -> None:
            with contextlib.suppress(OSError):
                s.sendall(head + b"a" * (64 << 20) + b"\r\n\r\n")

        sender = threading.Thread(target=send_all, daemon=True)
        start = time.monotonic()
        sender.start()
        answer = s.recv(65536)
        took = time.monotonic() - start
        sender.join(timeout=LINGER + 5)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert took < 1.0
    time.sleep(0.5)
    grown = _rss(worker) - baseline
    print(f"RSS baseline {baseline >> 20} MiB, after a 64 KiB and a 64 MiB head: "
          f"{grown / 2**20:+.1f} MiB")  # fmt: skip
    assert grown < 4 << 20


def test_two_hundred_thousand_header_lines_are_431_quickly(hostile):
    lines = b"X-A: b\r\n" * 200_000
    status, answer, took = request(hostile.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + lines
                                   + b"\r\n")  # fmt: skip
    assert status == 431, answer
    assert took < 1.0
    fields = b"".join(b"X-%d: b\r\n" % i for i in range(201))  # small, but too many
    status, answer, _ = request(hostile.port, b"GET / HTTP/1.1\r\nHost: x\r\n" + fields
                                + b"\r\n")  # fmt: skip
    assert status == 431 and b"more than 200 header fields" in answer


def test_unknown_method_is_501_and_a_fragment_400_acting_on_nothing(hostile):
    status, answer, _ = request(hostile.port, b"FOO / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 501 and b"FOO" in answer
    put = b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
    assert request(hostile.port, put)[0] == 201
    status, answer, _ = request(hostile.port, b"DELETE /a#frag HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400 and b"fragment" in answer
    assert request(hostile.port, b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")[0] == 200


def test_serve_raises_its_open_files_limit_to_the_hard_limit(tmp_path: Path):
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard <= 1024:
        pytest.skip(f"the open-files hard limit is {hard}: not a finite limit above 1024")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "davbind.cli.main", "serve", "--port", str(port),
             "--data", str(tmp_path / "data")],
            stdout=out, stderr=subprocess.STDOUT, cwd=tmp_path, start_new_session=True,
            preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard)),
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while b"serving" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        assert psutil.Process(proc.pid).rlimit(psutil.RLIMIT_NOFILE) == (hard, hard)
        assert f"open files limit: {hard} (raised from 1024)" in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
