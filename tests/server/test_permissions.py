"""Privileges and sharing by binding, in-process through authentication
(docs/permissions.md): the method x principal x path matrix with the store state after
each request, listings, ``DAV:parent-set`` and 208s that reveal nothing unreadable,
quotas, sharing over HTTP, MOVE into another owner's space, and answers never computed
for another principal."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from davbind.storage.grants import READ_WRITE, Privilege
from davbind.storage.sharing import share
from tests.server.test_auth import Server, bearer

DAVNS = "DAV:"
BIND_PROPFIND = {"Depth": "infinity", "DAV": "bind"}


class Team:
    """alice owns /home/alice/Project/ (doc.txt, sub/), shared read-write with bob and
    read-only with carol; dave has no grant; carol's /home/carol/Private/ is shared
    read-only with alice, who binds it into Project as ``carols`` (bob cannot read it)."""

    def __init__(self, data: Path, **settings: object) -> None:
        self.server = Server(data, **settings)
        self.tokens: dict[str, str] = {}
        for name in ("alice", "bob", "carol", "dave"):
            self.server.add_user(name, "pw-" + name)
            self.tokens[name] = self.server.add_token(name)[1]
        self.req("alice", "MKCOL", "/home/alice/Project/", 201)
        self.req("alice", "PUT", "/home/alice/Project/doc.txt", 201, b"original")
        self.req("alice", "MKCOL", "/home/alice/Project/sub/", 201)
        self.req("carol", "MKCOL", "/home/carol/Private/", 201)
        self.req("carol", "PUT", "/home/carol/Private/secret.txt", 201, b"carol only")
        with self.server.services.store.write() as txn:
            share(txn, ("home", "alice", "Project"), "bob", READ_WRITE)
            share(txn, ("home", "alice", "Project"), "carol", Privilege.READ)
            share(txn, ("home", "carol", "Private"), "alice", Privilege.READ)
        bind = ('<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>carols</D:segment>'
                "<D:href>/home/alice/Shared/Private/</D:href></D:bind>")  # fmt: skip
        self.req("alice", "BIND", "/home/alice/Project/", 201, bind.encode())

    def req(self, who: str | None, method: str, url: str, expect: int | None = None,
            body: bytes | None = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
        h = dict(headers or {})
        if who is not None:
            h.update(bearer(self.tokens[who]))
        r = self.server.request(method, url, h, body)
        if expect is not None:
            assert r.status_code == expect, (who, method, url, r.status_code, r.text)
        return r

    def content(self, path: str) -> bytes:
        return self.req("alice", "GET", path, 200).content

    def close(self) -> None:
        self.server.services.threads.close()
        self.server.services.store.close()


@pytest.fixture
def team(tmp_path: Path) -> Iterator[Team]:
    t = Team(tmp_path / "d")
    yield t
    t.close()


def hrefs(body: str) -> list[str]:
    return re.findall(r"<D:href>([^<]*)</D:href>", body)


OWN = "/home/alice/Project/"
SHARED = {"bob": "/home/bob/Shared/Project/", "carol": "/home/carol/Shared/Project/"}
LOCK = (b'<?xml version="1.0"?><D:lockinfo xmlns:D="DAV:"><D:lockscope><D:exclusive/>'
        b"</D:lockscope><D:locktype><D:write/></D:locktype></D:lockinfo>")  # fmt: skip
PATCH = (b'<?xml version="1.0"?><D:propertyupdate xmlns:D="DAV:" xmlns:x="urn:x"><D:set>'
         b"<D:prop><x:tag>t</x:tag></D:prop></D:set></D:propertyupdate>")  # fmt: skip

# (principal, base) -> expected statuses per operation; "ok" = the method's success
ROWS = {
    ("alice", OWN): dict.fromkeys(
        ("GET", "PROPFIND", "PUT", "PROPPATCH", "MKCOL", "COPY", "MOVE", "DELETE", "LOCK"), "ok"),
    ("bob", "shared"): dict.fromkeys(
        ("GET", "PROPFIND", "PUT", "PROPPATCH", "MKCOL", "COPY", "MOVE", "DELETE", "LOCK"), "ok"),
    ("carol", "shared"): {"GET": "ok", "PROPFIND": "ok", "PUT": 403, "PROPPATCH": 403,
                          "MKCOL": 403, "COPY": 403, "MOVE": 403, "DELETE": 403, "LOCK": 403},
    # a path through a collection one cannot read does not exist for them
    ("bob", OWN): {"GET": 404, "PROPFIND": 404, "PUT": 409, "PROPPATCH": 404, "MKCOL": 409,
                   "COPY": 404, "MOVE": 404, "DELETE": 404, "LOCK": 409},
    ("dave", OWN): {"GET": 404, "PROPFIND": 404, "PUT": 409, "PROPPATCH": 404, "MKCOL": 409,
                    "COPY": 404, "MOVE": 404, "DELETE": 404, "LOCK": 409},
    (None, OWN): dict.fromkeys(
        ("GET", "PROPFIND", "PUT", "PROPPATCH", "MKCOL", "COPY", "MOVE", "DELETE", "LOCK"), 401),
}
SUCCESS = {"GET": 200, "PROPFIND": 207, "PUT": 204, "PROPPATCH": 207, "MKCOL": 201,
           "COPY": 201, "MOVE": 201, "DELETE": 204, "LOCK": 200}  # fmt: skip


def _attempt(team: Team, who: str | None, base: str, method: str) -> int:
    doc = base + "doc.txt"
    if method == "GET":
        return team.req(who, "GET", doc).status_code
    if method == "PROPFIND":
        return team.req(who, "PROPFIND", base, headers={"Depth": "1"}).status_code
    if method == "PUT":
        return team.req(who, "PUT", doc, body=b"changed").status_code
    if method == "PROPPATCH":
        return team.req(who, "PROPPATCH", doc, body=PATCH).status_code
    if method == "MKCOL":
        return team.req(who, "MKCOL", base + "newdir/").status_code
    if method == "COPY":
        return team.req(who, "COPY", doc, headers={"Destination": base + "copy.txt"}).status_code
    if method == "MOVE":
        return team.req(who, "MOVE", doc, headers={"Destination": base + "moved.txt"}).status_code
    if method == "DELETE":
        return team.req(who, "DELETE", doc).status_code
    r = team.req(who, "LOCK", doc, body=LOCK, headers={"Timeout": "Second-60"})
    return r.status_code


@pytest.mark.parametrize(("who", "base"), list(ROWS))
def test_method_matrix(team: Team, who: str | None, base: str) -> None:
    path = SHARED[who] if base == "shared" and who is not None else base
    for method, expected in ROWS[(who, base)].items():
        before = team.req("alice", "PROPFIND", OWN, 207, headers={"Depth": "infinity"}).text
        got = _attempt(team, who, path, method)
        want = SUCCESS[method] if expected == "ok" else expected
        assert got == want, (who, path, method, got)
        after = team.req("alice", "PROPFIND", OWN, 207, headers={"Depth": "infinity"}).text
        if expected != "ok":  # refused: nothing changed at all
            assert after == before, (who, method)
        elif method in ("MOVE", "DELETE"):  # put the file back for the next method
            team.req("alice", "PUT", OWN + "doc.txt", None, b"original")
        if method == "LOCK" and got == 200:
            token = team.req(who, "LOCK", path + "doc.txt", body=LOCK).headers.get("lock-token")
            assert token is None  # locked already: the second LOCK is refused
    if ROWS[(who, base)]["PUT"] != "ok":
        assert team.content(OWN + "doc.txt") == b"original"


def test_listings_leave_out_what_the_principal_cannot_read(team: Team) -> None:
    alice = team.req("alice", "PROPFIND", OWN, 207, headers={"Depth": "1"}).text
    assert "/home/alice/Project/carols/" in hrefs(alice)
    for url in (SHARED["bob"], "/home/bob/"):
        body = team.req("bob", "PROPFIND", url, 207, headers=BIND_PROPFIND).text
        assert "carols" not in body and "secret" not in body and "Private" not in body
        assert any(h.endswith("/Project/doc.txt") for h in hrefs(body))
    home = team.req("bob", "PROPFIND", "/home/", 207, headers={"Depth": "1"}).text
    assert hrefs(home) == ["/home/", "/home/bob/"]
    team.req("bob", "GET", SHARED["bob"] + "carols/secret.txt", 404)
    team.req("bob", "PROPFIND", SHARED["bob"] + "carols/", 404, headers={"Depth": "0"})
    page = team.req("bob", "GET", SHARED["bob"], 200).text
    assert "doc.txt" in page and "carols" not in page
    # a copy never carries what its maker cannot read
    team.req("bob", "COPY", SHARED["bob"], 201, headers={"Destination": "/home/bob/mine/"})
    mine = team.req("bob", "PROPFIND", "/home/bob/mine/", 207, headers=BIND_PROPFIND).text
    assert "carols" not in mine and "/home/bob/mine/doc.txt" in hrefs(mine)


def test_parent_set_names_only_readable_parents(team: Team) -> None:
    body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:parent-set/>'
            b"</D:prop></D:propfind>")  # fmt: skip
    alice = team.req("alice", "PROPFIND", OWN + "carols/", 207, body, {"Depth": "0"}).text
    parents = hrefs(alice)[1:]
    assert "/home/alice/Project/" in parents and "/home/alice/Shared/" in parents
    assert "/home/carol/" not in parents  # alice cannot read carol's home
    carol = team.req("carol", "PROPFIND", "/home/carol/Private/", 207, body, {"Depth": "0"}).text
    assert "/home/carol/" in hrefs(carol)
    assert "/home/alice/Project/" not in hrefs(carol)  # carol reads Project only via Shared
    # every member of bob's listing has Project as a parent, by its canonical path under
    # /home/alice/, which bob cannot read: no member names it (the first nor the later)
    team.req("alice", "PUT", OWN + "more.txt", 201, b"more")
    bob = team.req("bob", "PROPFIND", SHARED["bob"], 207, body, {"Depth": "1"}).text
    assert bob.count("<D:parent-set") >= 3
    assert "/home/alice/" not in bob


def test_no_208_for_a_collection_first_met_where_it_is_unreadable(team: Team) -> None:
    """Carol's Outer (with Inner) is shared with bob; Inner alone is shared with alice,
    who binds it into Project as A-inner.  Bob walks his Shared/: Project/A-inner comes
    first and is unreadable to him there (carol granted Inner to alice, not to bob);
    Z-outer/Inner is readable and must be reported in full, not as a 208."""
    team.req("carol", "MKCOL", "/home/carol/Outer/", 201)
    team.req("carol", "MKCOL", "/home/carol/Outer/Inner/", 201)
    team.req("carol", "PUT", "/home/carol/Outer/Inner/in.txt", 201, b"in")
    with team.server.services.store.write() as txn:
        share(txn, ("home", "carol", "Outer"), "bob", Privilege.READ)
        share(txn, ("home", "carol", "Outer", "Inner"), "alice", Privilege.READ)
    bind = (b'<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>A-inner</D:segment>'
            b"<D:href>/home/alice/Shared/Inner/</D:href></D:bind>")  # fmt: skip
    team.req("alice", "BIND", OWN, 201, bind)
    rebind = (b'<?xml version="1.0"?><D:rebind xmlns:D="DAV:"><D:segment>Z-outer</D:segment>'
              b"<D:href>/home/bob/Shared/Outer/</D:href></D:rebind>")  # fmt: skip
    team.req("bob", "REBIND", "/home/bob/Shared/", 201, rebind)
    body = team.req("bob", "PROPFIND", "/home/bob/Shared/", 207, headers=BIND_PROPFIND).text
    assert "A-inner" not in body
    assert "208" not in body
    assert "/home/bob/Shared/Z-outer/Inner/in.txt" in hrefs(body)


def test_quota_counts_what_the_owner_owns_wherever_it_is_written(team: Team) -> None:
    with team.server.services.store.write() as txn:
        txn.set_quota("alice", 10_000)
    team.req("alice", "PUT", OWN + "a.bin", 201, b"a" * 6000)
    over = team.req("bob", "PUT", SHARED["bob"] + "b.bin", 507, b"b" * 6000)
    assert "quota-not-exceeded" in over.text
    team.req("bob", "PROPFIND", SHARED["bob"] + "b.bin", 404, headers={"Depth": "0"})
    team.req("bob", "PUT", "/home/bob/b.bin", 201, b"b" * 6000)  # bob's own space
    copy = team.req("alice", "COPY", OWN + "a.bin", None, headers={"Destination": OWN + "a2.bin"})
    assert copy.status_code == 507
    props = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:quota-used-bytes/>'
             b"<D:quota-available-bytes/></D:prop></D:propfind>")  # fmt: skip
    got = team.req("alice", "PROPFIND", "/home/alice/", 207, props, {"Depth": "0"}).text
    assert "<D:quota-used-bytes>6008</D:quota-used-bytes>" in got  # doc.txt + a.bin
    assert "<D:quota-available-bytes>3992</D:quota-available-bytes>" in got
    with team.server.services.store.write() as txn:
        txn.set_quota("alice", 100)  # lowered below usage: deleting still works
    team.req("alice", "DELETE", OWN + "a.bin", 204)
    team.req("alice", "PUT", OWN + "small.txt", 507, b"x" * 200)


def test_a_large_upload_past_the_quota_is_refused_before_its_body(team: Team) -> None:
    """The declared length decides before the body is read (the refusal names the
    declared size: the check at commit would not), and nothing is stored."""
    with team.server.services.store.write() as txn:
        txn.set_quota("alice", 100_000)
    r = team.req("bob", "PUT", SHARED["bob"] + "huge.bin", None, b"z" * 200_000)
    assert r.status_code == 507 and "quota-not-exceeded" in r.text
    assert "200000 bytes would take alice past their quota" in r.text
    team.req("alice", "GET", OWN + "huge.bin", 404)
    with team.server.services.store.read() as txn:
        assert txn.usage("alice") == len(b"original")


def test_privilege_properties(team: Team) -> None:
    props = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:oc="http://owncloud.org/ns">'
             b"<D:prop><D:current-user-privilege-set/><D:owner/><D:current-user-principal/>"
             b"<oc:permissions/></D:prop></D:propfind>")  # fmt: skip
    carol = team.req("carol", "PROPFIND", SHARED["carol"], 207, props, {"Depth": "1"}).text
    first = carol.split("</D:response>")[0]
    assert "<D:privilege><D:read/></D:privilege>" in first and "write-content" not in first
    assert "<D:owner><D:href>/home/alice/</D:href></D:owner>" in first
    assert "<D:current-user-principal><D:href>/home/carol/</D:href>" in first
    assert re.search(r"<oc:permissions[^>]*>SGDNV</oc:permissions>", first)  # unbind: her Shared
    doc = next(r for r in carol.split("</D:response>") if "doc.txt" in r)
    assert re.search(r"<oc:permissions[^>]*>SG</oc:permissions>", doc)
    bob = team.req("bob", "PROPFIND", SHARED["bob"] + "doc.txt", 207, props, {"Depth": "0"}).text
    assert re.search(r"<oc:permissions[^>]*>SGDNVW</oc:permissions>", bob)
    alice = team.req("alice", "PROPFIND", OWN, 207, props, {"Depth": "0"}).text
    assert re.search(r"<oc:permissions[^>]*>RGDNVCK</oc:permissions>", alice)
    assert alice.count("<D:privilege>") == 6


def test_sharing_over_http_and_revoking(team: Team) -> None:
    url = "/.well-known/davbind/shares"
    ask = json.dumps({"path": OWN, "with": "dave", "access": "read"}).encode()
    team.req("bob", "POST", url, 404, ask)  # alice's path does not exist for bob
    via_bob = json.dumps({"path": SHARED["bob"], "with": "dave", "access": "read"}).encode()
    refused = team.req("bob", "POST", url, 403, via_bob)  # bob holds no share privilege
    assert "share" in refused.text
    made = team.req("alice", "POST", url, 200, ask).json()
    assert made["bound_at"] == "/home/dave/Shared/Project/"
    rid = re.compile(r"<D:resource-id><D:href>([^<]+)</D:href>")
    body = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:prop><D:resource-id/>'
            b"</D:prop></D:propfind>")  # fmt: skip
    mine = rid.findall(team.req("alice", "PROPFIND", OWN, 207, body, {"Depth": "0"}).text)
    theirs = rid.findall(team.req("dave", "PROPFIND", made["bound_at"], 207, body,
                                  {"Depth": "0"}).text)  # fmt: skip
    assert mine == theirs  # the same resource, not a copy
    team.req("dave", "PUT", made["bound_at"] + "doc.txt", 403, b"no")
    team.req("dave", "UNBIND", "/home/dave/Shared/", 204,
             b'<?xml version="1.0"?><D:unbind xmlns:D="DAV:"><D:segment>Project</D:segment>'
             b"</D:unbind>")  # fmt: skip
    assert team.content(OWN + "doc.txt") == b"original"  # only dave's binding went
    team.req("alice", "POST", url, 200, ask)
    revoke = json.dumps({"path": OWN, "with": "dave", "access": "none"}).encode()
    team.req("alice", "POST", url, 200, revoke)
    team.req("dave", "PROPFIND", made["bound_at"], 404, headers={"Depth": "0"})
    escalate = json.dumps({"path": SHARED["carol"], "with": "dave", "access": "write"})
    team.req("carol", "POST", url, 403, escalate.encode())


def test_move_into_another_owners_space_makes_it_theirs(team: Team) -> None:
    team.req("bob", "PUT", SHARED["bob"] + "big.bin", 201, b"z" * 5000)
    with team.server.services.store.read() as txn:
        assert txn.usage("alice") == 5008 and txn.usage("bob") == 0
    team.req("bob", "MOVE", SHARED["bob"] + "big.bin", 201,
             headers={"Destination": "/home/bob/big.bin"})
    with team.server.services.store.read() as txn:
        assert txn.usage("alice") == 8 and txn.usage("bob") == 5000
    assert team.req("bob", "GET", "/home/bob/big.bin", 200).content == b"z" * 5000
    team.req("alice", "GET", OWN + "big.bin", 404)


def test_answers_are_never_another_principals(team: Team) -> None:
    """The same URLs asked alternately by two principals (nothing is cached across them:
    each answer must be the asker's)."""
    for _ in range(5):
        for who, url in (("alice", OWN), ("bob", SHARED["bob"]), ("alice", OWN)):
            body = team.req(who, "PROPFIND", url, 207, headers={"Depth": "1"}).text
            assert ("carols" in body) == (who == "alice")
        team.req("dave", "PROPFIND", OWN, 404, headers={"Depth": "1"})
        # the small-content cache (by digest) is asked only after the request's own checks
        assert team.req("alice", "GET", OWN + "doc.txt", 200).content == b"original"
        team.req("dave", "GET", OWN + "doc.txt", 404)
        team.req("bob", "GET", "/home/carol/Private/secret.txt", 404)


def test_binding_loops_are_refused_by_default(tmp_path: Path) -> None:
    server = Server(tmp_path / "d2")  # the default settings
    try:
        server.add_user("eve", "pw")
        token = server.add_token("eve")[1]
        assert server.request("MKCOL", "/home/eve/a/", bearer(token)).status_code == 201
        loop = (b'<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>up</D:segment>'
                b"<D:href>/home/eve/</D:href></D:bind>")  # fmt: skip
        r = server.request("BIND", "/home/eve/a/", bearer(token), loop)
        assert r.status_code == 403 and "cycle-allowed" in r.text
    finally:
        server.services.threads.close()
        server.services.store.close()


def test_a_tree_with_an_unreadable_and_a_read_only_member(team: Team) -> None:
    """Bob's view of Project: ``carols`` he cannot read, ``daves`` (dave's, shared with
    him read-only) he cannot change, ``doc.txt`` he may change.  Depth-infinity
    PROPFIND, COPY, MOVE and DELETE over it, as docs/permissions.md says."""
    team.server.add_user("dave2", "pw")
    team.tokens["dave2"] = team.server.add_token("dave2")[1]
    team.req("dave2", "MKCOL", "/home/dave2/D/", 201)
    team.req("dave2", "PUT", "/home/dave2/D/d.txt", 201, b"dave's")
    with team.server.services.store.write() as txn:
        share(txn, ("home", "dave2", "D"), "alice", Privilege.READ)
        share(txn, ("home", "dave2", "D"), "bob", Privilege.READ)
    bind = (b'<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>daves</D:segment>'
            b"<D:href>/home/alice/Shared/D/</D:href></D:bind>")  # fmt: skip
    team.req("alice", "BIND", OWN, 201, bind)
    base = SHARED["bob"]
    listing = team.req("bob", "PROPFIND", base, 207, headers=BIND_PROPFIND).text
    assert base + "daves/d.txt" in hrefs(listing) and "carols" not in listing
    team.req("bob", "PUT", base + "daves/d.txt", 403, b"no")
    team.req("bob", "DELETE", base + "daves/d.txt", 403)
    team.req("bob", "MOVE", base + "daves/d.txt", 403, headers={"Destination": base + "x.txt"})
    team.req("bob", "PUT", base + "doc.txt", 204, b"bob's edit")
    # COPY: what bob can read is copied, and the copy is his
    team.req("bob", "COPY", base, 201, headers={"Destination": "/home/bob/copy/"})
    copied = team.req("bob", "PROPFIND", "/home/bob/copy/", 207, headers=BIND_PROPFIND).text
    assert "/home/bob/copy/daves/d.txt" in hrefs(copied) and "carols" not in copied
    team.req("bob", "PUT", "/home/bob/copy/daves/d.txt", 204, b"bob's own copy")
    # MOVE of the shared folder within bob's space is a rebind: still alice's, still shared
    team.req("bob", "MOVE", base, 201, headers={"Destination": "/home/bob/Work/"})
    team.req("bob", "PUT", "/home/bob/Work/doc.txt", 204, b"via the new name")
    assert team.content(OWN + "doc.txt") == b"via the new name"
    # DELETE of his binding removes only his path: alice, carol and dave keep everything
    team.req("bob", "DELETE", "/home/bob/Work/", 204)
    assert team.content(OWN + "doc.txt") == b"via the new name"
    assert team.req("dave2", "GET", "/home/dave2/D/d.txt", 200).content == b"dave's"
    team.req("carol", "GET", "/home/carol/Private/secret.txt", 200)
    team.req("bob", "GET", "/home/bob/Work/doc.txt", 404)


@pytest.mark.parametrize("method", ["BIND", "UNBIND", "REBIND"])
def test_binding_methods_need_bind_and_unbind(team: Team, method: str) -> None:
    def body(segment: str, source: str = "") -> bytes:
        tag = method.lower()
        href = f"<D:href>{source}</D:href>" if source else ""
        return (f'<?xml version="1.0"?><D:{tag} xmlns:D="DAV:"><D:segment>{segment}'
                f"</D:segment>{href}</D:{tag}>").encode()  # fmt: skip

    carol_base, bob_base = SHARED["carol"], SHARED["bob"]
    if method == "UNBIND":
        team.req("carol", "UNBIND", carol_base, 403, body("doc.txt"))
        team.req("dave", "UNBIND", OWN, 404, body("doc.txt"))
        team.req("bob", "UNBIND", bob_base, 204, body("doc.txt"))
        team.req("alice", "GET", OWN + "doc.txt", 404)
        return
    src = carol_base + "doc.txt"
    team.req("carol", method, carol_base + "sub/", 403, body("d2", src))
    team.req("dave", method, OWN + "sub/", 404, body("d2", OWN + "doc.txt"))
    team.req("bob", method, bob_base + "sub/", 201, body("d2", bob_base + "doc.txt"))
    state = team.req("alice", "PROPFIND", OWN, 207, headers={"Depth": "infinity"}).text
    assert (OWN + "doc.txt" in hrefs(state)) == (method == "BIND")
    assert OWN + "sub/d2" in hrefs(state)


def test_a_loop_only_in_what_the_principal_cannot_read_is_no_508(tmp_path: Path) -> None:
    team = Team(tmp_path / "loops", allow_loops=True)
    try:
        loop = (b'<?xml version="1.0"?><D:bind xmlns:D="DAV:"><D:segment>again</D:segment>'
                b"<D:href>/home/carol/Private/</D:href></D:bind>")  # fmt: skip
        team.req("carol", "BIND", "/home/carol/Private/", 201, loop)
        plain = {"Depth": "infinity"}  # no ``DAV: bind``: a loop met is a 508
        team.req("alice", "PROPFIND", OWN, 508, headers=plain)  # alice reads carols
        body = team.req("bob", "PROPFIND", SHARED["bob"], 207, headers=plain).text
        assert "carols" not in body and "again" not in body
        assert SHARED["bob"] + "doc.txt" in hrefs(body)
    finally:
        team.close()


def test_anonymous_reads_of_a_public_server_stop_at_the_homes(tmp_path: Path) -> None:
    """With anonymous reads allowed, what the server owns is public; a home asks the
    anonymous client to log in (401 + challenges), so clients that send credentials only
    when challenged get in."""
    team = Team(tmp_path / "public", allow_anonymous_read=True)
    try:
        with team.server.services.store.write() as txn:
            public = txn.create(txn.root_key, "public", collection=True)
            digest, size = txn.store_inline(b"for everyone")
            txn.create(public.key, "readme.txt", collection=False, digest=digest, size=size)
        assert team.req(None, "GET", "/public/readme.txt", 200).content == b"for everyone"
        root = team.req(None, "PROPFIND", "/home/", 207, headers={"Depth": "1"}).text
        assert hrefs(root) == ["/home/"]  # every home left out
        for method, url in (("GET", OWN + "doc.txt"), ("PROPFIND", OWN), ("PUT", OWN + "x")):
            r = team.req(None, method, url, 401)
            assert r.headers.get_list("www-authenticate")[0].startswith("Basic ")
        team.req(None, "PUT", "/public/new.txt", 401, b"no")  # reads only
        team.req(None, "GET", "/public/missing.txt", 404)
        team.req("bob", "GET", OWN + "doc.txt", 404)  # logged in: it does not exist for bob
    finally:
        team.close()


def test_deleting_a_shared_folder_ends_its_shares(team: Team) -> None:
    """The owner's last binding of a shared folder goes: so do the grants and the
    recipients' bindings, and the content is reclaimed (not kept on alice's quota in
    bob's Shared/).  A recipient's own moves do not end anything."""
    team.req("bob", "MOVE", SHARED["bob"], 201, headers={"Destination": "/home/bob/Work/"})
    team.req("bob", "GET", "/home/bob/Work/doc.txt", 200)
    with team.server.services.store.read() as txn:
        before = txn.usage("alice")
    assert before > 0
    team.req("alice", "DELETE", OWN, 204)
    team.req("bob", "PROPFIND", "/home/bob/Work/", 404, headers={"Depth": "0"})
    team.req("carol", "PROPFIND", SHARED["carol"], 404, headers={"Depth": "0"})
    with team.server.services.store.read() as txn:
        assert txn.usage("alice") == 0 and txn.grants_to("bob") == []
    # what carol shared with alice (bound into Project) is carol's and stays
    team.req("carol", "GET", "/home/carol/Private/secret.txt", 200)
    assert team.req("alice", "GET", "/home/alice/Shared/Private/secret.txt", 200).content


def test_json_and_propname_listings_leave_out_the_unreadable_too(team: Team) -> None:
    as_json = team.req("bob", "PROPFIND", SHARED["bob"], 207,
                       headers={**BIND_PROPFIND, "Accept": "application/json"})  # fmt: skip
    text = json.dumps(as_json.json())
    assert "doc.txt" in text and "carols" not in text and "secret" not in text
    names = (b'<?xml version="1.0"?><D:propfind xmlns:D="DAV:"><D:propname/>'
             b"</D:propfind>")  # fmt: skip
    listing = team.req("bob", "PROPFIND", SHARED["bob"], 207, names, {"Depth": "1"}).text
    assert "doc.txt" in listing and "carols" not in listing


def test_a_refusal_names_the_resource_and_the_missing_privileges(team: Team) -> None:
    """RFC 3744 §7.1.1: ``DAV:need-privileges`` holds one ``DAV:resource`` (an href and
    a privilege) per privilege missing."""
    import xml.etree.ElementTree as ET

    r = team.req("carol", "PUT", SHARED["carol"] + "doc.txt", 403, b"no")
    need = ET.fromstring(r.content).find("{DAV:}need-privileges")
    assert need is not None
    pairs = [(res.findtext("{DAV:}href"), [p.tag for p in res.find("{DAV:}privilege") or []])
             for res in need.findall("{DAV:}resource")]  # fmt: skip
    assert pairs == [(SHARED["carol"] + "doc.txt", ["{DAV:}write-content"])]
    r = team.req("carol", "MOVE", SHARED["carol"] + "doc.txt", 403,
                 headers={"Destination": "/home/carol/doc.txt"})  # fmt: skip
    need = ET.fromstring(r.content).find("{DAV:}need-privileges")
    assert need is not None
    hrefs_ = [res.findtext("{DAV:}href") for res in need.findall("{DAV:}resource")]
    assert hrefs_ == [SHARED["carol"]]  # unbind on the source's collection


def test_each_user_lists_their_shares(team: Team) -> None:
    url = "/.well-known/davbind/shares"
    alice = team.req("alice", "GET", url, 200).json()
    assert {"path": OWN, "with": "bob", "access": "write"} in alice["shared_by_me"]
    assert {"path": OWN, "with": "carol", "access": "read"} in alice["shared_by_me"]
    assert alice["shared_with_me"] == [
        {"path": "/home/alice/Shared/Private/", "owner": "carol", "access": "read"}]
    bob = team.req("bob", "GET", url, 200).json()
    assert bob == {"shared_by_me": [], "shared_with_me": [
        {"path": SHARED["bob"], "owner": "alice", "access": "write"}]}
    dave = team.req("dave", "GET", url, 200).json()
    assert dave == {"shared_by_me": [], "shared_with_me": []}
    team.req(None, "GET", url, 401)


def test_a_shared_home_stays_bound_whatever_is_deleted(team: Team) -> None:
    """A home is bound by the server's /home/ (and its alias), not by a collection of its
    owner: sharing it must not make it look orphaned when a delete looks for shares to
    end."""
    with team.server.services.store.write() as txn:
        share(txn, ("home", "dave"), "bob", Privilege.READ)
    team.req("dave", "PUT", "/home/dave/x.txt", 201, b"x")
    team.req("alice", "DELETE", OWN + "doc.txt", 204)  # any binding-removing request
    team.req("dave", "GET", "/home/dave/x.txt", 200)
    team.req("bob", "GET", "/home/bob/Shared/dave/x.txt", 200)
    team.req("dave", "PROPFIND", "/remote.php/dav/files/dave/", 207, headers={"Depth": "0"})


def test_nobody_removes_the_collections_that_hold_the_homes(tmp_path: Path) -> None:
    """With anonymous writes allowed, an anonymous request may change the server's tree,
    the root included, but never remove /home/ or /remote.php/ (every home with them)."""
    team = Team(tmp_path / "open", allow_anonymous_write=True)
    try:
        unbind = (b'<?xml version="1.0"?><D:unbind xmlns:D="DAV:"><D:segment>home'
                  b"</D:segment></D:unbind>")  # fmt: skip
        rebind = (b'<?xml version="1.0"?><D:rebind xmlns:D="DAV:"><D:segment>h</D:segment>'
                  b"<D:href>/home/</D:href></D:rebind>")  # fmt: skip
        team.req(None, "MKCOL", "/scratch/", 201)
        for who in (None, "alice"):
            team.req(who, "DELETE", "/home/", 403)
            team.req(who, "DELETE", "/remote.php/", 403)
            team.req(who, "MOVE", "/home/", 403, headers={"Destination": "/scratch/h/"})
            team.req(who, "UNBIND", "/", 403, unbind)
            team.req(who, "REBIND", "/scratch/", 403, rebind)
            team.req(who, "COPY", "/scratch/", 403,
                     headers={"Destination": "/home/", "Overwrite": "T"})  # fmt: skip
        deep = {"Depth": "infinity", "Timeout": "Second-60"}
        team.req(None, "LOCK", "/", 403, LOCK, deep)  # it would cover every home
        team.req(None, "LOCK", "/scratch/", 200, LOCK, deep)
        team.req("alice", "PUT", OWN + "doc.txt", 204, b"original")  # not locked
        team.req(None, "DELETE", "/scratch/", 423)  # locked: the lock is real
        team.req(None, "MKCOL", "/scratch2/", 201)  # the rest of the root is theirs
        team.req(None, "DELETE", "/scratch2/", 204)
        assert team.content(OWN + "doc.txt") == b"original"
        team.req("bob", "GET", SHARED["bob"] + "doc.txt", 200)
    finally:
        team.close()


@pytest.mark.parametrize("body", [
    b"not json", b"[]", b'{"path": "/home/alice/Project/"}', b'{"path": 1, "with": "bob"}',
    b'{"path": "/home/alice/Project/", "with": "bob", "access": []}',
    b'{"path": "/home/alice/Project/", "with": "bob", "access": "all"}',
    b"[" * 20000 + b"]" * 20000,
])  # fmt: skip
def test_a_bad_share_request_is_400_and_changes_nothing(team: Team, body: bytes) -> None:
    r = team.req("alice", "POST", "/.well-known/davbind/shares", 400, body)
    assert "500" not in r.text
    with team.server.services.store.read() as txn:
        assert [g.principal for g in txn.grants_by_owner("alice")] == ["bob", "carol"]
