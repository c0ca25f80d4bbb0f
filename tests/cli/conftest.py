"""The CLI tests share the client tests' servers and fixtures: one ``davbind serve`` per
session, WsgiDAV per test (defined once, in tests/client/conftest.py)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import pytest


def _load_client_conftest() -> dict[str, object]:
    path = Path(__file__).parents[1] / "client" / "conftest.py"
    spec = importlib.util.spec_from_file_location("davbind_client_conftest", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {k: v for k, v in vars(module).items() if not k.startswith("__")}


globals().update(_load_client_conftest())


@pytest.fixture
def schema_checked() -> Callable[[str], Any]:
    """Reads ``ls``/``tree --json`` output, checked against the published listing schema
    (its entries), or ``info --json`` output, checked as one entry of it."""
    from davbind.server.json_schema import LISTING

    listing = jsonschema.Draft202012Validator(LISTING)
    entry = jsonschema.Draft202012Validator({"$ref": "#/$defs/entry", "$defs": LISTING["$defs"]})

    def check(text: str) -> Any:
        doc = json.loads(text)
        if "responses" in doc:
            listing.validate(doc)
            return doc["responses"]
        entry.validate(doc)
        return doc

    return check
