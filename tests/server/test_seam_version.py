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

from davbind.server import connection_limits, zerocopy

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


def test_the_internals_the_connection_limits_name_exist() -> None:
    """``server/connection_limits.py`` names the uvicorn callbacks it overrides and the
    attributes it uses; each exists on this uvicorn (a class member, or assigned by the
    class), and each one the code touches is named."""
    doc = connection_limits.__doc__ or ""
    named = set(re.findall(r"``(\w+)``", doc.split("They are not a public")[0]))
    protocol_names = set(dir(HttpToolsProtocol)) | set(
        re.findall(r"self\.(\w+) *[:=]", inspect.getsource(HttpToolsProtocol))
    )
    cycle_names = set(dir(RequestResponseCycle)) | set(
        re.findall(r"self\.(\w+)", inspect.getsource(RequestResponseCycle.__init__))
    )
    overridden = {
        name for name, member in vars(connection_limits.GuardedProtocol).items()
        if callable(member) and name in set(dir(HttpToolsProtocol)) and name != "__init__"
    }  # fmt: skip
    assert overridden, "GuardedProtocol overrides uvicorn's callbacks"
    assert overridden <= named, f"overridden but not named: {overridden - named}"
    source = inspect.getsource(connection_limits.GuardedProtocol)
    used = set(re.findall(r"self\.(?!_)(\w+)", source)) - overridden - {"limits"}
    assert used <= named, f"used but not named in the doc: {used - named}"
    for name in used | overridden:
        assert name in protocol_names, name
    for name in set(re.findall(r"self\.cycle\.(\w+)", source)):
        assert name in named and name in cycle_names, name
