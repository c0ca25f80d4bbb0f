"""Fixtures shared by several test directories: the S3 service of the tests."""

from __future__ import annotations

import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture
def s3_blob_url() -> str:
    """A blob store URL (``s3://``) of a fresh, empty prefix of the S3 service of the
    tests (``DAVBIND_TEST_S3_URL``, set by scripts/test.sh, which starts SeaweedFS with
    scripts/seaweed.sh).  Without it the test is skipped, or fails when ``CI`` is set."""
    base = os.environ.get("DAVBIND_TEST_S3_URL", "")
    if not base:
        message = "DAVBIND_TEST_S3_URL is not set (scripts/test.sh starts SeaweedFS)"
        if _in_ci():
            pytest.fail(f"{message}; CI is set, so this is a failure", pytrace=False)
        pytest.skip(message)
    parsed = urlsplit(base)
    return urlunsplit(parsed._replace(path=f"{parsed.path.rstrip('/')}/{uuid.uuid4().hex}"))
