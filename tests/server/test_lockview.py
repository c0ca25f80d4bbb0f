"""``LockView`` (the lock state a listing reads once) answers exactly like the per-resource
``covering_locks`` query, through bindings and loops (RFC 4918 §6.1, RFC 5842 §9)."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from davbind.server.app import build_services
from davbind.server.liveprops import LockView
from davbind.server.lock_rules import covering_locks
from davbind.server.settings import Settings
from davbind.storage.interface import Txn
from davbind.storage.model import Lock


def _lock(key: int, root: str, infinite: bool) -> Lock:
    return Lock(
        token=f"urn:uuid:{uuid.uuid4()}", resource=key, root=root, infinite=infinite,
        exclusive=False, owner_xml=None, principal=None, timeout=600,
        expires=time.time() + 600,
    )  # fmt: skip


def _tree(txn: Txn) -> dict[str, int]:
    """/a/{f, s/{g}}, /b/ -> s (second binding), /a/s/up -> /a (loop), /c/{h}."""
    root = txn.root.key
    a = txn.create(root, "a", collection=True).key
    s = txn.create(a, "s", collection=True).key
    c = txn.create(root, "c", collection=True).key
    keys = {
        "a": a,
        "s": s,
        "c": c,
        "f": txn.create(a, "f", collection=False).key,
        "g": txn.create(s, "g", collection=False).key,
        "h": txn.create(c, "h", collection=False).key,
        "b": txn.create(root, "b", collection=True).key,
    }
    txn.bind(keys["b"], "s", s)
    txn.bind(s, "up", a)
    return keys


@pytest.mark.parametrize(
    "locks",
    [
        [],
        [("f", "/a/f", False)],
        [("s", "/b/s/", True)],
        [("a", "/a/", True), ("h", "/c/h", False)],
        [("s", "/a/s/", False), ("c", "/c/", True), ("g", "/b/s/g", False)],
    ],
    ids=["none", "direct", "deep-via-other-binding", "deep-on-loop", "mixed"],
)
@pytest.mark.parametrize("limit", [1000, 0], ids=["read-once", "fallback"])
def test_lockview_equals_covering_locks(
    tmp_path: Path, locks: list[tuple[str, str, bool]], limit: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = build_services(Settings(data_dir=str(tmp_path)).resolved())
    with services.store.write() as txn:
        keys = _tree(txn)
        for name, root, infinite in locks:
            txn.add_lock(_lock(keys[name], root, infinite))
    monkeypatch.setattr(LockView, "MAX_LOCKS", limit if locks else 1000)
    with services.store.read() as txn:
        view = LockView(txn)
        for key in [txn.root.key, *keys.values()]:
            expected = sorted(lk.token for lk in covering_locks(txn, key))
            assert sorted(lk.token for lk in view.covering(key)) == expected, key
    services.store.close()
