"""Authentication, and what one user can learn of another's content (the ``auth`` group).

The rules checked: a request without credentials to a protected collection gets 401
with a ``WWW-Authenticate`` challenge (RFC 9110 §11.6.1, §15.5.2) offering Basic
(RFC 7617 §2); wrong credentials get 401 too, not 403, which says that valid
credentials lack permission (RFC 9110 §11.4, §15.5.4); a second user who may not read
the first user's folder learns none of its names, neither from their own space's
listings, 208s (RFC 5842 §7.1) and ``DAV:parent-set`` (§3.2), nor from the answers to
requests for the folder itself (RFC 3744 §7.1.1 lets a server omit what a principal
cannot read); and davbind's sharing (``POST /.well-known/davbind/shares``, described in
docs/permissions.md) shows the shared folder, one resource, read-only, without naming
the owner's collections, until it is revoked.

The first two need credentials (``--user``), the last two a second user (``--user2``).
The second user's own space is ``--url2``, else the URL under test with the segment
named after the first user renamed (``/home/alice/`` → ``/home/bob/``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from urllib.parse import unquote, urlsplit

import httpx

from davbind.client import messages as msg
from davbind.client.auth import basic_header
from davbind.client.listing import PARENT_SET
from davbind.client.multistatus import parse_parent_set
from davbind.conformance.checks_bind import bind
from davbind.conformance.context import DAV, OK, RESOURCE_ID, Context, Reply, User
from davbind.conformance.registry import check

AUTH = ("auth",)
PROPS = (DAV + "resourcetype", RESOURCE_ID, PARENT_SET)
#: What a user gets for another user's private content: refused or "not there".
REFUSED = frozenset({401, 403, 404})
SHARES = "/.well-known/davbind/shares"
# An auth-scheme begins the header or follows a comma, and is not an auth-param name.
_SCHEME = re.compile(r"(?:^|,)\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)(?=\s+[^\s=,]|\s*,|\s*$)")


def schemes(reply: Reply) -> set[str]:
    """The auth-schemes a reply's ``WWW-Authenticate`` challenges offer, lowercased."""
    headers = reply.headers
    values = (headers.get_list("www-authenticate") if isinstance(headers, httpx.Headers)
              else [headers.get("www-authenticate") or ""])  # fmt: skip
    return {m.group(1).lower() for value in values for m in _SCHEME.finditer(value)}


def _need_credentials(ctx: Context) -> None:
    if not ctx.authenticated:
        ctx.skip("no credentials given (--user): the server is presumably open to "
                 "anonymous requests")  # fmt: skip


def _second(ctx: Context) -> User:
    if ctx.second is None:
        ctx.skip("needs a second user: give --user2 and --password2")
    return ctx.second


def _expect_challenge(ctx: Context, reply: Reply, what: str) -> str:
    offered = schemes(reply)
    ctx.expect(bool(offered), f"{what}: 401 without a WWW-Authenticate challenge "
                              f"(RFC 9110 §15.5.2: MUST)", reply)  # fmt: skip
    shown = ", ".join(sorted(offered))
    ctx.expect("basic" in offered, f"{what}: the challenge offers {shown} but not Basic",
               reply)  # fmt: skip
    return ", ".join(sorted(offered))


@check(id="auth.challenge", rfc="9110 §11.6.1, §15.5.2; 7617 §2", level="MUST", tags=AUTH)
def challenge(ctx: Context) -> str:
    """A request without credentials gets 401 with a WWW-Authenticate challenge for Basic"""
    _need_credentials(ctx)
    reply = ctx.send("PROPFIND", "/", headers=[("Depth", "0")], anonymous=True)
    if reply.ok:
        ctx.skip(f"the server allows anonymous access (PROPFIND without credentials "
                 f"answered {reply.status})")  # fmt: skip
    ctx.expect_status(reply, {401}, "PROPFIND without credentials")
    return "challenges: " + _expect_challenge(ctx, reply, "PROPFIND without credentials")


@check(id="auth.wrong-password", rfc="9110 §11.4, §15.5.2, §15.5.4", level="SHOULD",
       tags=AUTH)  # fmt: skip
def wrong_password(ctx: Context) -> None:
    """Wrong credentials get 401 with a challenge (not 403, not 2xx)"""
    _need_credentials(ctx)
    name = ctx.user or "davbind-check"
    wrong = basic_header(name, "wrong-" + uuid.uuid4().hex)
    reply = ctx.send("PROPFIND", "/", headers=[("Depth", "0"), ("Authorization", wrong)],
                     anonymous=True)  # fmt: skip
    what = f"PROPFIND as {name!r} with a wrong password"
    if reply.status == 429:
        ctx.skip(f"{what} answered 429: the server limits failed logins; run again later")
    ctx.expect(not reply.ok, f"{what} was accepted ({reply.status})", reply)
    if reply.status == 403:
        ctx.fail(f"{what} answered 403, which says valid credentials lack permission "
                 f"(RFC 9110 §15.5.4); credentials that are not valid get 401", reply)  # fmt: skip
    ctx.expect_status(reply, {401}, what)
    _expect_challenge(ctx, reply, what)


def leak(ctx: Context, reply: Reply, names: Iterable[str]) -> str | None:
    """Where ``reply`` names one of ``names`` (a 208, a parent-set, a listing, the
    body), or None when it names none of them."""
    names = tuple(names)
    text = unquote(reply.body.decode("utf-8", errors="replace"))
    found = [n for n in names if n in text]
    if not found:
        return None
    if reply.status == 207:
        for response in ctx.responses(reply):
            hrefs = " ".join(unquote(h) for h in response.hrefs)
            hit = next((n for n in names if n in hrefs), None)
            if hit is not None and response.status == 208:
                return f"a 208 response names {hit!r} ({response.href})"
            for propstat in response.propstats:
                value = propstat.props.get(PARENT_SET)
                parents = parse_parent_set(value) if value is not None else ()
                for p in parents:
                    named = next((n for n in names if n in unquote(p.href + "/" + p.segment)),
                                 None)  # fmt: skip
                    if named is not None:
                        return (f"DAV:parent-set of {response.href} names {named!r} "
                                f"({p.href}, segment {p.segment})")  # fmt: skip
            if hit is not None:
                return f"the listing names {hit!r} ({response.href})"
    return f"the {reply.status} body names {found[0]!r}"


def _as_second(ctx: Context, user: User, method: str, url: str, depth: str) -> Reply:
    if method == "PROPFIND":
        return ctx.send_request(msg.propfind(url, depth, PROPS, bind=True), auth=user.auth)
    return ctx.send(method, url, auth=user.auth)


@check(id="auth.no-leak", rfc="3744 §7.1.1; 5842 §3.2, §7.1 (davbind's reading)",
       level="SHOULD", tags=AUTH)  # fmt: skip
def no_leak(ctx: Context) -> str:
    """A second user learns no name of the first user's folder (listings, 208, parent-set)"""
    user = _second(ctx)
    token = uuid.uuid4().hex[:10]
    folder, inner, alias, file = (f"private-{token}", f"inner-{token}", f"alias-{token}",
                                  f"file-{token}.txt")  # fmt: skip
    ctx.mkcol(ctx.path(folder, "/"))
    ctx.mkcol(ctx.path(folder, "/", inner, "/"))
    ctx.put(ctx.path(folder, "/", inner, "/", file), b"user 1's private file\n")
    bound = "bind" in ctx.classes
    if bound:
        reply = bind(ctx, ctx.path(folder, "/", inner, "/"), ctx.path(folder, "/", alias, "/"))
        ctx.setup_status(reply, OK, "BIND of the inner collection")
    members = (inner, alias, file)
    segments = [s for s in urlsplit(ctx.url(ctx.home)).path.split("/") if s]
    private = (*members, folder, *segments[-2:])  # the scratch and this check's collection
    looked = 0
    if user.space is not None:
        reply = _as_second(ctx, user, "PROPFIND", user.space, "infinity")
        if reply.status == 403:  # Depth infinity refused (RFC 4918 §9.1): one level then
            reply = _as_second(ctx, user, "PROPFIND", user.space, "1")
        ctx.setup_status(reply, {207}, f"PROPFIND of user 2's space {user.space} as "
                                       f"{user.name!r} (--url2)")  # fmt: skip
        where = leak(ctx, reply, private)
        ctx.expect(where is None, f"user 2's own space: {where}", reply)
        looked += 1
    probes = ((ctx.path(folder, "/"), "PROPFIND", "infinity", members),
              (ctx.path(folder, "/"), "GET", "0", members),
              (ctx.path(folder, "/", alias if bound else inner, "/"), "PROPFIND", "0",
               (inner, file) if bound else (file,)),
              (ctx.home, "PROPFIND", "1", (folder, *members)))  # fmt: skip
    statuses: set[int] = set()
    for path, method, depth, names in probes:
        reply = _as_second(ctx, user, method, ctx.url(path), depth)
        statuses.add(reply.status)
        what = f"{method} of user 1's {path} as {user.name!r}"
        ctx.expect(reply.status in REFUSED,
                   f"{what}: expected 401, 403 or 404, got {reply.status}: user 2 can read it",
                   reply)  # fmt: skip
        where = leak(ctx, reply, names)
        ctx.expect(where is None, f"{what}: {where}", reply)
    if not looked and statuses == {401}:
        ctx.skip("user 2 got only 401s and their own space is unknown (give --url2): "
                 "a refusal cannot be told from a failed login")  # fmt: skip
    notes = [] if bound else ["no bindings (the server does not announce 'bind')"]
    if not looked:
        notes.append("user 2's own space not listed: give --url2")
    return "; ".join(notes)


def _origin(ctx: Context) -> str:
    """``scheme://host:port`` of the server under test (server paths are below it)."""
    parts = urlsplit(ctx.url("/"))
    return f"{parts.scheme}://{parts.netloc}"


@contextmanager
def _shared(ctx: Context, path: str, user: User) -> Iterator[str]:
    """Share ``path`` read-only with ``user``; yields where it appears in their space,
    and revokes the share afterwards whatever happened."""
    answer = _share(ctx, path, user.name, "read")
    if answer.status in (400, 404, 405, 501):
        ctx.skip(f"the server does not answer POST {SHARES} (davbind's sharing): "
                 f"{answer.status}")  # fmt: skip
    ctx.expect_status(answer, {200}, f"POST {SHARES} sharing {path} with {user.name!r}")
    try:
        doc = json.loads(answer.body)
        bound_at = doc["bound_at"]
    except (ValueError, TypeError, KeyError):
        ctx.fail(f"POST {SHARES}: the answer is not JSON with bound_at", answer)
    try:
        ctx.expect(isinstance(bound_at, str), f"bound_at is {bound_at!r}, not a path", answer)
        yield bound_at
    finally:
        _share(ctx, path, user.name, "none")


def _share(ctx: Context, path: str, who: str, access: str) -> Reply:
    body = json.dumps({"path": ctx.href(path), "with": who, "access": access}).encode()
    return ctx.send("POST", _origin(ctx) + SHARES, body=body,
                    headers=[("Content-Type", "application/json")])  # fmt: skip


@check(id="auth.shared-no-leak", rfc="5842 §2.7, §3.2; 3744 §7.1.1 (davbind's sharing)",
       level="SHOULD", tags=AUTH)  # fmt: skip
def shared_no_leak(ctx: Context) -> None:
    """A folder shared read-only is one resource in user 2's Shared/, names nothing above it"""
    user = _second(ctx)
    token = uuid.uuid4().hex[:10]
    folder, doc = f"shared-{token}", f"doc-{token}.txt"
    ctx.mkcol(ctx.path(folder, "/"))
    ctx.put(ctx.path(folder, "/", doc), b"shared read-only\n")
    rid = ctx.resource_id(ctx.path(folder, "/"))
    if rid is None:
        ctx.skip("the server reports no DAV:resource-id (RFC 5842 §3.1), so a share "
                 "cannot be told from a copy")  # fmt: skip
    above = [s for s in urlsplit(ctx.url(ctx.home)).path.split("/") if s][-2:]
    with _shared(ctx, ctx.path(folder, "/"), user) as bound_at:
        segments = [unquote(s) for s in bound_at.split("/") if s]
        ctx.expect(segments[-3:] == [user.name, "Shared", folder],
                   f"shared at {bound_at}, expected …/{user.name}/Shared/{folder}/")  # fmt: skip
        url = _origin(ctx) + bound_at
        reply = _as_second(ctx, user, "PROPFIND", url, "1")
        ctx.expect_status(reply, {207}, f"PROPFIND of {bound_at} as {user.name!r}")
        listing = ctx.listing(reply)
        ctx.expect(listing.root is not None and listing.root.resource_id == rid,
                   f"{bound_at} is not the shared resource: DAV:resource-id "
                   f"{listing.root.resource_id if listing.root else None}, expected {rid}",
                   reply)  # fmt: skip
        ctx.expect(doc in unquote(reply.body.decode("utf-8", errors="replace")),
                   f"user 2's listing of {bound_at} does not show {doc}", reply)
        where = leak(ctx, reply, above)
        ctx.expect(where is None, f"user 2's PROPFIND of {bound_at}: {where}", reply)
        put = ctx.send("PUT", url + f"new-{token}.txt", body=b"read-only?\n", auth=user.auth)
        ctx.expect_status(put, {403}, f"PUT into the read-only share as {user.name!r}")
        ctx.expect(not ctx.exists(ctx.path(folder, "/", f"new-{token}.txt")),
                   "the refused PUT created the file", put)  # fmt: skip
    gone = _as_second(ctx, user, "PROPFIND", url, "0")
    ctx.expect_status(gone, {404}, f"PROPFIND of {bound_at} as {user.name!r} after revoking")
