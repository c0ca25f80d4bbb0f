"""The uvicorn seam (server/zerocopy.py) names the uvicorn internals it relies on; the
installed uvicorn is within the bounds pyproject.toml declares and has every one of
them.  The test command runs this (and the seam's behaviour tests) against the lowest
allowed version as well as the highest."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from davbind.server import zerocopy

ROOT = Path(__file__).resolve().parents[2]


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split(".")[:3] if p.isdigit())


def test_uvicorn_is_within_the_declared_bounds() -> None:
    spec = re.search(r'"uvicorn\[standard\]>=([\d.]+),<([\d.]+)"',
                     (ROOT / "pyproject.toml").read_text())  # fmt: skip
    assert spec is not None, "pyproject.toml must bound uvicorn on both sides"
    low, high = _version(spec.group(1)), _version(spec.group(2))
    assert low <= _version(uvicorn.__version__) < high


def test_the_internals_the_seam_names_exist() -> None:
    doc = zerocopy.__doc__ or ""
    used = set(re.findall(r"``(\w+)``", doc.split("They are not a public")[0]))
    cycle_init = inspect.getsource(RequestResponseCycle.__init__)
    cycle_names = set(re.findall(r"self\.(\w+)", cycle_init)) | set(dir(RequestResponseCycle))
    for name in ("flow", "disconnected", "response_started", "response_complete",
                 "chunked_encoding", "expected_content_length", "keep_alive", "transport",
                 "scope", "message_event", "on_response", "send"):  # fmt: skip
        assert name in cycle_names, name
        assert name in used or name == "send", f"{name} is used but not named in the doc"
    for name in ("connection_made", "on_headers_complete", "cycle", "scope"):
        assert hasattr(HttpToolsProtocol, name) or name in inspect.getsource(
            HttpToolsProtocol.on_headers_complete
        ), name
