"""Sharing over HTTP: ``POST /.well-known/davbind/shares`` (docs/permissions.md).

The body is JSON: ``{"path": "/home/alice/Project/", "with": "bob", "access": "read"}``,
``access`` one of ``read``, ``write`` (read and write) or ``none`` (revoke); ``with`` a
user name or ``*`` (every signed-in user).  The request needs the ``share`` privilege on
the resource at ``path`` (an owner has it), and grants no privilege it does not hold
itself.  The answer is 200 with ``{"path", "with", "access", "bound_at"}``: where the
resource now appears in the recipient's space (``null`` for ``*`` or a revocation).
What it does is ``storage.sharing``'s, the same as ``davbind share``'s.

``GET`` of the same URL lists the caller's shares, as JSON: ``shared_by_me`` (what they
own and granted, ``{"path", "with", "access"}``) and ``shared_with_me`` (``{"path",
"owner", "access"}``, ``path`` where it appears in their space).  ``access`` is ``read``,
``write`` or the list of privilege names for any other grant.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from davbind.protocol.errors import DAVError
from davbind.protocol.paths import href, split_path
from davbind.server.access import PathAccess, Privilege, require
from davbind.server.http import Request, Response
from davbind.server.liveprops import canonical_path
from davbind.server.services import Services
from davbind.storage.grants import AUTHENTICATED, READ_WRITE, Grant, privilege_names
from davbind.storage.homes import HOME_PARENT
from davbind.storage.interface import Txn
from davbind.storage.sharing import SHARED, share, unshare

URL = "/.well-known/davbind/shares"
SEGMENTS = (".well-known", "davbind", "shares")
ACCESS = {"read": Privilege.READ, "write": READ_WRITE, "none": Privilege.NONE}


def _parse(body: bytes) -> tuple[tuple[str, ...], str, str]:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise DAVError(400, f"the body is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise DAVError(400, "the body must be a JSON object")
    path, who, access = doc.get("path"), doc.get("with"), doc.get("access", "write")
    if (not isinstance(path, str) or not isinstance(who, str) or not isinstance(access, str)
            or access not in ACCESS):  # fmt: skip
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
        # the share privilege, and every one granted: a share grants no more than held
        require(at.privileges, Privilege.SHARE | wanted, segments, False)
        bound = None
        if wanted == Privilege.NONE:
            unshare(txn, segments, principal)
        else:
            made = share(txn, segments, principal, wanted)
            bound = None if made.bound_at is None else href(made.bound_at, True)
        return {"path": href(segments, False), "with": who, "access": access, "bound_at": bound}

    answer = await services.threads.write(work)
    return Response(200, [("Content-Type", "application/json")], json.dumps(answer).encode())


def _access_name(privileges: Privilege) -> str | list[str]:
    for name, held in ACCESS.items():
        if held == privileges:
            return name
    return privilege_names(privileges)


def granted(txn: Txn, owner: str | None) -> Iterator[tuple[str, str, Grant]]:
    """(path, grantee, grant) of every grant on what ``owner`` owns (None: every grant),
    the path canonical (as ``DAV:parent-set`` names it), ``*`` for every signed-in user;
    also ``davbind shares``'s listing."""
    for grant in txn.grants_by_owner(owner):
        path = canonical_path(txn, grant.key)
        if path is not None:
            who = "*" if grant.principal == AUTHENTICATED else grant.principal
            yield href(path, txn.get(grant.key).is_collection), who, grant


def _where(txn: Txn, paths: PathAccess, key: int) -> str | None:
    """Where the principal reaches ``key``: a binding in their ``Shared/``, or its
    canonical path when they can read it there."""
    user = paths.access.user
    home = (*HOME_PARENT, user)
    found = []
    for parent, segment in txn.parents(key):
        path = canonical_path(txn, parent)
        if path is not None and user is not None and path[: len(home)] == home:
            found.append((path != (*home, SHARED), (*path, segment)))
    for _, full in sorted(found):  # its binding in Shared/ first
        if paths.readable_at(full):
            return href(full, txn.get(key).is_collection)
    path = canonical_path(txn, key)
    if path is not None and paths.readable_at(path):
        return href(path, txn.get(key).is_collection)
    return None


async def listing(services: Services, request: Request) -> Response:
    user = request.access.user
    if user is None:
        raise DAVError(403, "log in to list your shares")

    def work(txn: Txn) -> dict[str, object]:
        paths = PathAccess(txn, request.access)
        mine = [{"path": path, "with": who, "access": _access_name(grant.privileges)}
                for path, who, grant in granted(txn, user)]  # fmt: skip
        theirs = []
        for principal in (user, AUTHENTICATED):
            for grant in txn.grants_to(principal):
                owner = txn.get(grant.key).owner
                where = _where(txn, paths, grant.key)
                if owner == user or where is None:
                    continue
                theirs.append({"path": where, "owner": owner,
                               "access": _access_name(grant.privileges)})  # fmt: skip
        return {"shared_by_me": mine, "shared_with_me": theirs}

    answer = await services.threads.read(work)
    return Response(200, [("Content-Type", "application/json")], json.dumps(answer).encode())
