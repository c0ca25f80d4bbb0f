"""Ownership, grants and quotas in the metadata store (docs/permissions.md).

* Every resource has an ``owner``: a user name, or ``None`` for what belongs to the
  server (the root, ``/home``, content made before any account existed).  A new resource
  takes the owner of the collection it is created in, whoever creates it, so what Bob
  uploads into a folder Alice shared with him is Alice's (and counts against her quota),
  as in every cloud-storage service.  A user's home is theirs (``homes.make_home``).
* A grant gives a principal privileges on one resource (RFC 3744 §3 names them; davbind
  adds ``share``).  The principal is a user name or ``AUTHENTICATED`` (every signed-in
  user).  Which privileges apply on a request is decided above storage, along the path
  the request used (``server.access``); storage only keeps the grants and removes a
  resource's grants with the resource.
* Usage is the sum of the sizes of the resources a user owns, each counted once however
  many bindings it has (logical bytes: content stored once for two resources counts
  twice, as the user sees two files).  Triggers keep it current in the transaction that
  changes a size or an owner, and refuse a change that takes a user over their quota
  (``quotas``), so every way of adding content is held to it, and a user over quota
  (after it was lowered) may still delete.

The SQL here is written once for both backends: ``GrantsQueries._P`` is the placeholder
of the driver.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from davbind.storage.model import QuotaExceeded

AUTHENTICATED = "*authenticated"
"""The principal of a grant to every signed-in user (no user name starts with ``*``)."""

QUOTA_MESSAGE = "davbind quota exceeded"
"""What the quota triggers raise; ``quota_error`` recognises it in a driver's error."""


class Privilege(enum.IntFlag):
    """RFC 3744 §3 privileges (``read``, ``write-content``, ``write-properties``,
    ``bind``, ``unbind``) and ``share``: to grant privileges one holds to others."""

    NONE = 0
    READ = 1
    WRITE_CONTENT = 2
    WRITE_PROPERTIES = 4
    BIND = 8
    UNBIND = 16
    SHARE = 32
    ALL = 63


READ_WRITE = (
    Privilege.READ | Privilege.WRITE_CONTENT | Privilege.WRITE_PROPERTIES
    | Privilege.BIND | Privilege.UNBIND
)  # fmt: skip
"""What ``davbind share`` grants without ``--read-only``."""

NAMES: dict[Privilege, str] = {
    Privilege.READ: "read",
    Privilege.WRITE_CONTENT: "write-content",
    Privilege.WRITE_PROPERTIES: "write-properties",
    Privilege.BIND: "bind",
    Privilege.UNBIND: "unbind",
    Privilege.SHARE: "share",
}


def privilege_names(privileges: Privilege) -> list[str]:
    return [name for flag, name in NAMES.items() if flag in privileges]


@dataclass(frozen=True, slots=True)
class Grant:
    key: int
    principal: str
    privileges: Privilege


class GrantsTxn(Protocol):
    """Ownership, grant and quota reads and writes of a metadata store transaction."""

    def has_grants(self) -> bool:
        """Whether any grant exists (a request without any skips the lookup)."""
        ...

    def grants_on(self, keys: Sequence[int]) -> dict[int, dict[str, Privilege]]:
        """The grants on each of ``keys`` that has any: principal -> privileges."""
        ...

    def grants_to(self, principal: str) -> list[Grant]:
        """Every grant to ``principal``."""
        ...

    def grants_by_owner(self, owner: str | None) -> list[Grant]:
        """Every grant on a resource ``owner`` owns (None: every grant there is)."""
        ...

    def set_grant(self, key: int, principal: str, privileges: Privilege) -> None:
        """Replace ``principal``'s grant on ``key``; ``Privilege.NONE`` removes it."""
        ...

    def set_owner(self, key: int, owner: str | None) -> None: ...

    def orphaned_shares(self) -> list[int]:
        """Resources with grants bound only in other users' collections: no collection of
        their owner (nor of the server, such as ``/home`` for a home) binds them any more,
        the owner having deleted or moved away their last binding
        (``sharing.end_orphaned_shares``)."""
        ...

    def usage(self, user: str) -> int:
        """Bytes of content ``user`` owns (module doc)."""
        ...

    def quota(self, user: str) -> int | None:
        """``user``'s quota in bytes, or None for none."""
        ...

    def set_quota(self, user: str, limit: int | None) -> None: ...


def quota_error(exc: BaseException) -> QuotaExceeded | None:
    """The ``QuotaExceeded`` a driver error means, when a quota trigger raised it."""
    if QUOTA_MESSAGE in str(exc):
        return QuotaExceeded("the owner's quota does not allow this much content")
    return None


OWNERS_FROM_HOMES = """
WITH RECURSIVE tree(key, name) AS (
  SELECT b2.child, b2.segment FROM bindings b1
    JOIN bindings b2 ON b2.parent = b1.child
    JOIN users u ON u.name = b2.segment
   WHERE b1.parent = (SELECT CAST(v AS bigint) FROM meta WHERE k = 'root')
     AND b1.segment = 'home'
  UNION
  SELECT b.child, t.name FROM tree t JOIN bindings b ON b.parent = t.key)
UPDATE resources SET owner = (SELECT min(t.name) FROM tree t WHERE t.key = resources.key)
 WHERE owner IS NULL AND key IN (SELECT key FROM tree)
"""
"""The migration that brought owners gives each existing user everything reachable from
their home that had no owner (both dialects)."""


class GrantsQueries:
    """``GrantsTxn`` over a DB-API connection ``_c``; mixed into both backends' ``Txn``."""

    _c: Any
    _P = "?"

    def has_grants(self) -> bool:
        return self._c.execute("SELECT 1 FROM grants LIMIT 1").fetchone() is not None

    def grants_on(self, keys: Sequence[int]) -> dict[int, dict[str, Privilege]]:
        out: dict[int, dict[str, Privilege]] = {}
        unique = list(dict.fromkeys(keys))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            marks = ",".join([self._P] * len(chunk))
            rows = self._c.execute(
                f"SELECT key, principal, privs FROM grants WHERE key IN ({marks})", chunk
            ).fetchall()
            for key, principal, privs in rows:
                out.setdefault(int(key), {})[str(principal)] = Privilege(int(privs))
        return out

    def grants_to(self, principal: str) -> list[Grant]:
        rows = self._c.execute(
            f"SELECT key, principal, privs FROM grants WHERE principal={self._P} ORDER BY key",
            (principal,),
        ).fetchall()
        return [Grant(int(k), str(p), Privilege(int(v))) for k, p, v in rows]

    def grants_by_owner(self, owner: str | None) -> list[Grant]:
        where, args = ("", ()) if owner is None else (f" WHERE r.owner={self._P}", (owner,))
        rows = self._c.execute(
            "SELECT g.key, g.principal, g.privs FROM grants g JOIN resources r ON r.key = g.key"
            f"{where} ORDER BY g.key, g.principal", args,
        ).fetchall()
        return [Grant(int(k), str(p), Privilege(int(v))) for k, p, v in rows]

    def set_grant(self, key: int, principal: str, privileges: Privilege) -> None:
        p = self._P
        if privileges == Privilege.NONE:
            self._c.execute(f"DELETE FROM grants WHERE key={p} AND principal={p}", (key, principal))
            return
        self._c.execute(
            f"INSERT INTO grants(key, principal, privs) VALUES ({p},{p},{p}) "
            "ON CONFLICT(key, principal) DO UPDATE SET privs=excluded.privs",
            (key, principal, int(privileges)),
        )

    def set_owner(self, key: int, owner: str | None) -> None:
        self._c.execute(f"UPDATE resources SET owner={self._P} WHERE key={self._P}", (owner, key))

    def orphaned_shares(self) -> list[int]:
        rows = self._c.execute(
            "SELECT DISTINCT g.key FROM grants g JOIN resources r ON r.key = g.key "
            "WHERE r.owner IS NOT NULL AND NOT EXISTS (SELECT 1 FROM bindings b "
            "JOIN resources p ON p.key = b.parent WHERE b.child = g.key "
            "AND (p.owner = r.owner OR p.owner IS NULL))"
        ).fetchall()
        return sorted(int(k) for (k,) in rows)

    def usage(self, user: str) -> int:
        row = self._c.execute(f"SELECT bytes FROM usage WHERE name={self._P}", (user,)).fetchone()
        return 0 if row is None else int(row[0])

    def quota(self, user: str) -> int | None:
        row = self._c.execute(f"SELECT bytes FROM quotas WHERE name={self._P}", (user,)).fetchone()
        return None if row is None else int(row[0])

    def set_quota(self, user: str, limit: int | None) -> None:
        p = self._P
        if limit is None:
            self._c.execute(f"DELETE FROM quotas WHERE name={p}", (user,))
            return
        self._c.execute(
            f"INSERT INTO quotas(name, bytes) VALUES ({p},{p}) "
            "ON CONFLICT(name) DO UPDATE SET bytes=excluded.bytes",
            (user, limit),
        )
