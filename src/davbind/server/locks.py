"""LOCK and UNLOCK (RFC 4918 §6, §7, §9.10, §9.11; RFC 5842 §9).

Locks live in the metadata store, so they survive restarts and every process sees them.
The lock root is the URL the lock was taken through.  LOCK on an unmapped URL makes an
empty non-collection resource (lock-empty, RFC 4918 §7.3) and answers 201.
A body-less LOCK refreshes the lock named in the ``If`` header (§9.10.2).
"""

from __future__ import annotations

import time
import uuid

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import Depth, parse_depth, parse_lock_token_header, parse_timeout
from davbind.protocol.multistatus import END, START, status_response
from davbind.protocol.paths import lock_path
from davbind.protocol.xmlbody import LockInfo, parse_lockinfo
from davbind.server.access import HOLDERS, PathAccess, Privilege
from davbind.server.http import Request, Response
from davbind.server.liveprops import activelock
from davbind.server.lock_rules import Guard, covering_locks, lock_href
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import Lock

XML = 'application/xml; charset="utf-8"'


def _body(lock: Lock) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<D:prop xmlns:D="DAV:"><D:lockdiscovery>'
        f"{activelock(lock)}</D:lockdiscovery></D:prop>\n"
    ).encode()


def _timeout(services: Services, request: Request) -> int:
    settings = services.settings
    if request.header("timeout") is None:
        return settings.lock_timeout_default
    return max(1, parse_timeout(request.header("timeout"), maximum=settings.lock_timeout_max))


async def lock(services: Services, request: Request) -> Response:
    body = await request.body(services.settings.max_xml_bytes)
    info = parse_lockinfo(body)
    timeout = _timeout(services, request)
    return await services.threads.write(lambda txn: _lock(txn, request, info, timeout))


def _lock(txn: Txn, request: Request, info: LockInfo | None, timeout: int) -> Response:
    target = locate(txn, request.segments, PathAccess(txn, request.access))
    guard = Guard(request, txn)
    if target.resource is not None:
        target.readable()
        target.need(Privilege.WRITE_CONTENT)  # RFC 3744 Appendix B: LOCK
    if info is None:  # refresh, §9.10.2
        if target.resource is None:
            raise DAVError(404, "not found")
        held = {lk.token: lk for lk in covering_locks(txn, target.resource.key)}
        tokens = [t for t in guard.tokens if t in held]
        if not tokens:
            raise DAVError(
                412, "no lock token in If matches a lock on this resource",
                ("lock-token-matches-request-uri",),
            )
        refreshed = txn.refresh_lock(tokens[0], timeout)
        return Response(200, [("Content-Type", XML)], _body(refreshed))
    depth = parse_depth(request.header("depth"), default=Depth.INFINITY,
                        allowed=frozenset({Depth.ZERO, Depth.INFINITY}))
    exclusive = info.scope == "exclusive"
    created = False
    if target.resource is None:
        if target.parent is None:
            raise DAVError(409, "the parent collection does not exist")
        target.need_parent(Privilege.BIND)  # a lock-null resource is a new member
        guard.modify(target.parent)
        guard.check_if()
        resource = txn.create(target.parent.key, target.segment, collection=False,
                              content_type="application/octet-stream")
        created = True
    else:
        resource = target.resource
        guard.check_if()
    infinite = depth is Depth.INFINITY and resource.is_collection
    if infinite and not request.access.unrestricted and (
        not request.segments or request.segments in HOLDERS
    ):  # it would lock every home below, which no one request may write
        raise DAVError(403, "a Depth: infinity lock here would cover the users' homes",
                       ("need-privileges",))
    conflicts = [
        lk for lk in covering_locks(txn, resource.key) if lk.exclusive or exclusive
    ]
    if conflicts:
        raise DAVError(
            423, "a conflicting lock exists", ("no-conflicting-lock",),
            tuple(sorted({lock_href(lk.root) for lk in conflicts})),
        )
    if infinite:
        below = txn.descendants(resource.key)
        blockers = [lk for lk in txn.locks_on(below) if lk.exclusive or exclusive]
        if blockers:
            return _blocked(target.href, blockers)
    new = Lock(
        token=f"urn:uuid:{uuid.uuid4()}",
        resource=resource.key,
        root=lock_path(request.segments) + ("/" if resource.is_collection else ""),
        infinite=infinite,
        exclusive=exclusive,
        owner_xml=info.owner_xml,
        principal=request.principal,
        timeout=timeout,
        expires=time.time() + timeout,
    )
    txn.add_lock(new)
    headers = [("Content-Type", XML), ("Lock-Token", f"<{new.token}>")]
    return Response(201 if created else 200, headers, _body(new))


def _blocked(request_href: str, blockers: list[Lock]) -> Response:
    """RFC 4918 §9.10.3: a depth-infinity lock refused because of members is a 207 naming
    each blocking resource (423) and the Request-URI (424 Failed Dependency)."""
    parts = [START]
    for root in sorted({lock_href(lk.root) for lk in blockers}):
        parts.append(status_response(root, 423, "<D:no-conflicting-lock/>"))
    parts.append(status_response(request_href, 424))
    parts.append(END)
    return Response(207, [("Content-Type", XML)], "".join(parts).encode())


async def unlock(services: Services, request: Request) -> Response:
    """RFC 4918 §9.11: 204; 409 ``lock-token-matches-request-uri`` if not in scope.
    Any URL of the locked resource may be used (RFC 5842 §9.1)."""
    if request.has_body():
        raise DAVError(415, "UNLOCK does not take a request body")
    token = parse_lock_token_header(request.header("lock-token"))

    def work(txn: Txn) -> None:
        target = locate(txn, request.segments, PathAccess(txn, request.access))
        resource = target.readable()
        held = {lk.token: lk for lk in covering_locks(txn, resource.key)}
        if token not in held:
            raise DAVError(
                409, "that lock token does not lock this resource",
                ("lock-token-matches-request-uri",),
            )
        lock = held[token]
        if lock.principal != request.principal:  # RFC 3744 §3.5: another's lock
            target.need(Privilege.WRITE_CONTENT)
        txn.remove_lock(token)

    await services.threads.write(work)
    return Response(204)
