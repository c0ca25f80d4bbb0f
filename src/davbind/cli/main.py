"""``davbind`` command group (DESIGN.md cli layer)."""

from __future__ import annotations

import click

from davbind import __version__
from davbind.cli.check_cmd import check
from davbind.cli.client_cmds import COMMANDS as CLIENT_COMMANDS
from davbind.cli.mock_cmd import mock
from davbind.cli.serve import serve


@click.group()
@click.version_option(__version__, prog_name="davbind")
def cli() -> None:
    """davbind: WebDAV server, client and test kit with RFC 5842 bindings."""


cli.add_command(serve)
cli.add_command(mock)
cli.add_command(check)
for _command in CLIENT_COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
