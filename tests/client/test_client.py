"""``Client`` and ``AsyncClient`` against a real ``davbind serve`` (and WsgiDAV as a peer).

Binding tests need BIND/UNBIND/REBIND on the server (RFC 5842 §4–§6); everything else
is RFC 4918 and runs against any server.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from davbind.client import (
    AsyncClient,
    Client,
    Conflict,
    Locked,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
)


def test_put_get_cat_with_progress(client: Client, space: str, tmp_path: Path) -> None:
    data = bytes(range(256)) * 8192  # 2 MiB: more than one chunk each way
    seen: list[tuple[int, int | None]] = []
    assert (
        client.put(space + "big.bin", io.BytesIO(data), progress=lambda d, t: seen.append((d, t)))
        == 201
    )
    assert seen[0] == (0, len(data)) and seen[-1] == (len(data), len(data)) and len(seen) > 2
    src = tmp_path / "src name.txt"
    src.write_bytes(b"from a path")
    assert client.put(space + "from path.txt", src) == 201
    assert client.put(space + "from path.txt", b"replaced") == 204
    out = tmp_path / "out.bin"
    got: list[int] = []
    assert client.get(space + "big.bin", out, progress=lambda d, t: got.append(d)) == len(data)
    assert out.read_bytes() == data and got[-1] == len(data)
    assert client.cat(space + "from path.txt") == b"replaced"
    assert client.cat(space + "big.bin", 256, 512) == data[256:512]
    assert client.cat(space + "big.bin", len(data) - 3) == data[-3:]


def test_namespace_operations(client: Client, space: str) -> None:
    client.makedirs(space + "a/b/c")
    client.makedirs(space + "a/b")  # exists: fine
    with pytest.raises(MethodNotAllowed):
        client.makedirs(space + "a/b", exist_ok=False)
    with pytest.raises(Conflict):
        client.mkcol(space + "missing/child/")
    client.put(space + "a/b/f.txt", b"f")
    assert client.copy(space + "a/", space + "copy/") == 201
    assert client.move(space + "copy/b/f.txt", space + "moved.txt") == 201
    with pytest.raises(PreconditionFailed):
        client.copy(space + "a/b/f.txt", space + "moved.txt", overwrite=False)
    client.delete(space + "copy/")
    assert not client.exists(space + "copy/")
    assert client.exists(space + "moved.txt")
    names = [n.name for n in client.ls(space).tree().children]
    assert names == ["a", "moved.txt"]
    with pytest.raises(NotFound) as info:
        client.delete(space + "nope")
    assert info.value.status == 404 and info.value.method == "DELETE"


def test_info_has_resource_id_and_moves_keep_it(client: Client, space: str) -> None:
    client.put(space + "x.txt", b"hello")
    before = client.info(space + "x.txt")
    assert before.resource_id and before.resource_id.startswith("urn:uuid:")
    assert before.size == 5 and not before.collection
    client.move(space + "x.txt", space + "y.txt")
    after = client.info(space + "y.txt")
    assert after.resource_id == before.resource_id  # RFC 5842 §2.5: MOVE keeps identity


def test_lock_unlock_and_proppatch(client: Client, space: str) -> None:
    client.put(space + "l.txt", b"v1")
    token = client.lock(space + "l.txt", owner="tester", timeout=60)
    assert token.token and token.timeout
    with pytest.raises(Locked) as info:
        client.put(space + "l.txt", b"v2")
    assert info.value.condition == "lock-token-submitted"
    client.put(space + "l.txt", b"v2", lock_token=token.token)
    client.unlock(space + "l.txt", token)
    client.put(space + "l.txt", b"v3")
    client.proppatch(space + "l.txt", {"{urn:test}colour": "blue"})
    assert client.info(space + "l.txt").text("{urn:test}colour") == "blue"
    client.proppatch(space + "l.txt", remove=["{urn:test}colour"])
    assert client.info(space + "l.txt").text("{urn:test}colour") is None


def build_shared_tree(client: Client, space: str) -> None:
    """a/shared/ (with f.txt and sub/), bound again as b/shared, and a loop shared/up -> a/."""
    client.makedirs(space + "a/shared/sub")
    client.makedirs(space + "b")
    client.put(space + "a/shared/f.txt", b"shared")
    assert client.bind(space + "a/shared/", space + "b/shared") == 201
    assert client.bind(space + "a/", space + "a/shared/up") == 201
    assert client.bind(space + "a/shared/f.txt", space + "b/f-too.txt") == 201


def expected_tree(space: str) -> list[tuple[str, tuple[str, ...]]]:
    return [
        (space, ()),
        (space + "a/", (space + "a/shared/up/",)),
        (space + "a/shared/", (space + "b/shared/",)),
        (space + "a/shared/f.txt", (space + "b/f-too.txt",)),
        (space + "a/shared/sub/", ()),
        (space + "b/", ()),
    ]


def test_walk_folds_bindings_and_loops(client: Client, space: str) -> None:
    build_shared_tree(client, space)
    listing = client.walk(space)
    assert listing.note == ""  # one Depth-infinity request
    assert [(e.href, e.aliases) for e in listing] == expected_tree(space)
    kinds = {n.href: n.kind for n in listing.tree().children[0].children}
    assert kinds[space + "a/shared/"] == "resource"
    shared = listing.get(space + "b/shared")
    assert shared is not None and shared.href == space + "a/shared/"


def test_bind_unbind_rebind(client: Client, space: str) -> None:
    client.put(space + "x.txt", b"x")
    client.bind(space + "x.txt", space + "y.txt")
    ls = client.ls(space)
    assert [(e.href, e.aliases) for e in ls.members()] == [(space + "x.txt", (space + "y.txt",))]
    assert client.rebind(space + "y.txt", space + "z.txt") == 201
    client.unbind(space + "x.txt")
    assert client.cat(space + "z.txt") == b"x"
    assert [e.href for e in client.ls(space).members()] == [space + "z.txt"]


def test_walk_falls_back_when_infinity_is_refused(
    davbind_factory: Callable[..., Any], tmp_path: Path
) -> None:
    config = tmp_path / "cap.toml"
    config.write_text("max_propfind_responses = 3\n")
    with davbind_factory(("--config", str(config))) as url, Client(url) as c:
        c.makedirs("/d/e/f")
        c.put("/d/e/f/g.txt", b"g")
        c.put("/d/h.txt", b"h")
        listing = c.walk("/")
    assert "403 propfind-finite-depth" in listing.note and "Depth: 1" in listing.note
    assert [e.href for e in listing] == ["/", "/d/", "/d/e/", "/d/e/f/", "/d/e/f/g.txt", "/d/h.txt"]


def test_walk_on_a_peer_without_bindings(wsgidav: Callable[..., Any]) -> None:
    with wsgidav(refuse_infinity=True) as (url, root):
        (root / "a" / "b").mkdir(parents=True)
        (root / "a" / "b" / "c d.txt").write_text("cd")
        (root / "e.txt").write_text("e")
        with Client(url) as c:
            listing = c.walk("/")
    assert "refused (403 propfind-finite-depth)" in listing.note
    assert sorted((e.href, e.resource_id, e.size) for e in listing) == [
        ("/", None, None), ("/a/", None, None), ("/a/b/", None, None),
        ("/a/b/c%20d.txt", None, 2), ("/e.txt", None, 1),
    ]  # fmt: skip


def test_async_client(davbind_url: str, space: str) -> None:
    async def scenario() -> tuple[list[tuple[str, tuple[str, ...]]], bytes, str | None, int]:
        async with AsyncClient(davbind_url) as c:
            await c.makedirs(space + "p/q")
            await c.put(space + "p/q/r.txt", io.BytesIO(b"async"))
            await c.bind(space + "p/q/", space + "again")
            listing = await c.walk(space)
            body = await c.cat(space + "again/r.txt")
            info = await c.info(space + "p/q/r.txt")
            buf = io.BytesIO()
            size = await c.get(space + "p/q/r.txt", buf)
            with pytest.raises(NotFound):
                await c.delete(space + "missing")
            return [(e.href, e.aliases) for e in listing], body, info.resource_id, size

    hrefs, body, rid, size = asyncio.run(scenario())
    assert hrefs == [  # "again" sorts first, so the server enumerates it (RFC 5842 §7.1)
        (space, ()), (space + "again/", (space + "p/q/",)), (space + "again/r.txt", ()),
        (space + "p/", ()),
    ]  # fmt: skip
    assert body == b"async" and rid is not None and size == 5
