"""``davbind check URL``: run the conformance checks against a WebDAV server.

Exit status (for CI): 0 when no MUST-level check failed, 1 when one did (or the scratch
collection could not be created or removed), 2 for a usage error, 3 when the server
cannot be reached, 130 when interrupted (the scratch collection is removed first).
URL is a URL, ``NAME:/path`` for a remote or a path below ``$DAVBIND_URL`` (which is
also the default URL); ``--user`` without ``--password`` asks for it on a terminal.
``--format`` picks text (coloured on a terminal), JSON or JUnit XML; ``--output`` writes
the report to a file instead of stdout.  ``--only`` selects checks by id, topic
(``bind``, ``locks``, …), tag, needed class or level; ``--list`` prints the checks.
``--user2``/``--password2`` (``$DAVBIND_USER2``/``$DAVBIND_PASSWORD2``) name a second
user for the ``auth`` checks, whose own space is ``--url2`` (default: URL with the
segment named after ``--user`` renamed after ``--user2``).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import click

from davbind.cli.connection import Options, resolve
from davbind.conformance import CannotConnect, all_checks, run, select
from davbind.conformance.report import RENDERERS, CheckResult, render_rich

EXIT_OK, EXIT_MUST_FAILED, EXIT_USAGE, EXIT_NO_CONNECTION, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


@click.command()
@click.argument("url", required=False)
@click.option("--only", "only", multiple=True, metavar="TAG",
              help="Run only checks matching TAG (id, topic, tag, class, level); repeatable.")
@click.option("--skip", "skip", multiple=True, metavar="TAG", help="Leave out checks matching TAG.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "junit"]), default="text",
              show_default=True, help="Report format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True),
              help="Write the report to this file.")
@click.option("--user", "-u", envvar="DAVBIND_USER", help="User name (Basic or Digest).")
@click.option("--password", envvar="DAVBIND_PASSWORD",
              help="Password [asked for on a terminal when --user has none].")
@click.option("--user2", envvar="DAVBIND_USER2",
              help="A second user, for the auth checks (needs its own space, see --url2).")
@click.option("--password2", envvar="DAVBIND_PASSWORD2",
              help="Password of --user2 [asked for on a terminal when missing].")
@click.option("--url2", metavar="URL",
              help="The second user's own collection [URL with the segment named after "
                   "--user renamed after --user2].")
@click.option("--timeout", type=float, default=30.0, show_default=True,
              help="Seconds per request.")
@click.option("--insecure", is_flag=True, help="Do not verify TLS certificates.")
@click.option("--list", "list_only", is_flag=True, help="List the checks and exit.")
@click.option("--verbose", "-v", is_flag=True, help="Print each verdict as it comes (stderr).")
def check(
    url: str | None,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    fmt: str,
    output: str | None,
    user: str | None,
    password: str | None,
    user2: str | None,
    password2: str | None,
    url2: str | None,
    timeout: float,
    insecure: bool,
    list_only: bool,
    verbose: bool,
) -> None:
    """Check the WebDAV server at URL against RFC 4918 and RFC 5842 (bindings).

    URL must be a collection the checks may write in: they work inside a scratch
    collection davbind-check-<random>/ below it, removed at the end (also on Ctrl-C).

    \b
    The auth checks (--only auth):
      auth.challenge       no credentials: 401 with a Basic challenge (needs --user)
      auth.wrong-password  a wrong password: 401 with a challenge, not 403
      auth.no-leak         --user2 learns no name of --user's folder: not from its own
                           space's listings, 208s and DAV:parent-set, not from answers
                           (401/403/404) to requests for the folder (needs --user2)
      auth.shared-no-leak  davbind's sharing (POST /.well-known/davbind/shares): a
                           read-only share is the same resource in --user2's Shared/,
                           refuses PUT, names nothing above it, and revoking ends it
    Example: davbind check https://host/home/alice/ -u alice --user2 bob

    Exit status: 0 no MUST failed, 1 a MUST failed or set-up/clean-up went wrong,
    2 usage error, 3 server unreachable, 130 interrupted.
    """
    chosen = select(all_checks(), only, skip)
    if list_only:
        for spec in chosen:
            needs = f" [needs {', '.join(spec.needs)}]" if spec.needs else ""
            click.echo(f"{spec.id:42} {spec.level:6} RFC {spec.rfc}{needs}\n"
                       f"{'':42} {spec.title}")  # fmt: skip
        return
    if url is None:
        url = os.environ.get("DAVBIND_URL")
    if url is None:
        raise click.UsageError("give the URL of a WebDAV collection (or --list)")
    if not chosen:
        raise click.UsageError("no check matches --only/--skip (see --list)")
    target = resolve(url)
    auth = Options(user, password, insecure, timeout).credentials(target)
    url = target.url
    second = None
    if user2:
        if auth is None:
            raise click.UsageError("--user2 needs --user: the auth checks compare two users")
        second = Options(user2, password2, insecure, timeout).credentials(target)
    elif password2 or url2:
        raise click.UsageError("--password2 and --url2 need --user2")
    if url2 is not None:
        url2 = resolve(url2).url

    def progress(result: CheckResult) -> None:
        if verbose:
            click.echo(f"{result.result.upper():4} {result.id}", err=True)

    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        report = run(url, checks=chosen, auth=auth, timeout=timeout, verify=not insecure,
                     progress=progress, second=second, second_url=url2)  # fmt: skip
    except CannotConnect as exc:
        click.echo(f"davbind check: cannot connect: {exc}", err=True)
        sys.exit(EXIT_NO_CONNECTION)
    except KeyboardInterrupt:
        click.echo("davbind check: interrupted; the scratch collection was removed", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if output is not None:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(RENDERERS[fmt](report))
    elif fmt == "text" and sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        from rich.console import Console

        console = Console(highlight=False)
        for style, line in render_rich(report):
            console.print(line, style=style, markup=False)
    else:
        click.echo(RENDERERS[fmt](report), nl=False)
    sys.exit(EXIT_OK if report.ok else EXIT_MUST_FAILED)
