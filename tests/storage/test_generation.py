"""``MetadataStore.generation``: the response cache's only source of truth (contract).

It must change after every commit, whoever commits (this store, or another store over
the same data, i.e. another worker process), and must not change on reads or on a
write transaction that rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from davbind.storage.interface import MetadataStore


def test_generation_changes_with_every_commit_only(
    store: MetadataStore, open_store: Callable[[], MetadataStore], make_file: Any
) -> None:
    g0 = store.generation()
    with store.read() as txn:
        assert txn.root.is_collection
    assert store.generation() == g0
    with store.write() as txn:
        make_file(txn, txn.root.key, "a", b"one")
    g1 = store.generation()
    assert g1 != g0

    with pytest.raises(RuntimeError), store.write() as txn:
        make_file(txn, txn.root.key, "b", b"two")
        raise RuntimeError("roll back")
    assert store.generation() == g1

    other = open_store()  # another process's store over the same files
    with other.write() as txn:
        make_file(txn, txn.root.key, "c", b"three")
    g2 = store.generation()
    assert g2 != g1
    assert store.generation() == g2
