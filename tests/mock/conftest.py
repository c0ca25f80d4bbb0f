"""Fixtures of the mock tests: scenarios from TOML text, and the ASGI app called directly.

The rule kept here: helpers are fixtures (``scenario_from``, ``call_app``), not
importable functions — another ``conftest`` elsewhere in ``tests/`` would clash with
``from conftest import ...`` under ``--import-mode=importlib``.  ``call_app`` drives
the raw ASGI callable in one ``asyncio.run`` and returns every message it sent, so a
test can count body chunks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest

from davbind.mock import MockApp, Scenario, parse_scenario


@dataclass
class Sent:
    """What the app sent for one request."""

    status: int
    headers: dict[str, list[str]]
    chunks: list[bytes] = field(default_factory=list)

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return ", ".join(values) if values else None


CallApp = Callable[..., Sent]


@pytest.fixture
def scenario_from(tmp_path: Path) -> Callable[[str], Scenario]:
    def make(text: str) -> Scenario:
        return parse_scenario(text, base_dir=tmp_path, source="test.toml")

    return make


def _call(
    app: MockApp,
    method: str,
    raw_path: str,
    headers: Sequence[tuple[str, str]] = (),
    body: bytes = b"",
    query: str = "",
) -> Sent:
    messages: list[MutableMapping[str, Any]] = []

    async def run() -> None:
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.sleep(3600)
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            messages.append(message)

        scope = {
            "type": "http",
            "method": method,
            "path": unquote(raw_path),
            "raw_path": raw_path.encode("latin-1"),
            "query_string": query.encode("latin-1"),
            "headers": [(k.lower().encode("latin-1"), v.encode("utf-8")) for k, v in headers],
            "scheme": "http",
            "server": ("testserver", 80),
        }
        await app(scope, receive, send)

    asyncio.run(run())
    start = messages[0]
    assert start["type"] == "http.response.start"
    sent_headers: dict[str, list[str]] = {}
    for k, v in start["headers"]:
        sent_headers.setdefault(k.decode("latin-1"), []).append(v.decode("latin-1"))
    chunks = [m["body"] for m in messages[1:] if m.get("body")]
    assert messages[-1].get("more_body", False) is False
    return Sent(start["status"], sent_headers, chunks)


@pytest.fixture
def call_app() -> CallApp:
    return _call
