"""``Txn.fingerprint``: equal at two snapshots only if nothing an answer about that
resource (and with ``members``, its members) shows has changed (contract).

The response cache keeps answers across unrelated commits on its strength, so every kind
of change below must move it, and changes elsewhere must not.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

import pytest

from davbind.storage.interface import MetadataStore, Txn
from davbind.storage.model import DeadProp, Resource

MakeFile = Callable[..., Resource]


def seed(store: MetadataStore, make_file: MakeFile) -> None:
    with store.write() as txn:
        root = txn.root.key
        a = txn.create(root, "a", collection=True)
        b = txn.create(root, "b", collection=True)
        make_file(txn, a.key, "f", b"one")
        make_file(txn, a.key, "g", b"two")
        txn.create(a.key, "sub", collection=True)
        make_file(txn, b.key, "x", b"elsewhere")


def prints(store: MetadataStore) -> dict[str, tuple[int, ...] | None]:
    with store.read() as txn:
        return {
            "a/ members": txn.fingerprint(("a",), True),
            "a/": txn.fingerprint(("a",), False),
            "a/f": txn.fingerprint(("a", "f"), False),
        }


def key(txn: Txn, *path: str) -> int:
    return txn.resolve(path).key


def test_missing_paths_have_none(store: MetadataStore, make_file: MakeFile) -> None:
    seed(store, make_file)
    with store.read() as txn:
        assert txn.fingerprint(("nowhere",), False) is None
        assert txn.fingerprint(("a", "f", "below-a-file"), True) is None
        assert txn.fingerprint((), True) is not None


def test_changes_elsewhere_and_reads_keep_it(store: MetadataStore, make_file: MakeFile) -> None:
    seed(store, make_file)
    before = prints(store)
    with store.write() as txn:
        b = key(txn, "b")
        make_file(txn, b, "y", b"more elsewhere")
        txn.set_dead_prop(key(txn, "b", "x"), DeadProp("{urn:z}c", "<Z:c xmlns:Z='urn:z'/>"))
        txn.store_cache([(key(txn, "a", "f"), txn.get(key(txn, "a", "f")).cgen, "text")])
    assert prints(store) == before


def new_content(txn: Txn, mk: MakeFile) -> None:
    donor = mk(txn, key(txn, "b"), "donor", b"new content")
    assert donor.digest is not None
    txn.set_content(key(txn, "a", "f"), donor.digest, donor.size, None)


def rename(txn: Txn, mk: MakeFile) -> None:
    txn.bind(key(txn, "a"), "g2", key(txn, "a", "g"))
    txn.unbind(key(txn, "a"), "g")


def through_other_binding(txn: Txn, mk: MakeFile) -> None:
    txn.bind(key(txn, "b"), "alias", key(txn, "a", "f"))
    txn.set_dead_prop(key(txn, "b", "alias"), DeadProp("{urn:z}q", "<Z:q/>"))


PROP = DeadProp("{urn:z}p", "<Z:p/>")
CHANGES: dict[str, tuple[Callable[[Txn, MakeFile], object], set[str]]] = {
    "content of a member": (new_content, {"a/ members", "a/f"}),
    "dead property of a member": (
        lambda txn, mk: txn.set_dead_prop(key(txn, "a", "f"), PROP), {"a/ members", "a/f"}),
    "dead property of the collection": (
        lambda txn, mk: txn.set_dead_prop(key(txn, "a"), PROP), {"a/ members", "a/"}),
    "a member added": (lambda txn, mk: mk(txn, key(txn, "a"), "h", b"3"), {"a/ members", "a/"}),
    "a member removed": (lambda txn, mk: txn.unbind(key(txn, "a"), "g"), {"a/ members", "a/"}),
    "a member renamed": (rename, {"a/ members", "a/"}),
    "a member's own members": (
        lambda txn, mk: mk(txn, key(txn, "a", "sub"), "deep", b"4"), {"a/ members"}),
    "a member changed through another binding": (through_other_binding, {"a/ members", "a/f"}),
}  # fmt: skip


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_every_change_an_answer_shows_moves_it(
    store: MetadataStore, make_file: MakeFile, change: str
) -> None:
    seed(store, make_file)
    before = prints(store)
    apply, moved = CHANGES[change]
    with store.write() as txn:
        apply(txn, make_file)
    after = prints(store)
    for name in before:
        if name in moved:
            assert after[name] != before[name], (change, name)
    assert after["a/f"] is not None


def test_a_database_made_before_mgen_is_upgraded_on_open(
    urls: tuple[str, str], open_store: Callable[[], MetadataStore], make_file: MakeFile
) -> None:
    """A database from a release without ``mgen`` (no column, no trigger) gets both when
    it is opened, and member changes move the listing fingerprint from then on."""
    if not urls[0].startswith("sqlite"):
        pytest.skip("schema upgrade of the SQLite store")
    store = open_store()
    seed(store, make_file)
    store.close()
    path = urls[0].split("://", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER resources_mgen")
        conn.execute("ALTER TABLE resources DROP COLUMN mgen")
    store = open_store()
    before = prints(store)
    with store.write() as txn:
        txn.set_dead_prop(key(txn, "a", "f"), PROP)
    after = prints(store)
    assert after["a/ members"] != before["a/ members"]
    assert after["a/"] == before["a/"]


def test_two_processes_upgrading_at_once_both_open(
    urls: tuple[str, str], open_store: Callable[[], MetadataStore], make_file: MakeFile,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The second of two stores opening a pre-mgen database at the same moment finds the
    column added by the first between its check and its ALTER: it opens all the same."""
    if not urls[0].startswith("sqlite"):
        pytest.skip("schema upgrade of the SQLite store")
    open_store().close()
    path = urls[0].split("://", 1)[1]
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER resources_mgen")
        conn.execute("ALTER TABLE resources DROP COLUMN mgen")
    real_connect = sqlite3.connect

    class Racing(sqlite3.Connection):
        def execute(self, sql: str, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
            if sql.startswith("ALTER TABLE resources ADD COLUMN mgen"):
                # the other process adds it between this one's check and its ALTER
                with real_connect(path) as other:
                    other.execute(sql)
            return super().execute(sql, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: real_connect(*a, factory=Racing, **k))
    store = open_store()
    seed(store, make_file)
    assert prints(store)["a/ members"] is not None
