"""A sync client's ``X-OC-Mtime`` on PUT (Nextcloud's convention, which rclone and
``davbind import`` send) sets the file's last-modified time and is acknowledged with
``X-OC-MTime: accepted``; a value that is not a time is ignored, not an error."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

import pytest

from davbind.storage.interface import INLINE_MAX


@pytest.mark.parametrize("size", [5, INLINE_MAX + 1])  # inline content and a blob file
def test_the_given_time_is_kept_on_create_and_on_overwrite(dav: Any, size: int) -> None:
    r = dav.put("/f.bin", b"x" * size, **{"X-OC-Mtime": "1000000000"})
    assert r.status_code == 201 and r.headers["x-oc-mtime"] == "accepted"
    assert r.headers["last-modified"] == formatdate(1000000000, usegmt=True)
    (status, element), = dav.props("/f.bin", ("{DAV:}getlastmodified",))["/f.bin"].values()
    assert status == 200 and element.text == "Sun, 09 Sep 2001 01:46:40 GMT"
    r = dav.put("/f.bin", b"y" * size, **{"X-OC-Mtime": "1234567890.5"})
    assert r.status_code == 204 and r.headers["x-oc-mtime"] == "accepted"
    assert dav.request("GET", "/f.bin").headers["last-modified"] == formatdate(
        1234567890, usegmt=True
    )


@pytest.mark.parametrize("value", ["soon", "", "-5", "1e400", "nan"])
def test_a_value_that_is_no_time_is_ignored(dav: Any, value: str) -> None:
    r = dav.put("/f.txt", b"data", **{"X-OC-Mtime": value})
    assert r.status_code == 201 and "x-oc-mtime" not in r.headers
    assert r.headers["last-modified"] != formatdate(0, usegmt=True)
