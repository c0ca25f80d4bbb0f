"""Server adapters for the benchmark harness: davbind and the servers users would pick instead.

Each adapter knows how to start one server on a loopback port from a configuration it
generates into its own work directory, how to tell when it answers, where its data lives
and how to stop it. The harness fills ``data_dir`` before ``start()`` for file-system
servers (``filesystem = True``); davbind has its own store and is filled over HTTP.

Rule: an adapter never touches anything outside its work directory, and ``stop()`` ends
only the process group it started.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import ClassVar

RUN_USER = "www-data"  # Debian's user for nginx, Apache and lighttpd workers


class StartError(RuntimeError):
    """The server did not come up; the message carries the tail of its log."""


class Server:
    name: ClassVar[str] = ""
    kind: ClassVar[str] = "peer"  # "subject" (davbind), "peer", or "reference"
    filesystem: ClassVar[bool] = True  # data_dir is served as is
    tests: ClassVar[frozenset[str] | None] = None  # None: every test
    debs: ClassVar[tuple[str, ...]] = ()  # Debian packages it needs
    pips: ClassVar[tuple[str, ...]] = ()  # PyPI distributions it needs
    run_as: ClassVar[str | None] = None  # user whose workers must own the data
    description: ClassVar[str] = ""

    def __init__(self, workdir: Path, port: int) -> None:
        self.workdir = workdir
        self.port = port
        self.data_dir = workdir / "data"
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.command_line: list[str] = []

    # --- to override ---------------------------------------------------------------

    @classmethod
    def missing(cls) -> str | None:
        """Why this server cannot run here, or None when it can."""
        return None

    def command(self) -> list[str]:
        """Write any configuration into ``workdir`` and return the command to run."""
        raise NotImplementedError

    def env(self) -> dict[str, str]:
        return {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}

    def versions(self) -> dict[str, str | None]:
        found: dict[str, str | None] = {d: deb_version(d) for d in self.debs}
        found.update({p: pip_version(p) for p in self.pips})
        return found

    # --- lifecycle -----------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout: float = 60) -> None:
        import httpx  # lazily: --install may still have to bring it in

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.command_line = self.command()
        if self.run_as and os.geteuid() == 0:  # workers drop to run_as: they must own it
            os.chmod(self.workdir, 0o755)
            subprocess.run(["chown", "-R", f"{self.run_as}:{self.run_as}", str(self.workdir)],
                           check=True)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                self.command_line, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir,
                env=self.env(), start_new_session=True, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise StartError(f"{self.name} exited with {code}: {self.log_tail()}")
            try:
                httpx.request("OPTIONS", self.url + "/", timeout=2, trust_env=False)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise StartError(f"{self.name} did not answer within {timeout:.0f} s: {self.log_tail()}")

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(15)
        # Children (workers) share the session we created; end whatever is left of it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def deb_version(package: str) -> str | None:
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f", "${Status}|${Version}", package],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    status, _, version = out.stdout.partition("|")
    return version if out.returncode == 0 and status.endswith(" installed") else None


def pip_version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def need_binaries(*names: str) -> str | None:
    lost = [n for n in names if not (shutil.which(n) or Path(n).exists())]
    return f"not installed: {', '.join(lost)}" if lost else None


def registry() -> dict[str, type[Server]]:
    """Every adapter by name, davbind first, references last."""
    from peers.apache import Apache
    from peers.asgi_bare import AsgiBare
    from peers.davbind import Davbind, DavbindShared, DavbindStrict
    from peers.lighttpd import Lighttpd
    from peers.nginx import Nginx
    from peers.rclone import Rclone
    from peers.wsgidav import WsgiDav

    classes: list[type[Server]] = [
        Davbind, DavbindShared, Nginx, Apache, Lighttpd, Rclone, WsgiDav, AsgiBare,
        DavbindStrict,
    ]
    return {c.name: c for c in classes}
