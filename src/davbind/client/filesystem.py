"""An fsspec filesystem over :class:`Client`, protocols ``davbind`` and ``davbinds``.

``fsspec.open("davbind://host:8080/data/x.csv")`` (and so ``pandas.read_csv``) reads
over plain HTTP, ``davbinds://`` over HTTPS; ``base_url=`` in the storage options serves
a server mounted below a path prefix.  Credentials: ``username``/``password`` options,
or ``user:password@`` in the URL.

The rules kept: fsspec paths are decoded absolute paths below the server root
("/a b/c.txt"); ``info`` carries ``resource_id`` and ``aliases`` besides name, size and
type; ``find`` and ``walk`` use one Depth-infinity PROPFIND (``Client.walk``, with its
Depth-1 fallback), so a binding loop ends and every path of a resource is listed, but an
aliased collection is not descended twice (RFC 5842 §7.1).  Writes are buffered in a
spooled temporary file and sent as one streamed PUT on close (WebDAV has no partial
upload, RFC 4918 §9.7.1).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem  # type: ignore[import-untyped]

from davbind.client.errors import MethodNotAllowed, NotFound
from davbind.client.hrefs import href_key
from davbind.client.listing import PARENT_SET, Entry, Listing, TreeNode
from davbind.client.messages import LIST_PROPS
from davbind.client.sync_client import Client

SPOOL = 8 * 1024 * 1024


def _base_from(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    scheme = "https" if parts.scheme == "davbinds" else "http"
    host = parts.hostname or "127.0.0.1"
    port = f":{parts.port}" if parts.port else ""
    out: dict[str, Any] = {"base_url": f"{scheme}://{host}{port}/"}
    if parts.username:
        out["username"] = unquote(parts.username)
        out["password"] = unquote(parts.password or "")
    return out


class DavbindFileSystem(AbstractFileSystem):  # type: ignore[misc]
    """fsspec view of a WebDAV server through ``davbind.client.Client``."""

    protocol = ("davbind", "davbinds")
    root_marker = "/"

    def __init__(
        self,
        base_url: str = "http://127.0.0.1:8080/",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        auth = (username, password or "") if username else None
        self.client = Client(base_url, auth=auth, timeout=timeout)
        self._prefix = urlsplit(self.client.base_url).path.rstrip("/")

    # ------------------------------------------------------------------ paths

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        text = str(path)
        if "://" in text:
            text = urlsplit(text).path
        text = "/" + text.lstrip("/")
        return text.rstrip("/") or "/"

    @staticmethod
    def _get_kwargs_from_urls(path: str) -> dict[str, Any]:
        return _base_from(path) if "://" in path else {}

    def _name(self, href: str) -> str:
        path = unquote(href_key(href))
        if self._prefix and path.startswith(self._prefix):
            path = path[len(self._prefix) :] or "/"
        return path

    def _info(self, entry: Entry, href: str | None = None) -> dict[str, Any]:
        modified = entry.modified
        return {
            "name": self._name(href or entry.href),
            "size": entry.size if entry.size is not None else 0,
            "type": "directory" if entry.collection else "file",
            "resource_id": entry.resource_id,
            "aliases": [self._name(a) for a in entry.hrefs if a != (href or entry.href)],
            "etag": entry.etag,
            "mtime": modified.timestamp() if modified is not None else None,
            "content_type": entry.content_type,
        }

    # ------------------------------------------------------------------ reading

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        path = self._strip_protocol(path)
        try:
            listing = self.client.ls(path)
        except NotFound as exc:
            raise FileNotFoundError(path) from exc
        root = listing.tree()
        nodes = root.children if root.entry.collection else (root,)
        infos = [self._info(n.entry, n.href) for n in nodes]
        return infos if detail else [i["name"] for i in infos]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        path = self._strip_protocol(path)
        try:
            listing = self.client.propfind(path, "0", (*LIST_PROPS, PARENT_SET))
        except NotFound as exc:
            raise FileNotFoundError(path) from exc
        entry = listing.root
        if entry is None:
            raise FileNotFoundError(path)
        info = self._info(entry, listing.target)
        # DAV:parent-set (RFC 5842 §3.2) names every binding, not just this URL's.
        others = {self._name(p.href.rstrip("/") + "/" + p.segment) for p in entry.parents}
        info["aliases"] = sorted(others - {info["name"]})
        return info

    def ukey(self, path: str) -> str:
        """The resource id: the same for every path of one resource (RFC 5842 §3.1)."""
        info = self.info(path)
        return str(info["resource_id"] or info["etag"] or info["name"])

    def _walk_listing(self, path: str) -> Listing:
        try:
            return self.client.walk(self._strip_protocol(path))
        except NotFound as exc:
            raise FileNotFoundError(path) from exc

    def find(
        self,
        path: str,
        maxdepth: int | None = None,
        withdirs: bool = False,
        detail: bool = False,
        **kwargs: Any,
    ) -> Any:
        path = self._strip_protocol(path)
        listing = self._walk_listing(path)
        base_depth = path.rstrip("/").count("/")
        found: dict[str, dict[str, Any]] = {}
        for entry in listing:
            for href in entry.hrefs:
                info = self._info(entry, href)
                name = info["name"]
                depth = name.count("/") - base_depth
                if name == path or (maxdepth is not None and depth > maxdepth):
                    continue
                if info["type"] == "directory" and not withdirs:
                    continue
                found[name] = info
        if not found and listing.root is not None and not listing.root.collection:
            found[path] = self._info(listing.root, listing.target)
        names = sorted(found)
        return {n: found[n] for n in names} if detail else names

    def walk(
        self,
        path: str,
        maxdepth: int | None = None,
        topdown: bool = True,
        on_error: Any = "omit",
        **kwargs: Any,
    ) -> Iterator[tuple[str, Any, Any]]:
        """``os.walk`` over one ``Client.walk`` listing: each collection once.

        Another binding of a collection (an alias, or a loop back up) is listed among
        its parent's directories but not entered, like a symbolic link by ``os.walk``
        without ``followlinks``: its members are those of the binding that is walked
        (RFC 5842 §7.1), so a binding loop ends.  With ``topdown`` the caller may prune
        the directory list; ``detail=True`` gives info dicts instead of names."""
        if maxdepth is not None and maxdepth < 1:
            raise ValueError("maxdepth must be at least 1")
        path = self._strip_protocol(path)
        detail = bool(kwargs.pop("detail", False))
        try:
            root = self._walk_listing(path).tree()
        except (FileNotFoundError, OSError) as exc:
            if on_error == "raise":
                raise
            if callable(on_error):
                on_error(exc)
            return
        if not root.entry.collection:
            files = {"": self._info(root.entry, root.href)}
            yield path, {} if detail else [], files if detail else [""]
            return
        order: list[tuple[str, Any, Any]] = []
        stack: list[tuple[TreeNode, int]] = [(root, 1)]
        while stack:
            node, depth = stack.pop()
            dirs: dict[str, dict[str, Any]] = {}
            files = {}
            for child in node.children:
                info = self._info(child.entry, child.href)
                (dirs if child.entry.collection else files)[child.name] = info
            step = (path if node is root else self._name(node.href),
                    dirs if detail else list(dirs), files if detail else list(files))  # fmt: skip
            if topdown:
                yield step
            else:
                order.append(step)
            if maxdepth is not None and depth >= maxdepth:
                continue
            kept = set(step[1])  # topdown: what the caller left in the list
            stack.extend(
                (child, depth + 1)
                for child in reversed(node.children)
                if child.kind == "resource" and child.entry.collection and child.name in kept
            )
        yield from reversed(order)

    def cat_file(
        self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any
    ) -> bytes:
        try:
            return self.client.cat(self._strip_protocol(path), start, end)
        except NotFound as exc:
            raise FileNotFoundError(path) from exc

    def get_file(self, rpath: str, lpath: str, callback: Any = None, **kwargs: Any) -> None:
        def progress(done: int, total: int | None) -> None:
            if callback is not None:
                if total is not None:
                    callback.set_size(total)
                callback.absolute_update(done)

        if self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        self.client.get(self._strip_protocol(rpath), lpath, progress=progress)

    # ------------------------------------------------------------------ writing

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        self.client.put(self._strip_protocol(path), value, overwrite=mode != "create")

    def put_file(self, lpath: str, rpath: str, callback: Any = None, **kwargs: Any) -> None:
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return

        def progress(done: int, total: int | None) -> None:
            if callback is not None:
                if total is not None:
                    callback.set_size(total)
                callback.absolute_update(done)

        self.client.put(self._strip_protocol(rpath), lpath, progress=progress)

    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        path = self._strip_protocol(path)
        if create_parents:
            self.client.makedirs(path, exist_ok=False)
        else:
            self.client.mkcol(path)

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        try:
            self.client.makedirs(self._strip_protocol(path), exist_ok=exist_ok)
        except MethodNotAllowed as exc:
            raise FileExistsError(path) from exc

    def rmdir(self, path: str) -> None:
        path = self._strip_protocol(path)
        if self.ls(path, detail=False):
            raise OSError(f"directory not empty: {path}")
        self.client.delete(path)

    def rm_file(self, path: str) -> None:
        try:
            self.client.delete(self._strip_protocol(path))
        except NotFound as exc:
            raise FileNotFoundError(path) from exc

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """DELETE removes one binding, recursively for a collection (RFC 4918 §9.6)."""
        paths = path if isinstance(path, list) else [path]
        for item in paths:
            if not recursive and self.isdir(item) and self.ls(item, detail=False):
                raise IsADirectoryError(item)
            self.rm_file(item)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        self.client.copy(self._strip_protocol(path1), self._strip_protocol(path2))

    def mv(
        self, path1: str, path2: str, recursive: bool = False, maxdepth: Any = None, **kwargs: Any
    ) -> None:
        """MOVE keeps the resource and its id (RFC 5842 §2.5): one request, any size."""
        self.client.move(self._strip_protocol(path1), self._strip_protocol(path2))

    def _open(
        self,
        path: str,
        mode: str = "rb",
        block_size: Any = None,
        autocommit: bool = True,
        cache_options: Any = None,
        **kwargs: Any,
    ) -> DavbindFile:
        return DavbindFile(
            self,
            self._strip_protocol(path),
            mode,
            block_size or "default",
            autocommit,
            cache_options=cache_options,
            **kwargs,
        )


class DavbindFile(AbstractBufferedFile):  # type: ignore[misc]
    """Reads by byte ranges; writes spool locally and PUT once on close."""

    fs: DavbindFileSystem

    def _fetch_range(self, start: int, end: int) -> bytes:
        return self.fs.client.cat(self.path, start, end)

    def _initiate_upload(self) -> None:
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL)  # noqa: SIM115

    def _upload_chunk(self, final: bool = False) -> bool:
        if not hasattr(self, "_spool"):
            self._initiate_upload()
        self._spool.write(self.buffer.getvalue())
        if final:
            self._spool.seek(0)
            try:
                self.fs.client.put(self.path, self._spool)
            finally:
                self._spool.close()
        return True
