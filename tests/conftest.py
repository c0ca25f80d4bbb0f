"""Fixtures shared by several test directories: the S3 and PostgreSQL services of the
tests."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _required(variable: str, hint: str) -> str:
    """The value of the environment variable naming a test service; without it the test
    is skipped, or fails when ``CI`` is set."""
    value = os.environ.get(variable, "")
    if not value:
        message = f"{variable} is not set ({hint})"
        if _in_ci():
            pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
        pytest.skip(message)
    return value


@pytest.fixture
def s3_blob_url() -> str:
    """A blob store URL (``s3://``) of a fresh, empty prefix of the S3 service of the
    tests (``DAVBIND_TEST_S3_URL``, set by scripts/test.sh, which starts SeaweedFS with
    scripts/seaweed.sh).  Without it the test is skipped, or fails when ``CI`` is set."""
    base = _required("DAVBIND_TEST_S3_URL", "scripts/test.sh starts SeaweedFS")
    parsed = urlsplit(base)
    return urlunsplit(parsed._replace(path=f"{parsed.path.rstrip('/')}/{uuid.uuid4().hex}"))


@pytest.fixture
def postgres_server() -> str:
    """The URL of the shared PostgreSQL test server (``DAVBIND_TEST_POSTGRES_URL``,
    scripts/postgres.sh starts one), for tests that make their own databases there.
    Without it the test is skipped, or fails when ``CI`` is set."""
    return _required("DAVBIND_TEST_POSTGRES_URL", "scripts/postgres.sh starts a server")
