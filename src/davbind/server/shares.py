"""Sharing over HTTP: ``POST /.well-known/davbind/shares`` (docs/permissions.md).

The body is JSON: ``{"path": "/home/alice/Project/", "with": "bob", "access": "read"}``,
``access`` one of ``read``, ``write`` (read and write) or ``none`` (revoke); ``with`` a
user name or ``*`` (every signed-in user).  The request needs the ``share`` privilege on
the resource at ``path`` (an owner has it), and grants no privilege it does not hold
itself.  The answer is 200 with ``{"path", "with", "access", "bound_at"}``: where the
resource now appears in the recipient's space (``null`` for ``*`` or a revocation).
What it does is ``storage.sharing``'s, the same as ``davbind share``'s.
"""

from __future__ import annotations

import json

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import href, split_path
from davbind.server.access import PathAccess, Privilege
from davbind.server.http import Request, Response
from davbind.server.services import Services
from davbind.storage.grants import AUTHENTICATED, READ_WRITE
from davbind.storage.interface import Txn
from davbind.storage.sharing import share, unshare

URL = "/.well-known/davbind/shares"
ACCESS = {"read": Privilege.READ, "write": READ_WRITE, "none": Privilege.NONE}


def _parse(body: bytes) -> tuple[tuple[str, ...], str, str]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DAVError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise DAVError(400, "the body must be a JSON object")
    path, who, access = doc.get("path"), doc.get("with"), doc.get("access", "write")
    if not isinstance(path, str) or not isinstance(who, str) or access not in ACCESS:
        raise DAVError(400, 'expected {"path": str, "with": str, "access": '
                            '"read" | "write" | "none"}')  # fmt: skip
    return split_path(path), who, str(access)


async def post(services: Services, request: Request) -> Response:
    if request.raw_path.rstrip("/") != URL:
        raise DAVError(405, "POST is only for sharing, at " + URL)
    if request.access.user is None and not request.access.unrestricted:
        raise DAVError(403, "log in to share")
    segments, who, access = _parse(await request.body(64 * 1024))
    principal = AUTHENTICATED if who == "*" else who
    wanted = ACCESS[access]

    def work(txn: Txn) -> dict[str, object]:
        paths = PathAccess(txn, request.access)
        at = paths.at(segments)
        if at is None or not at.readable:
            raise DAVError(404, f"{href(segments, False)} not found")
        if Privilege.SHARE not in at.privileges:
            raise DAVError(403, "you lack the share privilege there", ("need-privileges",))
        if wanted & ~at.privileges:
            raise DAVError(403, "a share cannot grant more than you hold", ("need-privileges",))
        bound = None
        if wanted == Privilege.NONE:
            unshare(txn, segments, principal)
        else:
            made = share(txn, segments, principal, wanted)
            bound = None if made.bound_at is None else href(made.bound_at, True)
        return {"path": href(segments, False), "with": who, "access": access, "bound_at": bound}

    answer = await services.threads.write(work)
    return Response(200, [("Content-Type", "application/json")], json.dumps(answer).encode())
