"""End-to-end fixtures: a real ``davbind serve`` process per test, and the checks around it.

The rule kept here: every e2e test talks to a separate OS process over a real socket,
started exactly as a user would start it (``python -m davbind.cli.main serve``), on a
fresh port and a data directory under the test's ``tmp_path``. Nothing is imported from
``davbind`` itself, so these tests keep working whatever the layers inside look like.

Helpers live on ``RunningServer`` and behind fixtures (``server``, ``server_factory``)
rather than as importable functions: a second ``conftest`` module elsewhere in ``tests/``
would otherwise clash with ``from conftest import ...``.

External clients (litmus, cadaver, rclone) are declared with
``@pytest.mark.requires_tool("name")``: a missing binary skips the test on a developer
machine and fails it in CI (``CI`` set to anything but ``""``, ``0``, ``false``, ``no``).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

READY_TIMEOUT = 20.0  # seconds for OPTIONS / to answer 200 after start
STOP_TIMEOUT = 10.0  # seconds between SIGTERM and SIGKILL on teardown
LOG_TAIL_LINES = 80

DAV = "{DAV:}"
PROPFIND_BODY = (
    b'<?xml version="1.0" encoding="utf-8"?>\n'
    b'<D:propfind xmlns:D="DAV:"><D:prop>'
    b"<D:resourcetype/><D:getcontentlength/><D:getetag/>"
    b"</D:prop></D:propfind>"
)

# Logs of the servers started during the current test, attached to its report on failure.
_started_logs: list[Path] = []


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


def _server_env() -> dict[str, str]:
    # DAVBIND_* from the developer's shell would silently change what is under test.
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAVBIND_")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass(frozen=True, slots=True)
class DavEntry:
    """One ``<D:response>`` of a PROPFIND, reduced to what the e2e tests look at."""

    path: str  # percent-decoded absolute path, no trailing slash except for "/"
    is_collection: bool
    content_length: int | None
    etag: str | None


def parse_multistatus(body: bytes) -> dict[str, DavEntry]:
    """Map decoded path -> entry. Trusted input: it comes from the server under test."""
    entries: dict[str, DavEntry] = {}
    root = ET.fromstring(body)
    assert root.tag == f"{DAV}multistatus", f"not a multistatus: {body[:300]!r}"
    for resp in root.iter(f"{DAV}response"):
        href = resp.findtext(f"{DAV}href", default="").strip()
        path = unquote(urlsplit(href).path) or "/"
        if path != "/":
            path = path.rstrip("/")
        is_coll = False
        length: int | None = None
        etag: str | None = None
        for propstat in resp.iter(f"{DAV}propstat"):
            status = propstat.findtext(f"{DAV}status", default="")
            if " 200 " not in f"{status} ":
                continue
            prop = propstat.find(f"{DAV}prop")
            if prop is None:
                continue
            rtype = prop.find(f"{DAV}resourcetype")
            if rtype is not None and rtype.find(f"{DAV}collection") is not None:
                is_coll = True
            text = prop.findtext(f"{DAV}getcontentlength")
            if text is not None and text.strip():
                length = int(text.strip())
            etag = prop.findtext(f"{DAV}getetag") or etag
        entries[path] = DavEntry(path, is_coll, length, etag)
    return entries


@dataclass(frozen=True, slots=True)
class RunningServer:
    url: str  # "http://127.0.0.1:PORT/"
    port: int
    data_dir: Path
    proc: subprocess.Popen[bytes]
    log_path: Path

    def client(self, timeout: float = 30.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=timeout)

    def url_for(self, path: str) -> str:
        return self.url.rstrip("/") + "/" + path.lstrip("/")

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return tail(self.log_path, lines)

    def listing(self, path: str = "/", depth: str = "1") -> dict[str, DavEntry]:
        """PROPFIND ``path`` (named props), assert 207, return decoded path -> entry."""
        with self.client() as c:
            r = c.request(
                "PROPFIND",
                path,
                headers={"Depth": depth, "Content-Type": "application/xml; charset=utf-8"},
                content=PROPFIND_BODY,
            )
        assert r.status_code == 207, f"PROPFIND {path}: {r.status_code} {r.text[:500]}"
        return parse_multistatus(r.content)

    def assert_listing_consistent(self, path: str = "/") -> dict[str, DavEntry]:
        """Every member a Depth 1 PROPFIND lists can be fetched, with the size it claims."""
        entries = self.listing(path, "1")
        with self.client() as c:
            for entry in entries.values():
                if entry.is_collection:
                    continue
                r = c.get(entry.path)
                assert r.status_code == 200, f"listed {entry.path} but GET -> {r.status_code}"
                assert len(r.content) == entry.content_length, (
                    f"{entry.path}: getcontentlength {entry.content_length}, "
                    f"GET returned {len(r.content)} bytes"
                )
        return entries

    def kill(self) -> None:
        """SIGKILL the whole process group (server and any workers) and reap it."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            warnings.warn(
                f"davbind (pid {proc.pid}) still running {STOP_TIMEOUT:.0f} s after SIGTERM; "
                "sending SIGKILL",
                stacklevel=2,
            )
    # Reap stragglers (worker processes) whatever happened to the leader.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    last = "no answer"
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            hint = ""
            if code == 0:
                hint = ' (does davbind/cli/main.py end with `if __name__ == "__main__": main()`?)'
            pytest.fail(
                f"davbind serve exited with code {code} before answering{hint}\n"
                f"--- {log_path} ---\n{tail(log_path)}",
                pytrace=False,
            )
        try:
            r = httpx.request("OPTIONS", url, timeout=2.0)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if r.status_code in (200, 401):  # 401: up, with accounts (server.auth)
                return
            last = f"HTTP {r.status_code}"
        time.sleep(0.1)
    pytest.fail(
        f"davbind serve did not answer OPTIONS {url} with 200 or 401 within {READY_TIMEOUT:.0f} s "
        f"(last: {last})\n--- {log_path} ---\n{tail(log_path)}",
        pytrace=False,
    )


@contextlib.contextmanager
def start_server(
    tmp_path: Path,
    extra_args: Sequence[str] = (),
    *,
    data_dir: Path | None = None,
    name: str = "server",
) -> Iterator[RunningServer]:
    """Run ``davbind serve`` on a free loopback port until the ``with`` block ends.

    ``data_dir`` defaults to ``tmp_path / "data"``; pass the ``data_dir`` of an earlier
    server to restart on the same storage. Each start gets its own log file.
    """
    data_dir = data_dir if data_dir is not None else tmp_path / "data"
    n = 0
    while (tmp_path / f"{name}-{n}.log").exists():
        n += 1
    log_path = tmp_path / f"{name}-{n}.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    # loops allowed unless the test says otherwise: the binding tests exercise them
    loops = [] if any("loops" in a for a in extra_args) else ["--allow-loops"]
    cmd = [
        sys.executable, "-m", "davbind.cli.main", "serve",
        "--host", "127.0.0.1", "--port", str(port), "--data", str(data_dir),
        *loops, *extra_args,
    ]  # fmt: skip
    _started_logs.append(log_path)
    with log_path.open("wb") as log:
        log.write(f"$ {' '.join(cmd)}\n".encode())
        log.flush()
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env=_server_env(),
            start_new_session=True,
        )
    try:
        _wait_ready(proc, url, log_path)
        yield RunningServer(url, port, data_dir, proc, log_path)
    finally:
        _stop(proc)


@pytest.fixture
def server_factory(
    tmp_path: Path,
) -> Callable[..., contextlib.AbstractContextManager[RunningServer]]:
    """``with server_factory(extra_args, data_dir=..., name=...) as srv:`` — more servers."""
    return functools.partial(start_server, tmp_path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    with start_server(tmp_path) as srv:
        yield srv


# --- external tools -----------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "requires_tool(name): needs an external binary; skipped if missing, failed if CI is set",
    )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _started_logs.clear()
    for mark in item.iter_markers("requires_tool"):
        for tool in mark.args:
            if shutil.which(tool) is None:
                msg = f"{tool!r} not found on PATH (scripts/test.sh installs it)"
                if in_ci():
                    pytest.fail(f"{msg}; CI is set, so a missing tool is a failure", pytrace=False)
                pytest.skip(msg)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call" and report.failed:
        for log_path in _started_logs:
            report.sections.append((f"davbind log {log_path.name} (tail)", tail(log_path)))


@pytest.fixture
def client_env(tmp_path: Path) -> dict[str, str]:
    """Env for litmus/cadaver/rclone: C locale (their messages are parsed) and a fresh
    HOME, so no ~/.netrc, ~/.cadaverrc or rclone.conf of the user is read."""
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
    env.update(
        LC_ALL="C",
        LANG="C",
        LANGUAGE="C",
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    return env
