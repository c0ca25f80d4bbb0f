"""Where else a resource lives, from ``DAV:parent-set`` in any form a server writes it."""

from __future__ import annotations

import pytest

from davbind.cli.render import all_paths, elsewhere, entry_json
from davbind.client import Entry, fold_multistatus

BODY = """<?xml version="1.0" encoding="utf-8"?>
<D:multistatus xmlns:D="DAV:"><D:response><D:href>{href}</D:href><D:propstat><D:prop>
<D:resourcetype>{kind}</D:resourcetype><D:parent-set>{parents}</D:parent-set>
</D:prop><D:status>HTTP/1.1 200 OK</D:status></D:propstat></D:response></D:multistatus>"""


def _entry(href: str, parents: list[tuple[str, str]], collection: bool) -> Entry:
    xml = "".join(f"<D:parent><D:href>{h}</D:href><D:segment>{s}</D:segment></D:parent>"
                  for h, s in parents)  # fmt: skip
    body = BODY.format(href=href, kind="<D:collection/>" if collection else "", parents=xml)
    return fold_multistatus(body.encode(), "http://h:8/").entries[0]


@pytest.mark.parametrize(("href", "parents", "collection", "others"), [
    ("/a/f.txt", [("/a/", "f.txt")], False, []),
    ("/a/f.txt", [("/a/", "f.txt"), ("/b/", "g.txt")], False, [("/b/g.txt", "alias")]),
    ("/a/f.txt", [("http://h:8/a/", "f.txt"), ("http://h:8/b", "g.txt")], False,
     [("/b/g.txt", "alias")]),  # absolute parent hrefs, one without its slash
    ("/a/f.txt", [("/a/", "f.txt"), ("/b%20c/", "x%20y.txt")], False,
     [("/b%20c/x%20y.txt", "alias")]),
    ("/d/", [("/", "d"), ("/d/e/", "up")], True, [("/d/e/up/", "loop")]),
    ("/d/e/up/", [("/", "d"), ("/d/e/", "up")], True, [("/d/", "loop")]),
    ("/d/", [("/", "d"), ("/x/", "d")], True, [("/x/d/", "alias")]),
    ("/d/", [], True, []),  # no parent-set: nothing beyond the listing
])  # fmt: skip
def test_other_paths_and_loops(
    href: str, parents: list[tuple[str, str]], collection: bool, others: list[tuple[str, str]]
) -> None:
    entry = _entry(href, parents, collection)
    assert elsewhere(entry.href, entry) == others
    assert len(all_paths(entry)) == 1 + len(others)
    data = entry_json(entry)
    assert data["aliases"] == sorted(p for p, _ in others)
    assert data["loops"] == [p for p, kind in others if kind == "loop"]
