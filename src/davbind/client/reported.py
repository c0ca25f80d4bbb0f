"""What one response says about its resource, and which resource a 208 names.

RFC 5842 §7.1: ``208 Already Reported`` means the resource at that href was already
reported in this multistatus — through another binding.  So a 208 never names a new
resource: it is one more href of a resource reported elsewhere in the same answer.
:func:`resolve` finds that resource, in this order:

1. by ``DAV:resource-id`` (RFC 5842 §3.1), when the 208 carries it (the propstat form
   of RFC 5842 §7.1.1 does);
2. by href: a 208 for an href reported with another status (the same URL, whatever its
   encoding, trailing slash, or relative or absolute form);
3. by what it says of the resource: the same ``DAV:getetag``, else the same values of
   every property it carries (at least one besides ``DAV:resourcetype``) — when exactly
   one reported resource fits.

A 208 that none of these ties to a resource stays an unresolved alias (``Listing.
unresolved``), never an entry of its own: a bare 208 (``<D:response><D:href/>
<D:status>``, no properties) usually ends here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from davbind.client.hrefs import href_key
from davbind.client.multistatus import PropValue, Response

DAV = "{DAV:}"
RESOURCE_ID = DAV + "resource-id"
RESOURCETYPE = DAV + "resourcetype"
GETETAG = DAV + "getetag"
ALREADY_REPORTED = 208


def resource_id(value: PropValue | None) -> str | None:
    """The ``DAV:resource-id`` URI; ``urn:uuid:`` ones compared case-insensitively."""
    if value is None:
        return None
    rid = value.hrefs[0] if value.hrefs else value.text.strip()
    if not rid:
        return None
    return rid.lower() if rid.lower().startswith("urn:uuid:") else rid


@dataclass(frozen=True, slots=True)
class Facts:
    """What one response says about its resource, before any grouping."""

    status: int | None  # response status, else 208 / 200 from the propstats
    resource_id: str | None
    collection: bool | None  # None: no DAV:resourcetype reported
    props: Mapping[str, PropValue]


def response_facts(response: Response) -> Facts:
    """Status, resource-id, kind and properties (from 2xx propstats) of ``response``."""
    props: dict[str, PropValue] = {}
    for ps in response.propstats:
        if ps.status is not None and 200 <= ps.status < 300:
            for name, value in ps.props.items():
                props.setdefault(name, value)
    if response.status is not None:
        status: int | None = response.status
    elif not response.propstats:
        status = None
    elif any(ps.status == ALREADY_REPORTED for ps in response.propstats):
        status = ALREADY_REPORTED
    else:
        status = 200  # a propstat answer means the resource exists (RFC 4918 §9.1)
    rtype = props.get(RESOURCETYPE)
    collection = None if rtype is None else DAV + "collection" in rtype.children
    return Facts(status, resource_id(props.get(RESOURCE_ID)), collection, props)


@dataclass(frozen=True, slots=True)
class Reported:
    """One href answered 208, waiting to be tied to the resource it names."""

    seq: int  # document order
    href: str  # normalised, as written (no trailing slash added)
    facts: Facts


class Known(Protocol):
    """A resource reported in the answer: its resource-id and properties."""

    @property
    def rid(self) -> str | None: ...

    @property
    def props(self) -> dict[str, PropValue]: ...


K = TypeVar("K", bound=Known)


def _same(a: PropValue, b: PropValue) -> bool:
    return (a.text.strip(), a.children, a.hrefs) == (b.text.strip(), b.children, b.hrefs)


def _only(found: Iterable[K]) -> K | None:
    matches = list(found)
    return matches[0] if len(matches) == 1 else None


def resolve(item: Reported, by_rid: Mapping[str, K], by_href: Mapping[str, K]) -> K | None:
    """The reported resource ``item`` is another href of, or None (see module doc)."""
    facts = item.facts
    rid = facts.resource_id
    if rid is not None and rid in by_rid:
        return by_rid[rid]

    def fits(known: K) -> bool:  # two different resource-ids are two resources
        return rid is None or known.rid is None or known.rid == rid

    known = by_href.get(href_key(item.href))
    if known is not None and fits(known):
        return known
    candidates = [k for k in {id(k): k for k in by_href.values()}.values() if fits(k)]
    etag = facts.props.get(GETETAG)
    if etag is not None and etag.text.strip():
        return _only(k for k in candidates if GETETAG in k.props and _same(k.props[GETETAG], etag))
    said = {n: v for n, v in facts.props.items() if n != RESOURCE_ID}
    if not set(said) - {RESOURCETYPE}:
        return None
    return _only(
        k for k in candidates if all(n in k.props and _same(k.props[n], v) for n, v in said.items())
    )
