#!/usr/bin/env python3
"""Benchmark: what deciding privileges costs a listing (docs/permissions.md).

In-process, without HTTP or authentication (the access is put in the ASGI scope as
``server.auth`` would): PROPFIND Depth 1 of a collection of N files (10,000 by default)
in alice's home, and Depth infinity of a tree of the same size, asked

* unrestricted (a server without accounts: nothing to decide),
* as alice, the owner, with no grant in the store,
* as alice with grants in the store (a share elsewhere: each batch reads its grants),
* as bob, through a read-write share of the folder bound into his ``Shared/``.

Each is run ``--rounds`` times over the same snapshot-free store (every request reads
SQLite afresh, as after a change); reported: median milliseconds per request and the
ratio to the unrestricted run.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from davbind.server.access import UNRESTRICTED, Access
from davbind.server.app import App, build_services
from davbind.server.auth import ACCESS_KEY, USER_KEY
from davbind.server.settings import Settings
from davbind.storage.accounts import User
from davbind.storage.grants import READ_WRITE
from davbind.storage.homes import make_home
from davbind.storage.sharing import share


async def _propfind(app: App, path: str, depth: str, access: Access) -> float:
    scope: dict[str, Any] = {
        "type": "http", "method": "PROPFIND", "path": path, "raw_path": path.encode(),
        "query_string": b"", "headers": [(b"depth", depth.encode()), (b"host", b"bench")],
        "scheme": "http", "client": ("127.0.0.1", 1), ACCESS_KEY: access,
    }  # fmt: skip
    if access.user is not None:
        scope[USER_KEY] = access.user
    sent = 0
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal sent, status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            sent += len(message.get("body", b""))

    start = time.perf_counter()
    await app(scope, receive, send)
    took = time.perf_counter() - start
    if status != 207 or sent == 0:
        raise SystemExit(f"PROPFIND {path} as {access}: {status}")
    return took * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--members", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app = App(build_services(Settings(data_dir=str(Path(tmp) / "d")).resolved()))
        store = app.services.store
        with store.write() as txn:
            for name in ("alice", "bob", "carol"):
                txn.add_user(User(name, "$argon2id$x", 0, 0))
                make_home(txn, name)
            home = txn.resolve(("home", "alice"))
            flat = txn.create(home.key, "flat", collection=True)
            digest, size = txn.store_inline(b"x" * 100)
            for i in range(args.members):
                txn.create(flat.key, f"f{i:06d}.txt", collection=False, digest=digest,
                           size=size, content_type="text/plain")  # fmt: skip
            tree = txn.create(home.key, "tree", collection=True)
            per = max(1, int(args.members ** 0.5))
            for d in range(per):
                sub = txn.create(tree.key, f"d{d:04d}", collection=True)
                for i in range(per):
                    txn.create(sub.key, f"f{i:04d}.txt", collection=False, digest=digest,
                               size=size, content_type="text/plain")  # fmt: skip
        runs = [
            ("unrestricted", "/home/alice/{}/", UNRESTRICTED, False),
            ("alice, no grants", "/home/alice/{}/", Access("alice"), False),
            ("alice, grants exist", "/home/alice/{}/", Access("alice"), True),
            ("bob via a share", "/home/bob/Shared/{}/", Access("bob"), True),
        ]
        print(f"{args.members} members, {args.rounds} rounds, median ms per request",
              file=sys.stderr)  # fmt: skip
        for folder, depth in (("flat", "1"), ("tree", "infinity")):
            base = None
            for label, url, access, grants in runs:
                if grants:
                    with store.write() as txn:
                        for f in ("flat", "tree"):
                            share(txn, ("home", "alice", f), "bob", READ_WRITE)
                times = [asyncio.run(_propfind(app, url.format(folder), depth, access))
                         for _ in range(args.rounds)]  # fmt: skip
                ms = statistics.median(times)
                base = base or ms
                print(f"Depth {depth:8} {label:22} {ms:8.1f} ms  x{ms / base:.2f}")
        app.services.threads.close()
        store.close()


if __name__ == "__main__":
    main()
