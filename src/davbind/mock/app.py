"""The mock as a raw ASGI application (no web framework, no dependency on ``server``).

What it holds: :class:`MockApp`, which reads each request, asks its
:class:`~davbind.mock.ledger.Ledger` which expectation answers it, and sends that
expectation's canned reply, streamed chunk by chunk.

The rules kept here:

- A request no expectation takes is recorded and answered at once: in strict mode
  ``500`` with the text ``davbind mock: unexpected request METHOD PATH (reason)``; in
  lenient mode ``404`` with the same text.  Both carry ``X-Davbind-Mock: unexpected``.
- At most the first MiB of a request body is kept (for ``body_contains``); the rest is
  read and dropped, so a large PUT does not fill memory.
- ``on_done`` is called after a reply has been sent that left nothing unmet (the CLI's
  ``--exit-when-done``).
- ``replay`` lets a client play a completed scenario again (see the ledger).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from davbind.mock.bodies import Substitutions, render
from davbind.mock.ledger import Ledger, MockRequest, Unexpected
from davbind.mock.model import Reply, Scenario

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

BODY_KEPT = 1024 * 1024


class MockApp:
    """ASGI callable serving one scenario."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        on_done: Callable[[], None] | None = None,
        log: Callable[[str], None] | None = None,
        replay: bool = False,
    ) -> None:
        self.scenario = scenario
        self.ledger = Ledger(scenario, replay=replay)
        self._on_done = on_done
        self._log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await _read(scope, receive)
        if request is None:  # the client went away before its body was complete
            return
        found = self.ledger.take(request)
        if isinstance(found, Unexpected):
            await self._refuse(send, found)
            return
        subs = _substitutions(scope, request)
        await _send_reply(send, found.reply, subs, head=request.method == "HEAD")
        if self._on_done is not None and self.ledger.done():
            self._on_done()

    async def _refuse(self, send: Send, found: Unexpected) -> None:
        text = f"davbind mock: unexpected request {found.method} {found.target} ({found.reason})"
        if self._log is not None:
            self._log(text)
        body = (text + "\n").encode("utf-8")
        await send({
            "type": "http.response.start",
            "status": 500 if self.scenario.strict else 404,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-davbind-mock", b"unexpected"),
            ],
        })
        await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read(scope: Scope, receive: Receive) -> MockRequest | None:
    raw = scope.get("raw_path") or scope["path"].encode("utf-8")
    path = raw.decode("latin-1").split("?", 1)[0]
    headers = tuple(
        (k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in scope["headers"]
    )
    kept: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        if size < BODY_KEPT and chunk:
            kept.append(chunk[: BODY_KEPT - size])
            size += len(kept[-1])
        if not message.get("more_body", False):
            break
    return MockRequest(
        method=scope["method"].upper(),
        path=path,
        query=scope.get("query_string", b"").decode("latin-1"),
        headers=headers,
        body=b"".join(kept),
    )


def _substitutions(scope: Scope, request: MockRequest) -> Substitutions:
    host = request.header("host")
    if not host:
        server = scope.get("server") or ("localhost", None)
        host = server[0] if server[1] is None else f"{server[0]}:{server[1]}"
    return Substitutions(scope.get("scheme", "http"), host, request.path)


async def _send_reply(send: Send, reply: Reply, subs: Substitutions, *, head: bool) -> None:
    headers, chunks = render(reply, subs)
    raw = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": raw})
    if not head:
        for chunk in chunks:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})
