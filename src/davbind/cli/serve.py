"""``davbind serve``: start the server under uvicorn (httptools + uvloop, with the
seam of ``server.zerocopy`` and ``server.connection_limits``).

Settings are built once here (flags > environment > TOML file) and handed to every
worker as JSON in ``DAVBIND_SETTINGS_JSON``.  Before workers start, leftovers of
interrupted uploads are swept and interrupted blob reclamation is finished.
"""

from __future__ import annotations

import atexit
import os
import resource
import shutil
import signal
import socket
import ssl
from pathlib import Path

import click
import uvicorn

from davbind.server.connection_limits import GuardedProtocol
from davbind.server.metrics_listener import MetricsListener, open_listener
from davbind.server.settings import (
    ACCESS_LOG_FORMATS,
    LOG_LEVELS,
    Settings,
    SettingsError,
    is_loopback,
    load_settings,
)
from davbind.storage.model import StorageError, StorageFull
from davbind.storage.open import open_blobs, open_metadata
from davbind.storage.sqlite import SchemaTooNew

#: What davbind itself keeps in a data directory (the database may live elsewhere when
#: ``metadata_url`` is set, so its folders alone also mark a store).
STORE_ENTRIES = frozenset({"blobs", "cache", "runs"})


def foreign_data_dir(data_dir: Path) -> str | None:
    """Why ``data_dir`` must not be served, or None.  A davbind store is recognised by its
    metadata database (or holds nothing but davbind's own folders); a missing or empty
    folder becomes a new store.  Anything else is somebody's files, which the server
    would neither show nor keep safe."""
    if not data_dir.exists():
        return None
    if not data_dir.is_dir():
        return f"data directory {data_dir} exists and is not a directory"
    if (data_dir / "meta.sqlite3").exists():
        return None
    if {p.name for p in data_dir.iterdir()} <= STORE_ENTRIES:
        return None
    return (
        f"{data_dir} holds files but is not a davbind store (no meta.sqlite3); serve an "
        f"empty folder and copy them in with `davbind import {data_dir} URL`"
    )


def prepare(settings: Settings) -> bool:
    """Before any worker starts: create the store (and its root), verify content a crash
    left unflushed (rolling back what it cut short), finish interrupted blob
    reclamation, drop leftovers of interrupted uploads (and the answer caches an older
    release kept in the data directory).  Storage only: with several workers this
    process never loads the app.

    The server starts to serve reads whatever the space left: on a full disk the
    clean-up that needs room is skipped with a warning (it runs at the next start), and
    writes answer 507 until deletions free space (``storage.space``).  A read-only data
    directory is served read-only, with a warning: writes answer 503 (``server.app``),
    which keeps a backup or a snapshot mounted read-only browsable.  What cannot be
    served (a new store on a full or read-only disk, an unreplayed log on a read-only
    one) stops the start with a one-line message.  Returns whether any user exists."""
    try:
        blobs = open_blobs(settings.blobs_url, durable=settings.durable)
        store = open_metadata(settings.metadata_url, blobs)
    except (StorageError, SchemaTooNew) as exc:
        _fail(str(exc), 1)
        raise
    except OSError as exc:
        _fail(f"cannot open the store: {exc}", 1)
        raise
    except ValueError as exc:  # a URL that names no store davbind has (storage.open)
        _fail(str(exc), 2)
        raise
    try:
        with store.read() as txn:
            users = txn.has_users()
        if getattr(store, "read_only", False):
            click.echo(f"warning: {settings.data_dir} is read-only: serving reads only, "
                       "writes answer 503", err=True)  # fmt: skip
            return users
        try:
            sweep = getattr(store, "sweep", None)
            if sweep is not None:
                sweep()
            sweep_tmp = getattr(blobs, "sweep_tmp", None)
            if sweep_tmp is not None:
                sweep_tmp()
        except StorageFull as exc:
            click.echo(f"warning: the disk is full ({exc}): start-up clean-up skipped; "
                       "reads are served, writes answer 507 until space is freed",
                       err=True)  # fmt: skip
    finally:
        store.close()
    for gone in ("cache", "runs"):  # answer caches of earlier releases
        shutil.rmtree(Path(settings.data_dir) / gone, ignore_errors=True)
    return users


@click.command()
@click.option("--host", default=None, help="Address to listen on [127.0.0.1].")
@click.option("--port", type=int, default=None, help="Port [8080].")
@click.option("--data", "data_dir", default=None, help="Data directory [./davbind-data].")
@click.option("--workers", type=int, default=None, help="Worker processes [1].")
@click.option("--config", "config_file", default=None, type=click.Path(exists=True),
              help="TOML configuration file.")
@click.option("--allow-anonymous-write/--no-anonymous-write", default=None,
              help="Allow reads and writes without logging in (default: only on loopback "
                   "while no user exists).")
@click.option("--allow-anonymous-read/--no-anonymous-read", default=None,
              help="Allow reads without logging in (default: only on loopback while no "
                   "user exists).")
@click.option("--tls-cert", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM certificate (chain) file: serve HTTPS (needs --tls-key).")
@click.option("--tls-key", default=None, type=click.Path(exists=True, dir_okay=False),
              help="PEM private key file of --tls-cert.")
@click.option("--allow-loops/--no-loops", default=None,
              help="Allow BIND/REBIND/MOVE to create binding loops [refused].")
@click.option("--durability", type=click.Choice(["standard", "strict"]), default=None,
              help="strict: answer writes only once on disk; standard: flush right after "
                   "the answer, roll back what a power loss cut short [standard].")
@click.option("--log-level", type=click.Choice(LOG_LEVELS, case_sensitive=False), default=None,
              help="Level of the server's own messages (not the access log) [info].")
@click.option("--access-log/--no-access-log", default=None,
              help="One line per request on stdout [on].")
@click.option("--access-log-format", type=click.Choice(ACCESS_LOG_FORMATS), default=None,
              help="text (the combined format, plus bytes in and milliseconds) or json "
                   "(one object per line) [text].")
@click.option("--metrics-port", type=int, default=None,
              help="Serve Prometheus metrics on this port (metrics_host, 127.0.0.1 by "
                   "default) [off].")
def serve(
    host: str | None,
    port: int | None,
    data_dir: str | None,
    workers: int | None,
    config_file: str | None,
    allow_anonymous_write: bool | None,
    allow_anonymous_read: bool | None,
    tls_cert: str | None,
    tls_key: str | None,
    allow_loops: bool | None,
    durability: str | None,
    log_level: str | None,
    access_log: bool | None,
    access_log_format: str | None,
    metrics_port: int | None,
) -> None:
    """Serve a WebDAV tree (SQLite metadata + content-addressed files by default)."""
    try:
        settings = load_settings(
            config_file,
            {
                "host": host, "port": port, "data_dir": data_dir, "workers": workers,
                "allow_anonymous_write": allow_anonymous_write, "allow_loops": allow_loops,
                "durability": durability, "allow_anonymous_read": allow_anonymous_read,
                "tls_cert": tls_cert, "tls_key": tls_key,
                "log_level": log_level and log_level.lower(), "access_log": access_log,
                "access_log_format": access_log_format, "metrics_port": metrics_port,
            },
        )
    except SettingsError as exc:
        _fail(str(exc), 2)
    if settings.tls_cert:
        _check_tls(settings.tls_cert, settings.tls_key)
    data = Path(settings.data_dir)
    refused = foreign_data_dir(data)
    if refused is not None:
        _fail(refused, 2)
    try:
        data.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _fail(f"cannot create the data directory {data}: {exc.strerror or exc}", 1)
    _check_listen(settings.host, settings.port)
    users = prepare(settings)
    for line in security_notes(settings, users):
        click.echo(line, err=True)
    os.environ["DAVBIND_SETTINGS_JSON"] = settings.to_json()
    click.echo(raise_open_files_limit(), err=True)
    metrics = _metrics_listener(settings)
    tls = bool(settings.tls_cert)
    url = url_of(settings.host, settings.port, tls=tls)
    click.echo(f"davbind serving {settings.data_dir} on {url}")
    if metrics is not None:
        click.echo(f"metrics on {metrics.url}")
    uvicorn.run(
        "davbind.server.app:create_app",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers if settings.workers > 1 else None,
        http=GuardedProtocol,
        loop="uvloop",
        log_level=settings.log_level,
        access_log=False,  # davbind writes its own (server.observability)
        timeout_graceful_shutdown=10,
        timeout_keep_alive=settings.keepalive_timeout,
        ssl_certfile=settings.tls_cert or None,
        ssl_keyfile=settings.tls_key or None,
    )


def raise_open_files_limit() -> str:
    """Raise the soft limit on open files to the hard one (workers inherit it): every
    connection is a descriptor, and 1024, a common soft default, is a few hundred
    idle clients.  Returns the line to log."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return f"open files limit: {soft}"
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ValueError, OSError) as exc:  # e.g. macOS refuses RLIM_INFINITY
        return f"open files limit: {soft} (could not raise it to {hard}: {exc})"
    return f"open files limit: {hard} (raised from {soft})"


def _metrics_listener(settings: Settings) -> MetricsListener | None:
    if not settings.metrics_port:
        return None
    try:
        listener = open_listener(settings)
    except OSError as exc:
        where = url_of(settings.metrics_host, settings.metrics_port)
        _fail(f"cannot serve metrics on {where}: {exc.strerror or exc}", 1)
        return None
    atexit.register(listener.close)  # also when uvicorn exits the process itself

    def close_then_die(signum: int, _frame: object) -> None:
        listener.close()
        signal.signal(signum, signal.SIG_DFL)
        signal.raise_signal(signum)

    # uvicorn (one worker) ends a graceful shutdown by raising SIGTERM again with the
    # handler found before it started, which skips atexit: this one cleans up first
    signal.signal(signal.SIGTERM, close_then_die)
    return listener


def _check_tls(cert: str, key: str) -> None:
    """Load the pair once here: uvicorn would fail in each worker with a traceback."""
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        _fail(f"cannot use the TLS certificate {cert} with key {key}: {exc}", 2)


def _fail(message: str, code: int) -> None:
    click.echo(f"davbind serve: {message}", err=True)
    raise SystemExit(code)


def url_of(host: str, port: int, *, tls: bool = False) -> str:
    """The URL a browser takes: an IPv6 literal goes in brackets (RFC 3986 §3.2.2)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"{'https' if tls else 'http'}://{shown}:{port}/"


def security_notes(settings: Settings, users: bool) -> list[str]:
    """What the operator must know about who can reach what (``server.auth``)."""
    notes = []
    loopback = is_loopback(settings.host)
    if not loopback and not settings.tls_cert:
        notes.append(f"warning: {settings.host} is not a loopback address and TLS is off: "
                     "passwords and files cross the network readable by anyone on the "
                     "path; give --tls-cert and --tls-key or put a TLS proxy in front")  # fmt: skip
    access = settings.anonymous_access(users)
    if settings.allow_anonymous_write:
        notes.append("warning: anonymous write access is on: anyone who reaches this "
                     "server may change or delete everything")  # fmt: skip
    elif access == "read" and not loopback:
        notes.append("note: anonymous read access is on: anyone who reaches this server "
                     "may read everything")  # fmt: skip
    if not users and access == "none":
        notes.append(f"note: no user exists yet: every request gets 401 until one is made "
                     f"with `davbind user add NAME --data {settings.data_dir}`")  # fmt: skip
    return notes


def _check_listen(host: str, port: int) -> None:
    """Bind (and release) the address before saying "serving": uvicorn would only log a
    bind failure after the banner, and exit 0-like from the user's point of view."""
    try:
        infos = socket.getaddrinfo(host.strip("[]"), port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)  # fmt: skip
    except socket.gaierror as exc:
        _fail(f"cannot listen on {host}: {exc.strerror}", 2)
        return
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as exc:
            _fail(f"cannot listen on {url_of(host, port)}: {exc.strerror or exc}", 1)
