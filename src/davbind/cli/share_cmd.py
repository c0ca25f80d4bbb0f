"""``davbind share``: share a folder or file with a user (docs/permissions.md), and
``davbind user quota``'s sibling for grants: everything here runs on the data
directory, like ``davbind user`` (``--data`` or ``DAVBIND_DATA_DIR``), and may run while
the server does; the server sees each change with its next request.

    davbind share /home/alice/Project --with bob              # read and write
    davbind share /home/alice/Project --with carol --read-only
    davbind share /home/alice/Project --with bob --revoke
    davbind share /public --with '*'                          # every signed-in user
    davbind shares [--user alice]                             # list the grants

Exit status: 0 done, 1 refused (unknown path or user), 2 bad usage.
"""

from __future__ import annotations

from pathlib import Path

import click

from davbind.cli.user_cmd import DATA, _fail, _read, _write
from davbind.protocol.errors import DAVError
from davbind.protocol.paths import href, split_path
from davbind.storage.grants import AUTHENTICATED, READ_WRITE, Privilege, privilege_names
from davbind.storage.interface import Txn
from davbind.storage.sharing import share, unshare


def _segments(path: str) -> tuple[str, ...]:
    try:
        return split_path(path if path.startswith("/") else "/" + path)
    except DAVError as exc:
        _fail(f"bad path {path!r}: {exc.message}", 2)
        raise  # unreachable


@click.command("share")
@click.argument("path")
@click.option("--with", "principal", required=True, metavar="USER",
              help="The user to share with; '*' for every signed-in user.")
@click.option("--read-only", is_flag=True, help="Grant read only (default: read and write).")
@click.option("--revoke", is_flag=True, help="End the share: the grant and the binding.")
@click.option("--allow-reshare", is_flag=True, help="Also grant the share privilege.")
@DATA
def share_cmd(path: str, principal: str, read_only: bool, revoke: bool, allow_reshare: bool,
              data_dir: Path) -> None:  # fmt: skip
    """Share PATH with a user: grant privileges on it and bind it into their Shared/."""
    segments = _segments(path)
    who = AUTHENTICATED if principal == "*" else principal
    if revoke:
        had = _write(data_dir, lambda txn: unshare(txn, segments, who))
        click.echo(f"revoked {principal}'s access to {href(segments, False)}" if had else
                   f"{principal} had no grant on {href(segments, False)}")  # fmt: skip
        return
    privileges = Privilege.READ if read_only else READ_WRITE
    if allow_reshare:
        privileges |= Privilege.SHARE

    def work(txn: Txn) -> str:
        made = share(txn, segments, who, privileges)
        if made.bound_at is None:
            return f"granted {principal} {'read' if read_only else 'read-write'} access"
        return f"shared with {principal} at {href(made.bound_at, True)}"

    click.echo(_write(data_dir, work))


@click.command("shares")
@click.option("--user", "owner", default=None, help="Only what this user owns.")
@DATA
def shares_cmd(owner: str | None, data_dir: Path) -> None:
    """List every grant: path, grantee ('*': every signed-in user), privileges."""
    from davbind.server.shares import granted  # the listing the HTTP API gives too

    def rows(txn: Txn) -> list[str]:
        return [f"{path}\t{who}\t{','.join(privilege_names(grant.privileges))}"
                for path, who, grant in granted(txn, owner)]  # fmt: skip

    for line in _read(data_dir, rows):
        click.echo(line)
