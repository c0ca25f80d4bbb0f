"""The WebDAV ``If`` request header: parse it, list its tokens, evaluate it.

RFC 4918 §10.4.2 grammar::

    If = ( 1*No-tag-list ) / ( 1*Tagged-list )
    No-tag-list = List
    Tagged-list = Resource-Tag 1*List
    List = "(" 1*Condition ")"
    Condition = ["Not"] (State-token / "[" entity-tag "]")
    State-token = Coded-URL            ; "<" absolute-URI ">"
    Resource-Tag = "<" Simple-ref ">"

Whitespace (folded lines included) may separate tokens; stray commas between lists
are ignored (clients sending several If lines get them joined).  Anything else that
does not fit is a 400: a malformed If header must never silently evaluate to true.

Evaluation (§10.4.3, §10.4.4): lists are ORed, conditions in a list are ANDed; an
untagged list applies to the Request-URI, a tagged list to its tag.  A lock token
matches a resource in the lock's scope; entity tags use the weak comparison; an
unmapped URL has no state (so ``Not`` of any condition on it is true, §10.4.11) and
``DAV:no-lock`` matches nothing (§10.4.8).  Every token that appears counts as
submitted, whatever the evaluation (§10.4.1): see :meth:`IfHeader.tokens`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from davbind.protocol.errors import DAVError
from davbind.protocol.headers import parse_simple_ref

NO_LOCK = "DAV:no-lock"

_WHITESPACE = " \t\r\n"
_BAD_TOKEN = re.compile(r"[\s<>\x00-\x1f\x7f]")
_BAD_ETAG_CHAR = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class Condition:
    """One Condition: a state token *or* an entity tag, possibly negated."""

    negated: bool
    token: str | None  # state token without <>, e.g. "urn:uuid:..." or "DAV:no-lock"
    etag: str | None  # entity-tag as written inside [], e.g. '"abc"' or 'W/"abc"'


@dataclass(frozen=True, slots=True)
class IfList:
    """One List; ``resource`` is the tag's raw absolute path, None when untagged."""

    resource: str | None
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class IfHeader:
    """A parsed If header: its lists, in order."""

    lists: tuple[IfList, ...]

    def tokens(self) -> frozenset[str]:
        """Every state token that appears, negated or not, except ``DAV:no-lock``."""
        return frozenset(
            condition.token
            for if_list in self.lists
            for condition in if_list.conditions
            if condition.token is not None and not _is_no_lock(condition.token)
        )


@dataclass(frozen=True, slots=True)
class ResourceState:
    """What an If condition can test on one URL: its etag and the locks covering it."""

    etag: str | None  # current strong etag with quotes, e.g. '"r1-3"'
    lock_tokens: frozenset[str]  # tokens of every lock whose scope covers this resource


def parse_if(value: str) -> IfHeader:
    """Parse an If header value (several lines joined with a space); 400 if malformed."""
    return _Parser(value).parse()


def evaluate_if(
    header: IfHeader, request_path: str, state_of: Callable[[str], ResourceState | None]
) -> bool:
    """True iff at least one list is true (§10.4.3); ``state_of`` None means unmapped."""
    cache: dict[str, ResourceState | None] = {}

    def state(path: str) -> ResourceState | None:
        if path not in cache:
            cache[path] = state_of(path)
        return cache[path]

    for if_list in header.lists:
        path = request_path if if_list.resource is None else if_list.resource
        if all(_holds(condition, path, state) for condition in if_list.conditions):
            return True
    return False


def _holds(condition: Condition, path: str, state: Callable[[str], ResourceState | None]) -> bool:
    if condition.token is not None:
        # DAV:no-lock is never a lock token, so no state lookup is needed (§10.4.8).
        matched = not _is_no_lock(condition.token) and _has_token(state(path), condition.token)
    else:
        matched = _etag_matches(state(path), condition.etag)
    return matched != condition.negated


def _has_token(current: ResourceState | None, token: str) -> bool:
    return current is not None and token in current.lock_tokens


def _etag_matches(current: ResourceState | None, etag: str | None) -> bool:
    if current is None or current.etag is None or etag is None:
        return False
    return _opaque(current.etag) == _opaque(etag)


def _opaque(etag: str) -> str:
    """The opaque-tag, for the weak comparison of RFC 9110 §8.8.3.2."""
    return etag[2:] if etag.startswith("W/") else etag


def _is_no_lock(token: str) -> bool:
    return token.lower() == NO_LOCK.lower()


class _Parser:
    """A one-pass recursive-descent parser; ``pos`` always indexes ``text``."""

    __slots__ = ("pos", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def parse(self) -> IfHeader:
        lists: list[IfList] = []
        tagged: bool | None = None
        resource: str | None = None
        self._skip(_WHITESPACE + ",")
        while self.pos < len(self.text):
            char = self.text[self.pos]
            if char == "<":
                if tagged is False:
                    raise self._error("a Resource-Tag after untagged lists (they can't be mixed)")
                tagged = True
                resource = self._resource_tag()
            elif char == "(":
                if tagged is None:
                    tagged = False
                lists.append(IfList(resource, self._list()))
            else:
                raise self._error(f"unexpected {char!r}; expected '(' or '<'")
            self._skip(_WHITESPACE + ",")
        if not lists:
            raise DAVError(400, "If header is empty")
        return IfHeader(tuple(lists))

    def _resource_tag(self) -> str:
        """``<Simple-ref>`` reduced to its raw path; it must be followed by a list."""
        start = self.pos
        path = parse_simple_ref(self._angle("Resource-Tag"), name="If Resource-Tag").path
        self._skip(_WHITESPACE)
        if not self.text.startswith("(", self.pos):
            raise self._error(f"the Resource-Tag at position {start} has no list", at=start)
        return path

    def _list(self) -> tuple[Condition, ...]:
        start = self.pos
        self.pos += 1  # "("
        conditions: list[Condition] = []
        while True:
            self._skip(_WHITESPACE)
            if self.pos >= len(self.text):
                raise self._error(f"the list opened at position {start} is not closed", at=start)
            if self.text[self.pos] == ")":
                self.pos += 1
                if not conditions:
                    raise self._error("an empty list '()'", at=start)
                return tuple(conditions)
            conditions.append(self._condition())

    def _condition(self) -> Condition:
        negated = self.text[self.pos : self.pos + 3].lower() == "not"
        if negated:
            self.pos += 3
            self._skip(_WHITESPACE)
        char = self.text[self.pos : self.pos + 1]
        if char == "<":
            token = self._angle("state token")
            if _BAD_TOKEN.search(token):
                raise self._error(f"state token <{token}> is not a URI")
            return Condition(negated, token, None)
        if char == "[":
            return Condition(negated, None, self._etag())
        expected = "a state token or [entity-tag] after 'Not'" if negated else "a condition"
        found = repr(char) if char else "end of header"
        raise self._error(f"expected {expected}, found {found}")

    def _angle(self, what: str) -> str:
        """The text between '<' at ``pos`` and the next '>'."""
        start = self.pos
        end = self.text.find(">", start + 1)
        if end < 0:
            raise self._error(f"the {what} opened at position {start} has no '>'", at=start)
        self.pos = end + 1
        content = self.text[start + 1 : end]
        if not content:
            raise self._error(f"an empty {what} '<>'", at=start)
        return content

    def _etag(self) -> str:
        """``[ entity-tag ]`` with optional inner whitespace; returns the entity-tag."""
        start = self.pos
        self.pos += 1
        self._skip(_WHITESPACE)
        weak = self.text.startswith("W/", self.pos)
        open_quote = self.pos + 2 if weak else self.pos
        close_quote = self.text.find('"', open_quote + 1)
        if not self.text.startswith('"', open_quote) or close_quote < 0:
            raise self._error('an entity-tag must be a quoted string like ["x"] or [W/"x"]')
        etag = self.text[self.pos : close_quote + 1]
        if _BAD_ETAG_CHAR.search(self.text, open_quote + 1, close_quote):
            raise self._error("control characters in an entity-tag", at=start)
        self.pos = close_quote + 1
        self._skip(_WHITESPACE)
        if not self.text.startswith("]", self.pos):
            raise self._error(f"the entity-tag opened at position {start} has no ']'", at=start)
        self.pos += 1
        return etag

    def _skip(self, chars: str) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in chars:
            self.pos += 1

    def _error(self, problem: str, *, at: int | None = None) -> DAVError:
        position = self.pos if at is None else at
        return DAVError(400, f"Malformed If header at position {position}: {problem}")
