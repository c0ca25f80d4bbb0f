"""The ``davbind`` group imports a subcommand only when it runs (``cli.main``)."""

from __future__ import annotations

import subprocess
import sys

import click
from click.testing import CliRunner

from davbind.cli.main import COMMANDS, cli


def test_every_listed_command_loads_under_its_name() -> None:
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == sorted(COMMANDS)
    for name in COMMANDS:
        command = cli.get_command(ctx, name)
        assert command is not None and command.name == name
    assert cli.get_command(ctx, "no-such-command") is None


def test_help_lists_them_all() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    for name in COMMANDS:
        assert f"  {name} " in out


def test_serve_loads_neither_client_nor_checker_nor_mock() -> None:
    code = (
        "import sys, click\n"
        "from davbind.cli.main import cli\n"
        "cli.get_command(click.Context(cli), 'serve')\n"
        "print(sorted(m for m in ('davbind.client', 'davbind.conformance', 'davbind.mock',"
        " 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    assert out.strip() == "[]"
