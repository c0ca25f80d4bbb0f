"""Reference, not a peer: a bare uvicorn ASGI app answering every request with 4 KiB.

Run like davbind (2 workers, httptools, uvloop, log level warning), it is the ceiling an
ASGI server can reach on this machine for the GET-4-KiB test; no ratio is taken to it.
"""

from __future__ import annotations

import sys

from peers import Server, pip_version

APP = '''\
BODY = bytes(range(256)) * 16
HEADERS = [(b"content-type", b"application/octet-stream"), (b"content-length", b"4096")]


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": BODY})
'''


class AsgiBare(Server):
    name = "asgi-bare"
    kind = "reference"
    filesystem = False
    tests = frozenset({"get4k"})
    pips = ("uvicorn", "httptools", "uvloop")
    description = "bare uvicorn ASGI app returning 4 KiB, 2 workers, httptools + uvloop (GET only)"
    workers = 2

    @classmethod
    def missing(cls) -> str | None:
        return None if pip_version("uvicorn") else "uvicorn is not installed"

    def command(self) -> list[str]:
        (self.workdir / "bare_app.py").write_text(APP)
        return [
            sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(self.workdir),
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers),
            "--http", "httptools", "--loop", "uvloop", "--log-level", "warning",
            "--no-access-log",
        ]  # fmt: skip
