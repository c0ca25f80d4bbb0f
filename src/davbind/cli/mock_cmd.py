"""``davbind mock SCRIPT``: serve a mock scenario until stopped, then report.

The rule kept here: the exit status is the verdict, for CI.  0 when every expectation
was met (and, in strict mode, nothing unexpected arrived), 1 otherwise, 2 for a scenario
that cannot be loaded or a port that cannot be bound.  SIGINT and SIGTERM stop the mock
gracefully and still print the report; ``--exit-when-done`` stops it as soon as
nothing is unmet.  Unexpected requests are logged to stderr as they arrive.  At start
it prints the URL, then every request the scenario expects with its full URL, so the
user knows what to point the client at.  A completed scenario may be played again by
the next client run (``--replay``, the default); ``--no-replay`` makes any request after
the first complete run unexpected.
"""

from __future__ import annotations

import signal
import socket
import sys
from types import FrameType

import click
import uvicorn

from davbind.mock.app import MockApp
from davbind.mock.library import find_scenario, shipped
from davbind.mock.loader import ScenarioError
from davbind.mock.runner import base_url, listen_socket, uvicorn_server


@click.command()
@click.argument("script", required=False)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8090, show_default=True,
              help="Port (0 picks a free one; the URL is printed).")
@click.option("--list", "list_only", is_flag=True, help="List the shipped scenarios and exit.")
@click.option("--exit-when-done", "--once", "exit_when_done", is_flag=True,
              help="Stop as soon as every expectation is met.")
@click.option("--replay/--no-replay", default=True, show_default=True,
              help="Let the client play the scenario again once it is complete (each "
                   "complete run starts afresh); --no-replay: only one run.")
def mock(script: str | None, host: str, port: int, list_only: bool,
         exit_when_done: bool, replay: bool) -> None:
    """Serve the mock scenario SCRIPT (a TOML file or a shipped scenario's name)."""
    if list_only:
        for item in shipped():
            click.echo(f"{item.name:24} {item.summary}")
        return
    if script is None:
        raise click.UsageError("give a scenario file or name (see --list)")
    try:
        scenario = find_scenario(script)
    except ScenarioError as exc:
        raise click.UsageError(str(exc)) from exc
    try:
        sock = listen_socket(host, port)
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc

    def log(line: str) -> None:
        click.echo(line, err=True)

    def done() -> None:
        server.should_exit = True

    app = MockApp(scenario, on_done=done if exit_when_done else None, log=log, replay=replay)
    server = uvicorn_server(app)
    mode = "strict" if scenario.strict else "lenient"
    origin = base_url(sock)
    click.echo(
        f"davbind mock: scenario {scenario.name!r} ({len(scenario.expectations)} "
        f"expectation(s), {scenario.mode}, {mode}) on {origin}/"
    )
    order = "in this order" if scenario.mode == "ordered" else "in any order"
    again = "; the client may run again once all are met" if replay else ""
    click.echo(f"expected requests ({order}{again}):")
    for e in scenario.expectations:
        click.echo(f"  #{e.index} {e.request_line(origin)}")
    stop = "when every expectation is met, or on Ctrl-C" if exit_when_done else "on Ctrl-C"
    click.echo(f"the mock stops {stop} and prints its report")
    sys.stdout.flush()
    _serve(server, sock)
    report = app.ledger.report()
    click.echo(report.render())
    sys.exit(0 if report.ok else 1)


def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    """Run uvicorn until it stops, then return so the report can be printed.

    uvicorn restores the handlers it found and re-raises the signal that stopped it;
    the handlers installed here absorb that, instead of dying before the report.
    """

    def absorb(sig: int, frame: FrameType | None) -> None:
        pass

    previous = {sig: signal.signal(sig, absorb) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
