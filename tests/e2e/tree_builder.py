"""Build a large tree straight into a data directory through the storage API, before a
``davbind serve`` is started on it (thousands of requests would make the tests slow).

Run as a script, so the e2e test modules import nothing of davbind themselves::

    python tree_builder.py DATA_DIR KIND N

KIND ``wide``: N collections at the root (``c000000`` …) and ``/zz/`` with 2,000 files,
each also bound in one of those collections (so each file has two parents).
KIND ``chain``: collections ``/d/d/…`` N deep; at the bottom a file ``leaf`` bound a
second time as ``leaf2``, and ``up``, a binding back to the top (a loop).
KIND ``flat``: ``/big/`` with N members and ``/small/`` with N/10, names of 48 characters:
bindings of one file of 100 bytes (a binding is half the work of a new file to build,
and a listing does the same work for either).
"""

from __future__ import annotations

import sys
from pathlib import Path

from davbind.storage.interface import Txn
from davbind.storage.open import default_urls, open_blobs, open_metadata


def wide(txn: Txn, n: int) -> None:
    root = txn.root_key
    others = [txn.create(root, f"c{i:06d}", collection=True).key for i in range(n)]
    zz = txn.create(root, "zz", collection=True).key
    digest, size = txn.store_inline(b"hello")
    for i in range(2000):
        name = f"f{i:05d}"
        key = txn.create(zz, name, collection=False, digest=digest, size=size).key
        txn.bind(others[i * 7 % n], name, key)


def chain(txn: Txn, n: int) -> None:
    top = node = txn.create(txn.root_key, "d", collection=True).key
    for _ in range(n - 1):
        node = txn.create(node, "d", collection=True).key
    digest, size = txn.store_inline(b"the bottom")
    leaf = txn.create(node, "leaf", collection=False, digest=digest, size=size).key
    txn.bind(node, "leaf2", leaf)
    txn.bind(node, "up", top)


def flat(txn: Txn, n: int) -> None:
    digest, size = txn.store_inline(b"x" * 100)
    file = txn.create(txn.root_key, "file.txt", collection=False, digest=digest, size=size,
                      content_type="text/plain").key
    for name, count in (("small", n // 10), ("big", n)):
        parent = txn.create(txn.root_key, name, collection=True).key
        for i in range(count):
            txn.bind(parent, f"member-{i:07d}-{'n' * 33}.txt", file)


def main(data_dir: str, kind: str, n: str) -> None:
    meta, blob_url = default_urls(Path(data_dir))
    store = open_metadata(meta, open_blobs(blob_url))
    try:
        with store.write() as txn:
            {"wide": wide, "chain": chain, "flat": flat}[kind](txn, int(n))
    finally:
        store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
