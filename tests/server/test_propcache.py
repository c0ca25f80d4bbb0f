"""``propcache`` text layout: fragments in ALLPROP are stored once (offsets in the index);
texts written in the older layout (XML values in the index) still read the same."""

from __future__ import annotations

from typing import Any

from davbind.server import propcache
from davbind.server.liveprops import REGISTRY, PropContext
from davbind.storage.interface import Txn
from davbind.storage.model import Resource

PROPPATCH = (
    b'<D:propertyupdate xmlns:D="DAV:" xmlns:Z="urn:z"><D:set><D:prop>'
    b"<Z:colour>r&amp;d</Z:colour><Z:empty/><Z:uni>\xc3\xa9t\xc3\xa9</Z:uni></D:prop>"
    b"</D:set></D:propertyupdate>"
)


def old_layout(txn: Txn, resource: Resource) -> str:
    """The layout before offsets: every fragment's XML in the index."""
    ctx = PropContext(txn, resource, ())
    allprop, index = [], []
    for name, prop in REGISTRY.items():
        if not prop.cacheable:
            continue
        value = prop.render(ctx)
        if value is None:
            continue
        index.append(f"\x1f{name}\x1e{value}")
        if prop.allprop:
            allprop.append(value)
    for dead in txn.dead_props(resource.key):
        if dead.name not in REGISTRY:
            index.append(f"\x1f{dead.name}\x1e{dead.xml}")
            allprop.append(dead.xml)
    return "".join(allprop) + "\x1d" + "".join(index)


def test_offsets_read_like_the_old_layout_and_store_each_fragment_once(dav: Any) -> None:
    dav.mkcol("/c/")
    dav.put("/c/%C3%A9.txt", b"content")
    for url in ("/c/", "/c/%C3%A9.txt"):
        assert dav.request("PROPPATCH", url, content=PROPPATCH).status_code == 207
    store = dav.app.services.store
    with store.read() as txn:
        coll = txn.lookup(txn.root.key, "c")
        assert coll is not None
        for resource in (coll, txn.lookup(coll.key, "é.txt")):
            assert resource is not None
            new, old = propcache.build(txn, resource), old_layout(txn, resource)
            assert propcache.allprop_part(new) == propcache.allprop_part(old)
            assert propcache.table(new) == propcache.table(old)
            for name in propcache.table(old):
                assert propcache.lookup(new, name) == propcache.lookup(old, name)
            assert propcache.lookup(new, "{urn:z}absent") is None
            assert "r&amp;d" in propcache.table(new)["{urn:z}colour"]
            assert new.count("r&amp;d") == 1 and old.count("r&amp;d") == 2
            assert len(new) < len(old)
