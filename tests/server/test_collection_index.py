"""The HTML index page of a collection (GET on a collection, RFC 4918 §9.4): what a person
sees (names, sizes, times, links that work), what it must never do (run script in the
server's origin), and that it is streamed rather than built whole."""

from __future__ import annotations

import time
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest

from davbind.protocol.errors import DAVError
from davbind.server.collection_index import CRUMBS, FLUSH, human_size, start
from davbind.server.http import Request

CSP = "default-src 'none'; style-src 'unsafe-inline'"


class Page(HTMLParser):
    """The parts of an index page the tests look at."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.rows: list[list[str]] = []  # text of each body cell
        self.times: list[str] = []
        self.titles: list[str] = []  # title attributes of cells
        self._href: str | None = None
        self._text: list[str] = []
        self._cell: list[str] | None = None
        self._in_body = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.tags.append(tag)
        if tag == "a":
            self._href, self._text = a.get("href"), []
        elif tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append([])
        elif tag == "td":
            self._cell = []
            if a.get("title"):
                self.titles.append(str(a["title"]))
        elif tag == "time":
            self.times.append(str(a.get("datetime")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, "".join(self._text)))
            self._href = None
        elif tag == "td" and self._cell is not None and self._in_body:
            self.rows[-1].append("".join(self._cell))
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)
        if self._cell is not None:
            self._cell.append(data)


def test_page_lists_members_with_sizes_times_and_working_links(dav):
    dav.mkcol("/c")
    dav.put("/c/notes.txt", b"x" * 1500)
    dav.put("/c/empty", b"")
    dav.mkcol("/c/sub")
    r = dav.request("GET", "/c/")
    assert r.status_code == 200
    assert r.headers["content-type"] == "text/html; charset=utf-8"
    page = Page(r.text)
    rows = {row[0]: row for row in page.rows}
    assert list(rows) == ["../", "empty", "notes.txt", "sub/"]  # segment order
    assert rows["notes.txt"][1] == "1.5 KiB"
    assert rows["empty"][1] == "0 B"
    assert rows["sub/"][1] == "—"
    assert "1500 bytes" in page.titles
    # each member's modification time, to the second, as PROPFIND shows it
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    assert rows["notes.txt"][2].startswith(stamp)
    assert len(page.times) == 3 and all(t.endswith("Z") for t in page.times)
    for href, text in page.links:
        if text in ("notes.txt", "empty", "sub/"):
            assert dav.request("GET", href).status_code == 200, href
    assert ("/", "/") in page.links and ("/c/", "c/") in page.links  # the heading
    assert ("/", "../") in page.links
    assert page.tags.count("script") == 0
    assert "1 member" not in r.text and "3 members" in r.text


def test_headers_forbid_script_and_sniffing(dav):
    dav.mkcol("/c")
    for url in ("/", "/c/", "/c"):
        r = dav.request("GET", url)
        assert r.headers["content-security-policy"] == CSP, url
        assert r.headers["x-content-type-options"] == "nosniff", url
    etag = dav.request("HEAD", "/c/").headers["etag"]
    (entry,) = dav.props("/c/", ("{DAV:}getetag",)).values()
    assert entry["{DAV:}getetag"][1].text == etag


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)<\\script>", 'a"b&c\'d', "<img src=x onerror=alert(1)>", "ü €.txt",
     "javascript:alert(1)", "%2e%2e"],
)
def test_member_names_are_escaped_and_links_lead_to_them(dav, name):
    dav.mkcol("/c")
    with dav.app.services.store.write() as txn:  # any name BIND accepts (no "/", no NUL)
        parent = txn.lookup(txn.root_key, "c")
        assert parent is not None
        digest, size = txn.store_inline(b"payload")
        txn.create(parent.key, name, collection=False, digest=digest, size=size)
    r = dav.request("GET", "/c/")
    page = Page(r.text)
    assert page.tags.count("script") == 0 and "img" not in page.tags
    assert "<script" not in r.text and "<img" not in r.text
    (href,) = [h for h, text in page.links if text == name]
    assert href.startswith("/c/") and unquote(href[3:]) == name
    assert dav.request("GET", href).content == b"payload"


def test_root_has_no_parent_link_and_one_member_is_said_so(dav):
    dav.put("/only", b"1")
    r = dav.request("GET", "/")
    page = Page(r.text)
    assert [row[0] for row in page.rows] == ["only"]
    assert "1 member<" in r.text


def test_head_and_304_send_no_page(dav):
    dav.mkcol("/c")
    dav.put("/c/f", b"1")
    get = dav.request("GET", "/c/")
    head = dav.request("HEAD", "/c/")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == get.headers["etag"]
    assert head.headers["content-security-policy"] == CSP
    r = dav.request("GET", "/c/", headers={"If-None-Match": get.headers["etag"]})
    assert r.status_code == 304 and r.content == b""
    r = dav.request("GET", "/c/", headers={"If-Match": '"other"'})
    assert r.status_code == 412


def test_large_index_is_streamed_in_chunks(dav):
    """A page of more than two chunks goes out as a stream (no Content-Length: it was
    not built whole), and is complete and well formed."""
    n = 4000
    with dav.app.services.store.write() as txn:
        c = txn.create(txn.root_key, "many", collection=True).key
        digest, size = txn.store_inline(b"x")
        for i in range(n):
            txn.create(c, f"member-{i:05d}-{'n' * 60}", collection=False, digest=digest,
                       size=size)
    r = dav.request("GET", "/many/")
    assert len(r.content) > 2 * FLUSH
    assert "content-length" not in r.headers
    page = Page(r.text)
    assert len(page.rows) == n + 1  # and the parent
    assert r.text.endswith("</html>\n") and f"{n} members" in r.text
    small = dav.request("GET", "/")
    assert int(small.headers["content-length"]) == len(small.content)


def test_deep_collection_heading_links_its_nearest_ancestors(dav):
    depth = CRUMBS + 10
    with dav.app.services.store.write() as txn:
        node = txn.root_key
        for i in range(depth):
            node = txn.create(node, f"d{i}", collection=True).key
    path = "".join(f"/d{i}" for i in range(depth)) + "/"
    page = Page(dav.request("GET", path).text)
    heading = [h for h, text in page.links if text.startswith("d") or text == "/"]
    assert len(heading) == CRUMBS + 1  # the root and the nearest CRUMBS ancestors
    assert heading[-1] == path


@pytest.mark.parametrize(
    ("size", "text"),
    [(0, "0 B"), (1023, "1023 B"), (1024, "1.0 KiB"), (1536, "1.5 KiB"), (10 * 1024, "10 KiB"),
     (1023 * 1024, "1023 KiB"), (5 * 2**30, "5.0 GiB"), (3 * 2**60, "3072 PiB")],
)
def test_human_size(size, text):
    assert human_size(size) == text


def test_collection_replaced_between_the_two_snapshots(dav):
    """The page is read in a snapshot of its own: a collection gone by then is a 404, one
    replaced by a file a 409 (never a page of the file, nor a traceback)."""
    dav.mkcol("/c")
    dav.put("/f", b"1")

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b""}

    request = Request({"method": "GET", "path": "/f", "headers": []}, receive)
    gone = Request({"method": "GET", "path": "/nothing/", "headers": []}, receive)
    with dav.app.services.store.read() as txn:
        with pytest.raises(DAVError) as replaced:
            start(txn, request)
        assert replaced.value.status == 409
        with pytest.raises(DAVError) as missing:
            start(txn, gone)
        assert missing.value.status == 404


def test_title_names_the_collection_as_a_person_reads_it(dav):
    dav.mkcol("/a%20b")
    r = dav.request("GET", "/a%20b/")
    assert "<title>Index of /a b/</title>" in r.text
