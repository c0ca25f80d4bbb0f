"""PROPPATCH (RFC 4918 §9.2): document order, all or nothing, 207 with 424 for the rest.

Dead properties are stored as their whole element (namespaces kept, RFC 4918 §4.3).
Live properties are protected: 403 with ``cannot-modify-protected-property`` (§16).
"""

from __future__ import annotations

from collections.abc import Sequence

from davbind.protocol.errors import DAVError
from davbind.protocol.multistatus import CONTENT_TYPE, END, START, propstat, response
from davbind.protocol.xmlbody import PropRemove, PropSet, element_xml, parse_proppatch
from davbind.server.access import PathAccess, Privilege
from davbind.server.http import Request, Response
from davbind.server.liveprops import is_protected
from davbind.server.lock_rules import Guard
from davbind.server.services import Services
from davbind.server.target import locate
from davbind.storage.interface import Txn
from davbind.storage.model import DeadProp


def apply_sets(txn: Txn, key: int, props: Sequence[PropSet]) -> None:
    """Set dead properties at creation (RFC 5689); a protected name fails the request."""
    for p in props:
        if is_protected(p.name) and p.name != "{DAV:}resourcetype":
            raise DAVError(403, f"{p.name} is protected", ("cannot-modify-protected-property",))
        if p.name != "{DAV:}resourcetype":
            txn.set_dead_prop(key, DeadProp(p.name, p.value_xml))


async def proppatch(services: Services, request: Request) -> Response:
    body = await request.body(services.settings.max_xml_bytes)
    ops = parse_proppatch(body)

    def work(txn: Txn) -> bytes:
        target = locate(txn, request.segments, PathAccess(txn, request.access))
        resource = target.readable()
        target.need(Privilege.WRITE_PROPERTIES)
        guard = Guard(request, txn)
        guard.modify(resource)
        guard.check_if()
        failed = [op.name for op in ops if is_protected(op.name)]
        names = list(dict.fromkeys(op.name for op in ops))
        if failed:
            bad = set(failed)
            stats = [
                propstat(403, [element_xml(n) for n in names if n in bad],
                         "<D:cannot-modify-protected-property/>"),
            ]
            rest = [element_xml(n) for n in names if n not in bad]
            if rest:
                stats.append(propstat(424, rest))
        else:
            for op in ops:
                if isinstance(op, PropSet):
                    txn.set_dead_prop(resource.key, DeadProp(op.name, op.value_xml))
                else:
                    assert isinstance(op, PropRemove)
                    txn.remove_dead_prop(resource.key, op.name)
            stats = [propstat(200, [element_xml(n) for n in names])]
        return (START + response(target.href, stats) + END).encode()

    doc = await services.threads.write(work)
    return Response(207, [("Content-Type", CONTENT_TYPE)], doc)
