"""``davbind`` command group (the cli layer, docs/architecture.md).

Subcommands are imported when they run, not when the group is built: ``davbind serve``
then loads the server and not the client, checker and mock (and the worker processes
uvicorn spawns, which import this module again, stay as small).
"""

from __future__ import annotations

import importlib

import click

from davbind import __version__

CLIENT = "davbind.cli.client_cmds"
TRANSFER = "davbind.cli.transfer_cmds"
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("davbind.cli.serve", "serve"),
    "mock": ("davbind.cli.mock_cmd", "mock"),
    "check": ("davbind.cli.check_cmd", "check"),
    "import": ("davbind.cli.import_cmd", "import_cmd"),
    "export": ("davbind.cli.export_cmd", "export_cmd"),
    "remote": ("davbind.cli.remote_cmd", "remote"),
    "fsck": ("davbind.cli.fsck_cmd", "fsck_cmd"),
    "migrate": ("davbind.cli.migrate_cmd", "migrate_cmd"),
    "user": ("davbind.cli.user_cmd", "user"),
    "share": ("davbind.cli.share_cmd", "share_cmd"),
    "shares": ("davbind.cli.share_cmd", "shares_cmd"),
    "get": (TRANSFER, "get_cmd"),
    "put": (TRANSFER, "put_cmd"),
    **{name: (CLIENT, f"{name}_cmd") for name in (
        "ls", "tree", "info", "mkdir", "rm", "mv", "cp", "bind", "unbind", "rebind",
    )},
}  # fmt: skip


class LazyGroup(click.Group):
    """A group whose commands are looked up in ``COMMANDS`` and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        where = COMMANDS.get(cmd_name)
        if where is None:
            return None
        command = getattr(importlib.import_module(where[0]), where[1])
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="davbind")
def cli() -> None:
    """davbind: WebDAV server, client and test kit with RFC 5842 bindings."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
