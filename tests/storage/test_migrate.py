"""``davbind migrate`` (``storage.migrate``): a whole store copied between backends, with
its keys, verified, resumable.

The round trip sqlite+file -> postgresql+s3 -> sqlite+file needs the PostgreSQL and S3
test services (skipped without them, failed in CI without them, as the rest of
tests/storage); the other tests run on every target pair available.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import postgres_databases
import pytest
from click.testing import CliRunner

from davbind.cli.main import cli
from davbind.storage.accounts import AppToken, User
from davbind.storage.interface import INLINE_MAX
from davbind.storage.migrate import Endpoints, MigrationError, Progress, migrate
from davbind.storage.model import DeadProp, Lock
from davbind.storage.open import open_blobs, open_metadata

BIG = INLINE_MAX + 4096


def _blob(seed: int, size: int = BIG) -> bytes:
    return (seed.to_bytes(4, "big") * (size // 4 + 1))[:size]


def build(ends: Endpoints) -> dict[str, Any]:
    """A store with every kind of thing migrate must carry; returns facts for checks."""
    blobs = open_blobs(ends.blobs)
    store = open_metadata(ends.metadata, blobs)
    try:
        with store.write() as txn:
            root = txn.root_key
            a = txn.create(root, "a", collection=True)
            b = txn.create(a.key, "b", collection=True)
            txn.bind(b.key, "loop", a.key)  # a -> b -> a
            files = []
            for i in range(6):  # content kept as blobs
                upload = blobs.begin()
                upload.write(_blob(i))
                digest, size = txn.store_blob(upload)
                files.append(txn.create(b.key if i % 2 else a.key, f"big-{i}.bin",
                                        collection=False, digest=digest, size=size,
                                        content_type="application/octet-stream"))  # fmt: skip
            for i in range(3):  # content kept inline
                digest, size = txn.store_inline(f"small file {i}\n".encode())
                files.append(txn.create(root, f"small-{i}.txt", collection=False, digest=digest,
                                        size=size, content_type="text/plain"))  # fmt: skip
            txn.bind(root, "alias-of-big-0", files[0].key)  # several bindings to one
            txn.bind(b.key, "alias-of-small-0", files[6].key)
            txn.set_dead_prop(files[0].key, DeadProp("{urn:x}color", '<x:color xmlns:x="urn:x">red</x:color>'))  # noqa: E501
            txn.set_dead_prop(a.key, DeadProp("{urn:x}n", '<x:n xmlns:x="urn:x">7</x:n>'))
            gone = txn.create(root, "gone", collection=False)  # its key is never handed out again
            txn.unbind(root, "gone")
            owner, expires = "<D:href>me</D:href>", time.time() + 3600
            txn.add_lock(Lock("opaquelocktoken:1", files[1].key, "/a/big-1.bin", False, True,
                              owner, "alice", 3600, expires))  # fmt: skip
            txn.add_user(User("alice", "$argon2id$fake", 1.5, 2.5))
            txn.add_token(AppToken("t1", "alice", "laptop", "write", "d" * 64, 3.0))
            txn.set_damage({files[7].digest or "": "marked by a test"})
            return {"gone": gone.key, "big0": files[0], "small0": files[6]}
    finally:
        store.close()


def picture(ends: Endpoints) -> dict[str, Any]:
    """Everything a client or the server can see of a store, by resource id."""
    blobs = open_blobs(ends.blobs)
    store = open_metadata(ends.metadata, blobs)
    try:
        with store.read() as txn:
            out: dict[str, Any] = {"root": txn.root.rid, "resources": {}, "bindings": set()}
            queue, seen = [txn.root_key], set()
            while queue:
                key = queue.pop()
                if key in seen:
                    continue
                seen.add(key)
                res = txn.get(key)
                content = None
                if res.digest is not None:
                    content = txn.read_inline(res.digest)
                    if content is None:
                        with blobs.open(res.digest) as fh:
                            content = fh.read()
                    out.setdefault("damage", {})[res.digest] = txn.damage(res.digest)
                out["resources"][res.rid] = (res, txn.dead_props(key), content)
                for segment, child in txn.children(key):
                    out["bindings"].add((res.rid, segment, child.rid))
                    queue.append(child.key)
            out["locks"] = txn.all_locks(100)
            out["users"] = list(txn.users())
            out["tokens"] = txn.tokens("alice")
            out["secret"] = txn.token_secret()
            return out
    finally:
        store.close()


def _paths(pic: dict[str, Any]) -> set[str]:
    names = {rid: res for rid, (res, _, _) in pic["resources"].items()}
    return {f"{names[p].key}/{s}->{names[c].key}" for p, s, c in pic["bindings"]}


def fresh_key(ends: Endpoints) -> int:
    blobs = open_blobs(ends.blobs)
    store = open_metadata(ends.metadata, blobs)
    try:
        with store.write() as txn:
            return txn.create(txn.root_key, "after-the-move", collection=True).key
    finally:
        store.close()


def _sqlite(tmp: Path, name: str) -> Endpoints:
    return Endpoints(f"sqlite://{tmp}/{name}/meta.sqlite3", f"file://{tmp}/{name}/blobs")


@pytest.fixture
def source(tmp_path: Path) -> Endpoints:
    ends = _sqlite(tmp_path.resolve(), "source")
    build(ends)
    return ends


@pytest.fixture
def postgres_s3(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Callable[[], Endpoints]]:  # noqa: E501
    """Makes fresh postgresql+s3 endpoints (each database dropped at the end)."""
    made: list[str] = []

    def make() -> Endpoints:
        server = os.environ.get("DAVBIND_TEST_POSTGRES_URL", "")
        if not server:
            request.getfixturevalue("postgres_url")  # skips, or fails in CI
        made.append(postgres_databases.create(server, "davbind_test_"))
        return Endpoints(made[-1], request.getfixturevalue("s3_blob_url"))

    yield make
    if made:
        postgres_databases.drop(os.environ["DAVBIND_TEST_POSTGRES_URL"], made)


@pytest.fixture(params=["sqlite+file", "postgresql+s3"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Endpoints:
    if request.param == "sqlite+file":
        return _sqlite(tmp_path.resolve(), "target")
    made: Endpoints = request.getfixturevalue("postgres_s3")()
    return made


def test_round_trip_through_postgresql_and_s3_keeps_everything(
    source: Endpoints, tmp_path: Path, postgres_s3: Callable[[], Endpoints]
) -> None:
    before = picture(source)
    middle, back = postgres_s3(), _sqlite(tmp_path.resolve(), "back")
    there = migrate(source, middle)
    assert there.copied == 6 and there.skipped == 0 and there.rows["resources"] == 12
    assert picture(middle) == before
    again = migrate(middle, back)
    assert again.copied == 6
    after = picture(back)
    assert after == before
    assert _paths(after) == _paths(before) and len(after["bindings"]) == 14
    for ends in (middle, back):  # the key of "gone" (13) is never handed out again
        assert fresh_key(ends) == 14


def test_interrupted_content_copy_resumes(source: Endpoints, target: Endpoints) -> None:
    def stop_after_two(p: Progress) -> None:
        if p.phase == "content" and p.done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        migrate(source, target, jobs=1, progress=stop_after_two)
    assert picture(target)["bindings"] == set()  # no metadata was written
    report = migrate(source, target)
    assert report.skipped >= 2 and report.copied + report.skipped == 6
    assert picture(target) == picture(source)


def test_interrupted_metadata_copy_leaves_nothing_then_resumes(
    source: Endpoints, target: Endpoints
) -> None:
    def stop_in_the_middle(p: Progress) -> None:
        if p.phase == "metadata" and p.done == 4:
            raise RuntimeError("injected failure")

    with pytest.raises(RuntimeError, match="injected"):
        migrate(source, target, progress=stop_in_the_middle)
    empty = picture(target)
    assert empty["bindings"] == set() and empty["users"] == [] and empty["root"] != picture(source)["root"]  # noqa: E501
    report = migrate(source, target)
    assert report.skipped == 6 and report.copied == 0  # the content was all there already
    assert picture(target) == picture(source)


def test_a_finished_copy_is_verified_not_rewritten(source: Endpoints, target: Endpoints) -> None:
    migrate(source, target)
    assert migrate(source, target).already_done
    fresh_key(source)  # the source changes after the copy
    with pytest.raises(MigrationError, match="differs from it now"):
        migrate(source, target)


def test_refuses_a_target_that_is_not_empty(source: Endpoints, target: Endpoints) -> None:
    fresh_key(target)
    with pytest.raises(MigrationError, match="not empty"):
        migrate(source, target)


def _corrupt_blob(source: Endpoints, data: bytes) -> None:
    blobs = open_blobs(source.blobs)
    from hashlib import sha256

    path = blobs.path(sha256(data).hexdigest())
    assert path is not None and path.is_file()
    path.write_bytes(data[:-1] + b"!")


def test_a_corrupted_blob_stops_it_naming_the_resource(
    source: Endpoints, target: Endpoints
) -> None:
    _corrupt_blob(source, _blob(3))
    with pytest.raises(MigrationError) as raised:
        migrate(source, target)
    message = str(raised.value)
    assert "/a/b/big-3.bin" in message and "digest mismatch" in message
    assert picture(target)["bindings"] == set()


def test_corrupted_inline_content_stops_it(source: Endpoints, target: Endpoints) -> None:
    path = source.metadata.removeprefix("sqlite://")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE inline_blobs SET data = X'00' WHERE data = ?", (b"small file 1\n",))
    with pytest.raises(MigrationError, match=r"/small-1\.txt.*inline content hashes"):
        migrate(source, target)
    assert picture(target)["bindings"] == set()


def test_schemas_that_differ_are_refused(source: Endpoints, tmp_path: Path) -> None:
    target = _sqlite(tmp_path.resolve(), "other")
    fresh_key(target)  # creates it
    with sqlite3.connect(target.metadata.removeprefix("sqlite://")) as conn:
        conn.execute("DELETE FROM bindings")
        conn.execute("ALTER TABLE props ADD COLUMN extra TEXT")
    with pytest.raises(MigrationError, match="props has columns"):
        migrate(source, target)


def test_the_command(source: Endpoints, tmp_path: Path) -> None:
    data = tmp_path / "source"  # a data directory stands for its two URLs
    out = tmp_path / "copy"
    done = CliRunner().invoke(cli, ["migrate", "--from", str(data), "--to", str(out)])
    assert done.exit_code == 0, done.output
    assert "copied 6 content(s)" in done.output and "verified" in done.output
    assert picture(_sqlite(tmp_path.resolve(), "copy")) == picture(source)
    _corrupt_blob(source, _blob(5))
    again = CliRunner().invoke(cli, ["migrate", "--from", str(data), "--to", str(tmp_path / "x")])
    assert again.exit_code == 1 and "/a/b/big-5.bin" in again.output
    assert "Traceback" not in again.output
    usage = CliRunner().invoke(cli, ["migrate", "--from", str(data), "--to", "postgresql://x/y"])
    assert usage.exit_code == 2 and "--blobs-to is needed" in usage.output


def test_owners_grants_usage_and_quotas_travel(tmp_path: Path, target: Endpoints) -> None:
    """Including a user over their quota (lowered after the fact): the copy must not be
    refused by the target's quota check, and the quota holds on the target after."""
    from davbind.storage.grants import Privilege
    from davbind.storage.homes import make_home
    from davbind.storage.model import QuotaExceeded

    src = _sqlite(tmp_path.resolve(), "owned")
    store = open_metadata(src.metadata, open_blobs(src.blobs))
    try:
        with store.write() as txn:
            txn.add_user(User("erin", "$argon2id$fake", 1.0, 1.0))
            home = make_home(txn, "erin")
            digest, size = txn.store_inline(b"erin's notes, 25 bytes..\n")
            txn.create(home.key, "notes.txt", collection=False, digest=digest, size=size)
            txn.set_grant(home.key, "*authenticated", Privilege.READ)
            txn.set_quota("erin", 10)  # below her usage
    finally:
        store.close()
    migrate(src, target)
    store = open_metadata(target.metadata, open_blobs(target.blobs))
    try:
        with store.read() as txn:
            notes = txn.resolve(("home", "erin", "notes.txt"))
            assert notes.owner == "erin" and txn.usage("erin") == len(b"erin's notes, 25 bytes..\n")
            assert txn.quota("erin") == 10
            assert txn.grants_on([home.key]) == {home.key: {"*authenticated": Privilege.READ}}
        with pytest.raises(QuotaExceeded), store.write() as txn:
            digest, size = txn.store_inline(b"more")
            txn.create(home.key, "more.txt", collection=False, digest=digest, size=size)
        with store.write() as txn:
            txn.unbind(home.key, "notes.txt")
            assert txn.usage("erin") == 0
    finally:
        store.close()
