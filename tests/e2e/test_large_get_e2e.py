"""Large GETs against a real ``davbind serve``: the zero-copy path (``sendfile(2)`` through
the ASGI ``http.response.zerocopysend`` extension) seen from the wire.

What must hold (RFC 9110 §9.3.1 GET, §14 ranges; RFC 9112 §9.3 persistence): a body is
exactly the stored bytes with its Content-Length and ETag; byte ranges are exact,
including a suffix and one that runs past the end; a kept-alive connection carries
GET after GET; concurrent GETs do not mix; a client that goes away mid-body costs the
server nothing (it answers on, and keeps no descriptor of the file open); a DELETE
after the answer started does not cut it short; SIGTERM lets a running answer finish.
"""

from __future__ import annotations

import http.client
import os
import random
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

MIB = 1024 * 1024
SIZE = 6 * MIB + 4321  # well over the 256 KiB below which a body is read at once
HUGE = 64 * MIB  # more than loopback socket buffers hold: the server must wait for us


def _data(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


def _put(server, path: str, data: bytes) -> None:
    with server.client(timeout=120) as c:
        r = c.put(path, content=data)
    assert r.status_code in (201, 204), (r.status_code, r.text)


def _blob_fds(pid: int, data_dir: Path) -> list[str]:
    """The server's open descriptors on files of its blob store."""
    blobs = str(data_dir / "blobs")
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(blobs) and "/tmp/" not in target:
            found.append(target)
    return found


def _wait_no_blob_fds(server) -> None:
    deadline = time.monotonic() + 10
    while (open_fds := _blob_fds(server.proc.pid, server.data_dir)):
        assert time.monotonic() < deadline, f"blob files still open: {open_fds}"
        time.sleep(0.05)


def _get_raw(port: int, path: str, rcvbuf: int = 64 * 1024) -> socket.socket:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)  # the server has to wait
    s.connect(("127.0.0.1", port))
    s.settimeout(20)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return s


def _read_response(s: socket.socket, first: bytes = b"") -> tuple[bytes, bytes]:
    """(head, body) of one Content-Length answer read from ``s``."""
    data = bytearray(first)
    while b"\r\n\r\n" not in data:
        chunk = s.recv(MIB)
        assert chunk, f"connection closed in the header block: {bytes(data[:200])!r}"
        data += chunk
    head, _, rest = bytes(data).partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:"))  # fmt: skip
    body = bytearray(rest)
    while len(body) < length:
        chunk = s.recv(MIB)
        assert chunk, f"connection closed after {len(body)} of {length} body bytes"
        body += chunk
    return head, bytes(body)


def test_get_round_trips_with_its_headers(server):
    data = _data(SIZE, 1)
    _put(server, "/big.bin", data)
    etag = server.listing("/big.bin", "0")["/big.bin"].etag
    with server.client() as c:
        r = c.get("/big.bin")
        head = c.head("/big.bin")
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["content-length"] == str(SIZE)
    assert r.headers["etag"] == etag == head.headers["etag"]
    assert r.headers["accept-ranges"] == "bytes"
    assert head.headers["content-length"] == str(SIZE) and head.content == b""


@pytest.mark.parametrize(
    ("spec", "first", "last"),
    [
        ("bytes=0-99", 0, 99),
        ("bytes=0-1048575", 0, MIB - 1),
        (f"bytes={MIB + 3}-{5 * MIB}", MIB + 3, 5 * MIB),
        ("bytes=-700000", SIZE - 700000, SIZE - 1),
        (f"bytes={SIZE - 500000}-{SIZE + 1000}", SIZE - 500000, SIZE - 1),  # past the end
        (f"bytes={MIB}-", MIB, SIZE - 1),
    ],
)
def test_ranges_are_exact(server, spec, first, last):
    data = _data(SIZE, 2)
    _put(server, "/big.bin", data)
    with server.client() as c:
        r = c.get("/big.bin", headers={"Range": spec})
    assert r.status_code == 206, r.text[:200]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{SIZE}"
    assert r.headers["content-length"] == str(last - first + 1)
    assert r.content == data[first : last + 1]


def test_one_kept_alive_connection_carries_many_gets(server):
    data, small = _data(SIZE, 3), b"small body\n"
    _put(server, "/big.bin", data)
    _put(server, "/small.txt", small)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.auto_open = 0  # a closed connection must fail the test, not be reopened
    try:
        conn.connect()
        for n, (path, headers, want) in enumerate([
            ("/big.bin", {}, data),
            ("/big.bin", {"Range": "bytes=100-2000099"}, data[100:2000100]),
            ("/small.txt", {}, small),
            ("/big.bin", {}, data),
        ] * 2):  # fmt: skip
            method = "HEAD" if n == 5 else "GET"
            conn.request(method, path, headers=headers)
            r = conn.getresponse()
            body = r.read()
            assert r.status in (200, 206), (n, r.status)
            assert body == (b"" if method == "HEAD" else want), n
            assert not r.will_close, n
    finally:
        conn.close()
    with server.client() as c:  # httpx keeps its connection too
        for _ in range(3):
            assert c.get("/big.bin").content == data


def test_concurrent_gets_do_not_mix(server):
    files = {f"/f{i}.bin": _data(SIZE + i * 1000, 10 + i) for i in range(3)}
    for path, data in files.items():
        _put(server, path, data)

    def fetch(job: tuple[str, int]) -> None:
        path, start = job
        with server.client() as c:
            headers = {"Range": f"bytes={start}-"} if start else {}
            r = c.get(path, headers=headers)
        assert r.content == files[path][start:], (path, start)

    jobs = [(path, start) for path in files for start in (0, 0, 777777)]
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        list(pool.map(fetch, jobs))


@pytest.mark.parametrize("reset", [False, True], ids=["close", "reset"])
def test_a_client_leaving_mid_body_leaves_the_server_serving(server, reset):
    data = _data(HUGE, 4)
    _put(server, "/huge.bin", data)
    for _ in range(3):
        with _get_raw(server.port, "/huge.bin") as s:
            assert s.recv(65536)
            time.sleep(0.05)
            if reset:  # RST instead of FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00" + b"\x00" * 4)
    with server.client() as c:
        assert c.get("/huge.bin", headers={"Range": "bytes=-5"}).content == data[-5:]
        assert c.get("/huge.bin").content == data
    _wait_no_blob_fds(server)
    assert server.proc.poll() is None


def test_a_delete_after_the_answer_started_does_not_cut_it_short(server):
    data = _data(HUGE, 5)
    _put(server, "/huge.bin", data)
    blob_files = [p for p in (server.data_dir / "blobs").glob("??/??/*") if p.is_file()]
    assert len(blob_files) == 1
    with _get_raw(server.port, "/huge.bin") as s:
        first = s.recv(65536)
        with server.client() as c:
            assert c.delete("/huge.bin").status_code == 204
            assert c.get("/huge.bin").status_code == 404
        assert not blob_files[0].exists()  # the content is gone from the store ...
        head, body = _read_response(s, first)  # ... and still arrives whole
    assert b" 200 " in head.split(b"\r\n")[0]
    assert body == data
    _wait_no_blob_fds(server)


def test_an_overwrite_after_the_answer_started_does_not_mix_contents(server):
    old, new = _data(HUGE, 6), _data(SIZE, 7)
    _put(server, "/f.bin", old)
    with _get_raw(server.port, "/f.bin") as s:
        first = s.recv(65536)
        _put(server, "/f.bin", new)
        _, body = _read_response(s, first)
    assert body == old
    with server.client() as c:
        assert c.get("/f.bin").content == new


def test_sigterm_lets_a_running_answer_finish(server):
    data = _data(HUGE, 8)
    _put(server, "/huge.bin", data)
    with _get_raw(server.port, "/huge.bin") as s:
        first = s.recv(65536)
        server.proc.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        _, body = _read_response(s, first)
        assert body == data
        s.settimeout(10)
        assert s.recv(100) == b""  # then the connection closes ...
    # ... and the server exits (uvicorn re-raises the signal it caught once it is done)
    assert server.proc.wait(timeout=15) in (0, -signal.SIGTERM)
