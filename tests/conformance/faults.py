"""The catalogue of faults for ``faulty.FaultyServer``, one rule broken by each.

Loaded by ``conftest.py`` after ``faulty.py`` (as ``davbind_test_faulty``), into whose
:data:`FAULTS` every fault here is registered by name.  The table of which checks each
fault must make fail is in ``test_faults.py``.  The last section holds the alternatives
the RFCs allow (not faults): the checks must pass under them.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import replace
from urllib.parse import quote, unquote

from davbind_test_faulty import (  # type: ignore[import-not-found]
    ALREADY,
    FAULTS,
    HREF,
    OK,
    RESPONSE,
    RID,
    Fault,
    FaultyServer,
    Reply,
    Req,
    bind_aware,
    binding_of,
    body_rewrite,
    dest_path,
    fault,
    internal_propfind,
    parents_of,
    parse,
    reply_rewrite,
    request_rewrite,
    responses,
    same_binding,
    status_map,
    unbind,
)

D = "{DAV:}"


# ====================================================================== discovery

fault("no-dav-header")(reply_rewrite(
    lambda req, r: r.set("dav", None) if req.method == "OPTIONS" else r))


@fault("bind-root-only")
async def _bind_root_only(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    if req.method == "OPTIONS" and req.path != "/":
        return reply.set("dav", "1, 2, 3")
    return reply


fault("no-supportedlock")(body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"<D:supportedlock>.*?</D:supportedlock>|<D:supportedlock/>", b"", b, flags=re.S)))

# ====================================================================== class 1

fault("mkcol-existing-201")(status_map({"MKCOL"}, 405, 201))
fault("missing-parent-201")(status_map({"PUT", "MKCOL"}, 409, 201))
fault("overwrite-f-204")(status_map({"COPY", "MOVE", "BIND", "REBIND"}, 412, 204))
fault("ignore-overwrite")(request_rewrite(lambda req: req.set("overwrite", None)))
fault("drop-404-propstats")(body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"<D:propstat>(?:(?!<D:propstat>).)*?404 Not Found</D:status></D:propstat>", b"", b,
    flags=re.S)))
fault("copy-depth0-as-infinity")(request_rewrite(
    lambda req: req.set("depth", "infinity")
    if req.method == "COPY" and req.header("depth") == "0" else req))


@fault("put-replaces-resource")
async def _put_replaces(s: FaultyServer, req: Req) -> Reply:
    if req.method == "PUT":
        await s.call(req.to("DELETE", req.path))
    return await s.call(req)


@fault("put-replace-lost")
async def _put_replace_lost(s: FaultyServer, req: Req) -> Reply:
    """A PUT over an existing file answers 204 and keeps the old content."""
    if req.method == "PUT" and (await s.call(req.to("GET", req.path))).status == 200:
        return Reply(204)
    return await s.call(req)


@fault("delete-noop")
async def _delete_noop(s: FaultyServer, req: Req) -> Reply:
    return Reply(204) if req.method == "DELETE" else await s.call(req)


@fault("proppatch-noop")
async def _proppatch_noop(s: FaultyServer, req: Req) -> Reply:
    if req.method != "PROPPATCH":
        return await s.call(req)
    names = [el.tag for pr in parse(req.body).iter(D + "prop") for el in pr]
    props = "".join(f'<x:{t.split("}")[1]} xmlns:x="{t[1:].split("}")[0]}"/>' for t in names)
    body = (f'<?xml version="1.0" encoding="utf-8"?><D:multistatus xmlns:D="DAV:"><D:response>'
            f"<D:href>{req.path}</D:href><D:propstat><D:prop>{props}</D:prop>"
            f"<D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>")
    return Reply(207, (("content-type", "application/xml"),), body.encode())


# Quirks of real servers: one rule broken, which the check of that rule reports and the
# checks that only build on it do not (test_quirks.py).

# rclone serve webdav: a PUT that replaces a file answers 201 (RFC 9110 §9.3.4: 200/204).
fault("put-replace-201")(status_map({"PUT"}, 204, 201))
# A server that refuses every LOCK although it announces class 2.
@fault("lock-refused")
async def _lock_refused(s: FaultyServer, req: Req) -> Reply:
    return Reply(403) if req.method == "LOCK" else await s.call(req)

# ====================================================================== depth


def _depth_rewrite(old: str | None, new: str) -> Fault:
    return request_rewrite(lambda req: req.set("depth", new)
                           if req.method == "PROPFIND" and req.header("depth") == old else req)


FAULTS["depth0-as-1"] = _depth_rewrite("0", "1")
FAULTS["depth1-as-infinity"] = _depth_rewrite("1", "infinity")
FAULTS["infinity-as-1"] = _depth_rewrite("infinity", "1")
FAULTS["missing-depth-as-1"] = _depth_rewrite(None, "1")


@fault("truncate-infinity")
async def _truncate(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    if req.method != "PROPFIND" or req.header("depth") != "infinity" or reply.status != 207:
        return reply
    found = RESPONSE.findall(reply.body)
    keep = found[: max(1, len(found) - 2)]
    head = reply.body[: reply.body.index(b"<D:response>")]
    return replace(reply, body=head + b"".join(keep) + b"</D:multistatus>\n")


@fault("infinity-403-bare")
async def _infinity_403(s: FaultyServer, req: Req) -> Reply:
    if req.method == "PROPFIND" and (req.header("depth") or "infinity") == "infinity":
        return Reply(403, (("content-type", "text/plain"),), b"Forbidden\n")
    return await s.call(req)


# ====================================================================== locks

fault("lock-no-token-header")(reply_rewrite(
    lambda req, r: r.set("lock-token", None) if req.method == "LOCK" else r))
fault("lock-unmapped-200")(status_map({"LOCK"}, 201, 200, drop_body=False))
fault("strip-if")(request_rewrite(lambda req: req.set("if", None)))


@fault("unlock-noop")
async def _unlock_noop(s: FaultyServer, req: Req) -> Reply:
    return Reply(204) if req.method == "UNLOCK" else await s.call(req)


@fault("fake-lock")
async def _fake_lock(s: FaultyServer, req: Req) -> Reply:
    """LOCK answered with a convincing grant that locks nothing."""
    fakes: set[str] = s.state.setdefault("fakes", set())
    if req.method == "LOCK":
        exists = (await s.call(internal_propfind(req, req.path, "0", "<D:resourcetype/>")))
        token = f"urn:uuid:{uuid.uuid4()}"
        fakes.add(token)
        body = ('<?xml version="1.0" encoding="utf-8"?><D:prop xmlns:D="DAV:"><D:lockdiscovery>'
                "<D:activelock><D:locktype><D:write/></D:locktype><D:lockscope><D:exclusive/>"
                "</D:lockscope><D:depth>0</D:depth><D:timeout>Second-600</D:timeout>"
                f"<D:locktoken><D:href>{token}</D:href></D:locktoken><D:lockroot><D:href>"
                f"{req.path}</D:href></D:lockroot></D:activelock></D:lockdiscovery></D:prop>")
        status = 200 if exists.status == 207 else 201
        return Reply(status, (("content-type", "application/xml"), ("lock-token", f"<{token}>")),
                     body.encode())
    if req.method == "UNLOCK" and (req.header("lock-token") or "").strip("<>") in fakes:
        return Reply(204)
    if any(t in (req.header("if") or "") for t in fakes):
        req = req.set("if", None)
    return await s.call(req)


def _remember_lock(s: FaultyServer, req: Req, reply: Reply) -> None:
    token = (reply.header("lock-token") or "").strip("<>")
    if req.method == "LOCK" and token:
        s.state.setdefault("roots", {})[token] = req.path


@fault("lock-per-path")
async def _lock_per_path(s: FaultyServer, req: Req) -> Reply:
    """Locks keyed by URL: other bindings of a locked resource are writable."""
    roots: dict[str, str] = s.state.setdefault("roots", {})
    if req.method not in ("LOCK", "UNLOCK") and roots and req.path not in roots.values() \
            and req.header("if") is None:
        lists = "".join(f"(<{t}>) " for t in roots)
        req = req.set("if", lists + "(Not <DAV:no-lock>)")
    reply = await s.call(req)
    _remember_lock(s, req, reply)
    return reply


@fault("token-lockroot-only")
async def _token_lockroot_only(s: FaultyServer, req: Req) -> Reply:
    """A lock token is accepted only at the URL the lock was taken through."""
    roots: dict[str, str] = s.state.setdefault("roots", {})
    given = req.header("if") or ""
    if any(t in given and root != req.path for t, root in roots.items()):
        return Reply(412, (("content-type", "text/plain"),), b"token does not match URL\n")
    reply = await s.call(req)
    _remember_lock(s, req, reply)
    return reply


@fault("unlock-lockroot-only")
async def _unlock_lockroot_only(s: FaultyServer, req: Req) -> Reply:
    roots: dict[str, str] = s.state.setdefault("roots", {})
    token = (req.header("lock-token") or "").strip("<>")
    if req.method == "UNLOCK" and token in roots and roots[token] != req.path:
        body = (b'<?xml version="1.0" encoding="utf-8"?><D:error xmlns:D="DAV:">'
                b"<D:lock-token-matches-request-uri/></D:error>")
        return Reply(409, (("content-type", "application/xml"),), body)
    reply = await s.call(req)
    _remember_lock(s, req, reply)
    return reply


@fault("lock-all-bindings")
async def _lock_all_bindings(s: FaultyServer, req: Req) -> Reply:
    """Every URL of a locked resource is protected, not only the lock-root."""
    locked: dict[str, str] = s.state.setdefault("locked", {})
    if req.method == "DELETE" and req.header("if") is None and locked:
        rid = RID.search((await s.call(internal_propfind(
            req, req.path, "0", "<D:resource-id/>"))).body)
        if rid is not None and rid.group(1).decode() in locked.values() \
                and req.path not in locked:
            return Reply(423, (("content-type", "text/plain"),), b"locked (every binding)\n")
    reply = await s.call(req)
    if req.method == "LOCK" and reply.status in (200, 201):
        found = RID.search((await s.call(internal_propfind(
            req, req.path, "0", "<D:resource-id/>"))).body)
        if found is not None:
            locked[req.path] = found.group(1).decode()
    return reply


# ====================================================================== BIND / UNBIND / REBIND

fault("bind-200")(status_map({"BIND"}, 201, 200))
fault("bind-no-location")(reply_rewrite(
    lambda req, r: r.set("location", None) if req.method == "BIND" else r))


@fault("replace-as-201")
async def _replace_201(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    if req.method in ("BIND", "REBIND") and reply.status == 204:
        return Reply(201, (("location", "http://example.invalid/"),))
    return reply


@fault("bind-errors-as-201")
async def _bind_errors_201(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    return Reply(201) if req.method == "BIND" and 400 <= reply.status < 500 else reply


@fault("missing-source-404")
async def _missing_404(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    if reply.status == 409 and b"source-exists" in reply.body:
        return Reply(404, (("content-type", "text/plain"),), b"Not Found\n")
    return reply


fault("no-error-bodies")(reply_rewrite(
    lambda req, r: Reply(r.status) if req.method in ("BIND", "UNBIND", "REBIND")
    and 400 <= r.status < 500 else r))


@fault("unbind-noop")
async def _unbind_noop(s: FaultyServer, req: Req) -> Reply:
    return Reply(204) if req.method == "UNBIND" else await s.call(req)


@fault("rebind-as-bind")
async def _rebind_as_bind(s: FaultyServer, req: Req) -> Reply:
    if req.method != "REBIND":
        return await s.call(req)
    body = req.body.replace(b"D:rebind", b"D:bind")
    return await s.call(replace(req, method="BIND", body=body))


# ====================================================================== identity


def _rewrite_ids(fn: Callable[[bytes, bytes], bytes]) -> Fault:
    def each(resp: bytes) -> bytes:
        found = HREF.search(resp)
        href = found.group(1) if found else b""
        return RID.sub(lambda m: b"<D:resource-id><D:href>" + fn(m.group(1), href)
                       + b"</D:href></D:resource-id>", resp)  # fmt: skip

    return body_rewrite({"PROPFIND"}, lambda req, b: responses(b, each))


def _uuid(*parts: bytes) -> bytes:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, b'|'.join(parts).decode())}".encode()


FAULTS["no-resource-id"] = body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"<D:resource-id>.*?</D:resource-id>|<D:resource-id/>", b"", b, flags=re.S))
FAULTS["resource-id-per-href"] = _rewrite_ids(lambda rid, href: _uuid(rid, href.rstrip(b"/")))
FAULTS["resource-id-by-name"] = _rewrite_ids(
    lambda rid, href: _uuid(href.rstrip(b"/").rsplit(b"/", 1)[-1]))
FAULTS["parent-set-first-only"] = body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"(<D:parent-set><D:parent>.*?</D:parent>)(?:<D:parent>.*?</D:parent>)*(</D:parent-set>)",
    rb"\1\2", b, flags=re.S))
FAULTS["allprop-include"] = request_rewrite(lambda req: replace(req, body=req.body.replace(
    b"<D:allprop/>", b"<D:allprop/><D:include><D:resource-id/><D:parent-set/></D:include>"))
    if req.method == "PROPFIND" else req)


@fault("props-per-path")
async def _props_per_path(s: FaultyServer, req: Req) -> Reply:
    """Dead properties kept per URL: only the URL they were set through shows them."""
    paths: set[str] = s.state.setdefault("paths", set())
    reply = await s.call(req)
    if req.method == "PROPPATCH":
        paths.add(unquote(req.path).rstrip("/"))
        return reply
    if req.method != "PROPFIND" or reply.status != 207:
        return reply

    def each(resp: bytes) -> bytes:
        found = HREF.search(resp)
        href = unquote(found.group(1).decode()).rstrip("/") if found else ""
        if href in paths:
            return resp
        return re.sub(rb'<(\w+):([\w.-]+) xmlns:\1="urn:davbind:check"(?:/>|>.*?</\1:\2>)', b"",
                      resp, flags=re.S)

    return replace(reply, body=responses(reply.body, each))


# ====================================================================== 208 / 508


def _seen_again(fn: Callable[[bytes], bytes], collections_only: bool) -> Callable[[bytes], bytes]:
    """Apply ``fn`` to every response whose resource-id appeared earlier in the body."""

    def rewrite(body: bytes) -> bytes:
        seen: set[bytes] = set()

        def each(resp: bytes) -> bytes:
            found = RID.search(resp)
            if found is None or (collections_only and b"<D:collection/>" not in resp):
                return resp
            if found.group(1) in seen:
                return fn(resp)
            seen.add(found.group(1))
            return resp

        return responses(body, each)

    return rewrite


@fault("208-everywhere")
async def _208_everywhere(s: FaultyServer, req: Req) -> Reply:
    reply = await s.call(req)
    if req.method != "PROPFIND" or reply.status != 207 or not bind_aware(req):
        return reply
    mark = _seen_again(lambda resp: resp.replace(OK, ALREADY), collections_only=False)
    return replace(reply, body=mark(reply.body))


FAULTS["208-to-200"] = body_rewrite({"PROPFIND"}, lambda req, b: b.replace(ALREADY, OK))
FAULTS["strip-dav-request"] = request_rewrite(lambda req: req.set("dav", None))
FAULTS["208-without-bind"] = request_rewrite(
    lambda req: req.set("dav", "bind") if req.method == "PROPFIND" else req)
FAULTS["no-vary"] = reply_rewrite(
    lambda req, r: r.set("vary", None) if req.method == "PROPFIND" else r)


@fault("208-with-descendants")
async def _208_with_descendants(s: FaultyServer, req: Req) -> Reply:
    """Marks a collection's second binding 208 but still lists everything below it."""
    if req.method != "PROPFIND" or not bind_aware(req) or req.header("depth") != "infinity":
        return await s.call(req)
    reply = await s.call(req.set("dav", None))
    if reply.status != 207:
        return await s.call(req)  # a loop: 508 without the header; answer as davbind does
    mark = _seen_again(lambda resp: resp.replace(OK, ALREADY), collections_only=True)
    return replace(reply, body=mark(reply.body))


FAULTS["208-mixed"] = body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"<D:propstat><D:prop>((?:(?!<D:propstat>).)*?)</D:prop><D:status>HTTP/1.1 208 Already "
    rb"Reported</D:status></D:propstat>",
    rb"<D:propstat><D:prop>\1</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat>"
    rb"<D:propstat><D:prop/><D:status>HTTP/1.1 208 Already Reported</D:status></D:propstat>",
    b, flags=re.S))


def _bare(resp: bytes) -> bytes:
    if ALREADY not in resp:
        return resp
    href = HREF.search(resp)
    assert href is not None
    return (b"<D:response><D:href>" + href.group(1) + b"</D:href><D:status>" + ALREADY
            + b"</D:status></D:response>")  # fmt: skip


FAULTS["bare-208"] = body_rewrite({"PROPFIND"}, lambda req, b: responses(b, _bare))

# ====================================================================== DELETE / MOVE / COPY


@fault("destroy-all-bindings")
async def _destroy(s: FaultyServer, req: Req) -> Reply:
    """DELETE (and an overwriting COPY/MOVE) destroys the resources, not one binding."""
    doomed: list[tuple[str, str]] = []
    keep: tuple[str, str] | None = None
    if req.method == "DELETE":
        doomed = await parents_of(s, req, req.path, "infinity")
    elif req.method in ("MOVE", "COPY"):
        dest = dest_path(req)
        keep = binding_of(dest)
        doomed = await parents_of(s, req, dest)
        if req.method == "MOVE":
            doomed += await parents_of(s, req, req.path)
            keep2 = binding_of(req.path)
            doomed = [d for d in doomed if not same_binding(d, keep2)]
    reply = await s.call(req)
    if reply.status < 300:
        for parent, segment in doomed:
            if keep is None or not same_binding((parent, segment), keep):
                await unbind(s, req, parent, segment)
    return reply


async def _copy_tree(s: FaultyServer, req: Req, src: str, dst: str, seen: set[str]) -> None:
    listing = await s.call(internal_propfind(req, src, "1",
                                             "<D:resourcetype/><D:resource-id/>"))  # fmt: skip
    for resp in RESPONSE.findall(listing.body)[1:]:
        href = HREF.search(resp)
        rid = RID.search(resp)
        if href is None or rid is None:
            continue
        name = href.group(1).decode().rstrip("/").rsplit("/", 1)[-1]
        if b"<D:collection/>" in resp:
            if rid.group(1).decode() in seen:
                continue  # a loop or a second binding: dropped
            seen.add(rid.group(1).decode())
            await s.call(req.to("MKCOL", dst + name + "/"))
            await _copy_tree(s, req, src + name + "/", dst + name + "/", seen)
        else:
            host = req.header("host") or "localhost"
            await s.call(req.to("COPY", src + name, Destination=f"http://{host}{dst}{quote(unquote(name))}",
                                Depth="0"))


@fault("copy-member-by-member")
async def _copy_member_by_member(s: FaultyServer, req: Req) -> Reply:
    """Depth-infinity COPY of a collection as one COPY per file: structure and loops lost."""
    if req.method != "COPY" or (req.header("depth") or "infinity") != "infinity":
        return await s.call(req)
    probe = await s.call(internal_propfind(req, req.path, "0", "<D:resourcetype/><D:resource-id/>"))
    if b"<D:collection/>" not in probe.body:
        return await s.call(req)
    reply = await s.call(req.set("depth", "0"))
    if reply.status >= 300:
        return reply
    found = RID.search(probe.body)
    seen = {found.group(1).decode()} if found else set()
    dst = dest_path(req)
    await _copy_tree(s, req, req.path if req.path.endswith("/") else req.path + "/",
                     dst if dst.endswith("/") else dst + "/", seen)
    return reply


# ====================================================================== allowed variants
# Not faults: what the RFCs allow besides davbind's own choice.  The checks must pass.

fault("rebind-200")(status_map({"REBIND"}, 201, 200))
fault("replace-as-200")(status_map({"BIND", "REBIND", "UNBIND"}, 204, 200))

FINITE = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:error xmlns:D="DAV:">'
          b"<D:propfind-finite-depth/></D:error>")


@fault("refuse-infinity")
async def _refuse_infinity(s: FaultyServer, req: Req) -> Reply:
    """Depth infinity refused as RFC 4918 §9.1 allows (Apache mod_dav's default)."""
    if req.method == "PROPFIND" and (req.header("depth") or "infinity") == "infinity":
        return Reply(403, (("content-type", "application/xml"),), FINITE)
    return await s.call(req)


FAULTS["no-parent-set"] = body_rewrite({"PROPFIND"}, lambda req, b: re.sub(
    rb"<D:parent-set>.*?</D:parent-set>|<D:parent-set/>", b"", b, flags=re.S))


@fault("loop-508-midstream")
async def _loop_508_midstream(s: FaultyServer, req: Req) -> Reply:
    """A loop found while streaming: 207 whose last response is 508 (how davbind reports it)."""
    reply = await s.call(req)
    if req.method != "PROPFIND" or reply.status != 508:
        return reply
    full = await s.call(req.set("dav", "bind"))
    found = RESPONSE.findall(full.body)
    cut = next(i for i, r in enumerate(found) if ALREADY in r)
    href = HREF.search(found[cut])
    assert href is not None
    loop = (b"<D:response><D:href>" + href.group(1) + b"</D:href><D:status>HTTP/1.1 508 Loop "
            b"Detected</D:status></D:response>")
    head = full.body[: full.body.index(b"<D:response>")]
    return Reply(207, (("content-type", "application/xml"),),
                 head + b"".join(found[:cut]) + loop + b"</D:multistatus>\n")


@fault("slow")
async def _slow(s: FaultyServer, req: Req) -> Reply:
    """Every request takes 50 ms more (to interrupt a run in the middle)."""
    await asyncio.sleep(0.05)
    return await s.call(req)
