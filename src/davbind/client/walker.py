"""The Depth-1 walk that stands in for a refused or truncated Depth-infinity PROPFIND.

Sans I/O: :class:`Depth1Walk` says which collection to PROPFIND next (``next_url``) and
is handed the responses (``feed``); ``Client`` and ``AsyncClient`` only run the loop.

The rules it keeps (RFC 4918 §9.1 lets a server refuse Depth infinity with 403
``propfind-finite-depth``; RFC 5842 §7 says how a Depth-infinity answer looks):

- The result is what a bind-aware Depth-infinity PROPFIND would have said, in the same
  depth-first pre-order: each collection *resource* is enumerated once — the first
  binding met — and every later binding to it is listed but not entered, so
  ``listing.fold`` makes it an alias and a binding loop ends (RFC 5842 §7.1).
  Resources are told apart by ``DAV:resource-id``; on a server without it, by href.
- Hrefs on another origin are listed, never followed.
- ``max_depth`` bounds the walk on servers without resource ids whose file system loops
  through symbolic links (every href differs there, so nothing else could stop it).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from davbind.client.hrefs import href_key, normalize_href
from davbind.client.listing import Folder, Listing, response_facts
from davbind.client.multistatus import Response


class Depth1Walk:
    """Depth-first walk of ``root_url`` by Depth-1 PROPFINDs (see the module doc)."""

    def __init__(self, root_url: str, *, max_depth: int | None = None) -> None:
        parts = urlsplit(root_url)
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._root_url = root_url
        self._folder = Folder(root_url)
        self._max_depth = max_depth
        self._pending: list[tuple[Response, str, int]] = []  # (response, base URL, depth)
        self._entered: set[str] = set()
        self._current: tuple[str, int] | None = (root_url, 0)
        self._started = False
        self.requests = 0

    def next_url(self) -> str | None:
        """The next collection to PROPFIND with Depth 1, or None when the walk is done."""
        if self._current is not None:
            return self._current[0]
        while self._pending:
            response, base, depth = self._pending.pop()
            self._folder.add(response, base)
            url = self._enter(response, base, depth)
            if url is not None:
                self._current = (url, depth)
                return url
        return None

    def _identity(self, response: Response, base: str) -> tuple[str | None, str | None]:
        """(key for the entered set, absolute path) of a response; key None = not a
        collection to enter."""
        facts = response_facts(response)
        href = normalize_href(response.href, base)
        if not href.startswith("/"):
            return None, None  # another origin
        if facts.status is None or not 200 <= facts.status < 300 or facts.status == 208:
            return None, href
        collection = facts.collection if facts.collection is not None else href.endswith("/")
        if not collection:
            return None, href
        return facts.resource_id or "href:" + href_key(href), href

    def _enter(self, response: Response, base: str, depth: int) -> str | None:
        key, href = self._identity(response, base)
        if key is None or href is None or key in self._entered:
            return None
        if self._max_depth is not None and depth >= self._max_depth:
            return None
        self._entered.add(key)
        return self._origin + (href if href.endswith("/") else href + "/")

    def feed(self, responses: Iterable[Response]) -> None:
        """The responses of the Depth-1 PROPFIND of the URL ``next_url`` returned."""
        if self._current is None:
            raise RuntimeError("feed() without a pending next_url()")
        url, depth = self._current
        self._current = None
        self.requests += 1
        own = href_key(normalize_href(url, url))
        members: list[Response] = []
        for response in responses:
            if href_key(normalize_href(response.href, url)) == own:
                if not self._started:  # the walk's root: listed first, marked entered
                    self._started = True
                    self._folder.add(response, url)
                    key, _ = self._identity(response, url)
                    if key is not None:
                        self._entered.add(key)
                continue
            members.append(response)
        if not self._started:  # the server did not report the root itself
            self._started = True
        self._pending.extend((r, url, depth + 1) for r in reversed(members))

    def listing(self, note: str = "") -> Listing:
        return self._folder.listing(note)
