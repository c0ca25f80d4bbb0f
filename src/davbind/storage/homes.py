"""Home collections: each user's ``/home/<name>/``, and the same collection bound a
second time at ``/remote.php/dav/files/<name>/`` (the path Nextcloud clients and
rclone's ``vendor = nextcloud`` look for).

The second path is a binding (RFC 5842 §2), not a URL rewrite: both paths name one
resource, so listings under either answer with hrefs under the path asked, and COPY or
MOVE with a Destination under either work unchanged.  The intermediate collections are
made as needed.
"""

from __future__ import annotations

from davbind.storage.interface import Txn
from davbind.storage.model import Conflict, NotACollection, NotFound, Resource

HOME_PARENT = ("home",)
ALIAS_PARENT = ("remote.php", "dav", "files")


def _collection_at(txn: Txn, segments: tuple[str, ...]) -> Resource:
    """The collection at ``segments``, made with its missing ancestors."""
    current = txn.root
    for i, segment in enumerate(segments):
        found = txn.lookup(current.key, segment)
        if found is None:
            found = txn.create(current.key, segment, collection=True)
        elif not found.is_collection:
            path = "/" + "/".join(segments[: i + 1])
            raise Conflict(f"{path} exists and is not a collection")
        current = found
    return current


def make_home(txn: Txn, name: str) -> Resource:
    """Bind ``/home/<name>/`` (kept if it exists: a user re-added finds their files),
    owned by ``name`` (``storage.grants``), and its alias; ``Conflict`` when either path
    is taken by something else."""
    home = _collection_at(txn, (*HOME_PARENT, name))
    if home.owner is None:  # a new home, or one made before owners existed
        txn.set_owner(home.key, name)
    alias_parent = _collection_at(txn, ALIAS_PARENT)
    bound = txn.lookup(alias_parent.key, name)
    if bound is None:
        txn.bind(alias_parent.key, name, home.key)
    elif bound.key != home.key:
        raise Conflict(f"/{'/'.join(ALIAS_PARENT)}/{name} exists and is not {name}'s home")
    return home


def remove_home(txn: Txn, name: str, *, purge: bool) -> None:
    """Unbind the alias; with ``purge`` the home too (what nothing else binds is
    reclaimed, RFC 5842 §5).  Missing paths are no error."""
    paths = [ALIAS_PARENT] + ([HOME_PARENT] if purge else [])
    for parent_segments in paths:
        try:
            parent = txn.resolve(parent_segments)
        except (NotFound, NotACollection):
            continue
        if txn.lookup(parent.key, name) is not None:
            txn.unbind(parent.key, name)
