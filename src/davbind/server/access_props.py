"""The live properties that depend on who asks (docs/permissions.md):

* ``DAV:current-user-privilege-set`` (RFC 3744 §5.4): the privileges the request has on
  the resource at the URL it was reached by (``server.access``);
* ``DAV:owner`` (RFC 3744 §5.1) and ``DAV:current-user-principal`` (RFC 5397 §3): the
  principal's URL.  davbind serves no RFC 3744 principal resources; a user's principal
  URL is their home collection, ``/home/<name>/``.  A resource the server owns has an
  empty ``DAV:owner``; an anonymous request's principal is ``DAV:unauthenticated``;
* ``DAV:quota-used-bytes`` and ``DAV:quota-available-bytes`` (RFC 4331 §3, §4), on
  collections: the owner's usage (logical bytes, ``storage.grants``) and what their
  quota leaves (not defined when the owner has no quota, or the server owns it);
* ``oc:permissions``: the letters Nextcloud clients read to decide what to offer: ``G``
  readable, ``D``/``N``/``V`` deletable, renamable, movable (unbind on the parent),
  ``W`` writable (a file's write-content), ``C``/``K`` may create files and folders in it
  (bind on a collection), ``R`` may share, ``S`` shared with the user (someone else
  owns it).

None is in ``allprop`` (RFC 4331 §3 asks that of the quota ones; the others cost a
lookup each): a client names them.
"""

from __future__ import annotations

from dataclasses import dataclass

from davbind.protocol.paths import href
from davbind.protocol.xmlbody import escape_text
from davbind.server.access import PathAccess, Privilege
from davbind.storage.grants import NAMES
from davbind.storage.homes import HOME_PARENT
from davbind.storage.interface import Txn
from davbind.storage.model import Resource

DAV = "{DAV:}"
OC_NS = "http://owncloud.org/ns"
PRIVILEGES = DAV + "current-user-privilege-set"
OWNER = DAV + "owner"
PRINCIPAL = DAV + "current-user-principal"
QUOTA_USED = DAV + "quota-used-bytes"
QUOTA_AVAILABLE = DAV + "quota-available-bytes"
OC_PERMISSIONS = "{" + OC_NS + "}permissions"

NAMES_HERE = (PRIVILEGES, OWNER, PRINCIPAL, QUOTA_USED, QUOTA_AVAILABLE, OC_PERMISSIONS)


@dataclass(frozen=True, slots=True)
class Asked:
    """A resource at a URL, seen by one request."""

    txn: Txn
    access: PathAccess | None
    resource: Resource
    segments: tuple[str, ...]

    def privileges(self) -> Privilege:
        if self.access is None:
            return Privilege.ALL
        return self.access.member_step(self.segments, self.resource).privileges

    def parent_privileges(self) -> Privilege:
        if self.access is None:
            return Privilege.ALL
        if not self.segments:
            return Privilege.NONE
        above = self.access.at(self.segments[:-1])
        return Privilege.NONE if above is None else above.privileges


def principal_href(user: str) -> str:
    return href((*HOME_PARENT, user), True)


def _quota(asked: Asked) -> tuple[int, int | None] | None:
    owner = asked.resource.owner
    if owner is None or not asked.resource.is_collection:
        return None
    return asked.txn.usage(owner), asked.txn.quota(owner)


def value(name: str, asked: Asked) -> str | int | list[str] | None:
    """The property's value in JSON terms (None: not defined here)."""
    if name == PRIVILEGES:
        held = asked.privileges()
        return [n for flag, n in NAMES.items() if flag in held]
    if name == OWNER:
        return "" if asked.resource.owner is None else principal_href(asked.resource.owner)
    if name == PRINCIPAL:
        user = asked.access.access.user if asked.access is not None else None
        return "" if user is None else principal_href(user)
    if name in (QUOTA_USED, QUOTA_AVAILABLE):
        quota = _quota(asked)
        if quota is None:
            return None
        used, limit = quota
        if name == QUOTA_USED:
            return used
        return None if limit is None else max(0, limit - used)
    if name == OC_PERMISSIONS:
        return _oc_letters(asked)
    raise KeyError(name)


def _oc_letters(asked: Asked) -> str:
    held = asked.privileges()
    letters = ""
    user = asked.access.access.user if asked.access is not None else None
    if user is not None and asked.resource.owner not in (None, user):
        letters += "S"
    if Privilege.SHARE in held:
        letters += "R"
    if Privilege.READ in held:
        letters += "G"
    if Privilege.UNBIND in asked.parent_privileges():
        letters += "DNV"
    if asked.resource.is_collection:
        if Privilege.BIND in held:
            letters += "CK"
    elif Privilege.WRITE_CONTENT in held:
        letters += "W"
    return letters


def xml(name: str, asked: Asked) -> str | None:
    """The property's element (None: not defined here)."""
    got = value(name, asked)
    if got is None:
        return None
    if name == PRIVILEGES:
        assert isinstance(got, list)
        inner = "".join(f"<D:privilege><D:{n}/></D:privilege>" for n in got)
        return f"<D:current-user-privilege-set>{inner}</D:current-user-privilege-set>"
    if name in (OWNER, PRINCIPAL):
        local = name[len(DAV):]
        if got == "":
            inner = "<D:unauthenticated/>" if name == PRINCIPAL else ""
        else:
            inner = f"<D:href>{escape_text(str(got))}</D:href>"
        return f"<D:{local}>{inner}</D:{local}>" if inner else f"<D:{local}/>"
    if name in (QUOTA_USED, QUOTA_AVAILABLE):
        local = name[len(DAV):]
        return f"<D:{local}>{got}</D:{local}>"
    return f'<oc:permissions xmlns:oc="{OC_NS}">{got}</oc:permissions>'
