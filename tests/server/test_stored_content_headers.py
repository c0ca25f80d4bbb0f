"""Stored content never runs script in the server's origin: a file served by GET carries
``X-Content-Type-Options: nosniff`` and a sandboxing ``Content-Security-Policy``, whatever
type its uploader gave it (HTML and SVG included), for inline and blob content, whole or
ranged."""

from __future__ import annotations

from typing import Any

import pytest

from davbind.storage.interface import INLINE_MAX

EVIL_HTML = b"<html><body><script>fetch('/secret.txt')</script></body></html>"
EVIL_SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


@pytest.mark.parametrize(
    ("name", "body", "ctype"),
    [
        ("page.html", EVIL_HTML, "text/html"),
        ("pic.svg", EVIL_SVG, "image/svg+xml"),
        ("big.html", EVIL_HTML + b" " * INLINE_MAX, "text/html"),  # a blob file
        ("note.txt", b"plain", None),
    ],
)
def test_files_are_sandboxed(dav: Any, name: str, body: bytes, ctype: str | None) -> None:
    headers = {"Content-Type": ctype} if ctype else {}
    assert dav.put(f"/{name}", body, **headers).status_code == 201
    for extra in ({}, {"Range": "bytes=0-9"}):
        r = dav.request("GET", f"/{name}", headers=extra)
        assert r.status_code in (200, 206)
        assert r.headers["x-content-type-options"] == "nosniff"
        policy = [p.strip() for p in r.headers["content-security-policy"].split(";")]
        assert "sandbox" in policy and "default-src 'none'" in policy
        assert not any("script" in p for p in policy)
    head = dav.request("HEAD", f"/{name}")
    assert "sandbox" in head.headers["content-security-policy"]
