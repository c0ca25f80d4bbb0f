"""Every protocol ID cited in src/ and tests/ is defined in docs/protocol-decisions.md.

Comments and tests name protocol decisions and requirements by ID: ``A-20`` (a decision
where the RFCs are silent), ``B-4-P5`` / ``B-2.1.1-1`` / ``B-4-X1`` (RFC 5842 checklist
rows), ``W-ETAG-1`` (RFC 4918 rows), ``D-1`` (decisions of a release) and, in test
names, ``test_E15_...`` (RFC 5842 example E15).  A citation is only useful if the
repository itself says what the ID means, so an ID cited anywhere in the code must be
a heading or the first cell of a table row in that document.  A group citation such as
``B-2.7-*`` or ``W-XML-*`` needs at least one documented ID of that group.
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "protocol-decisions.md"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
SCANNED = ("src", "tests")
THIS = Path(__file__).resolve()

# An ID neither runs on from a word ("SHA-1", "WWW-Authenticate", "A-Za-z") nor into
# more digits or a decimal ("B-2.7-41" is not "B-2.7-4"); a trailing "-word", as in the
# pytest id "B-2.7-4-put-unmapped", still cites the ID before it.
_BEFORE = r"(?<![\w.-])"
_AFTER = r"(?!\w|\.\d)"
CITATION = re.compile(
    _BEFORE + r"(A-\d+|D-\d+|B-\d+(?:\.\d+)*-(?:[PX]?\d+|\*)|W-[A-Z]+-(?:\d+|\*))" + _AFTER
)
# Examples are cited by test names only: a bare "E501" is a ruff rule, not an example.
EXAMPLE_TEST = re.compile(r"\btest_(E\d+)(?!\d)")

DEFINITION = re.compile(
    r"^(?:#{2,4} |\| )(A-\d+|D-\d+|B-\d+(?:\.\d+)*-[PX]?\d+|W-[A-Z]+-\d+|E\d+)(?: — | \|)",
    re.M,
)

# Strings shaped like IDs that are deliberately undefined: the matching-rule tests of the
# checklist use them to show that "B-2.7-41" does not cover "B-2.7-4", nor "B-4-P10-x"
# "B-4-P1".  They may appear in that file only.
NOT_IDS = {
    "B-2.7-41": "tests/server/test_rfc5842_checklist.py",
    "B-4-P10": "tests/server/test_rfc5842_checklist.py",
}


def cited_ids(text: str) -> set[str]:
    """The IDs ``text`` cites, group citations (``B-2.7-*``) included."""
    return set(CITATION.findall(text)) | set(EXAMPLE_TEST.findall(text))


def documented_ids() -> list[str]:
    """The IDs the document defines, in document order, repeats kept."""
    return DEFINITION.findall(DOC.read_text(encoding="utf-8"))


def citations() -> dict[str, set[str]]:
    """ID -> the files (relative to the repository root) that cite it."""
    where: dict[str, set[str]] = defaultdict(set)
    for top in SCANNED:
        for path in sorted((ROOT / top).rglob("*")):
            if not path.is_file() or "__pycache__" in path.parts or path.resolve() == THIS:
                continue
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue  # binary fixtures cite nothing
            for found in cited_ids(text):
                where[found].add(path.relative_to(ROOT).as_posix())
    return where


def is_documented(cited: str, defined: set[str]) -> bool:
    if cited.endswith("*"):
        return any(d.startswith(cited[:-1]) for d in defined)
    return cited in defined


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status codes per spec A-1, A-8, A-9.", {"A-1", "A-8", "A-9"}),
        ("decision A-20 in docs", {"A-20"}),
        ("SHA-1 and SHA-256, [A-Za-z0-9]", set()),
        ("WWW-Authenticate: Basic", set()),
        ("spec B-4-P5 and B-4-X1", {"B-4-P5", "B-4-X1"}),
        ("B-2.1.1-1, B-2.1-1, B-8-2", {"B-2.1.1-1", "B-2.1-1", "B-8-2"}),
        ('pytest.param("put", id="B-2.7-4-put-unmapped")', {"B-2.7-4"}),
        ('("B-2.7-4", "B-2.7-41", False)', {"B-2.7-4", "B-2.7-41"}),
        ('("B-4-P1", "B-4-P10-x", False)', {"B-4-P1", "B-4-P10"}),
        ("spec §3 (W-XML-*, W-H-*), W-ETAG-1", {"W-XML-*", "W-H-*", "W-ETAG-1"}),
        ("B-2.7-*, B-10-*", {"B-2.7-*", "B-10-*"}),
        ("def test_E15_propfind(srv): ... test_E1_x", {"E15", "E1"}),
        ("noqa: E501, E18 is out of scope", set()),
        ("D-1 — displayname", {"D-1"}),
    ],
)
def test_citation_pattern(text: str, expected: set[str]) -> None:
    assert cited_ids(text) == expected


def test_document_defines_each_id_once_and_numbers_without_gaps() -> None:
    ids = documented_ids()
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    assert repeated == [], f"defined more than once in {DOC.name}: {repeated}"
    for prefix in ("A-", "E"):
        numbers = sorted(int(i[len(prefix) :]) for i in ids if re.fullmatch(prefix + r"\d+", i))
        assert numbers == list(range(1, len(numbers) + 1)), f"{prefix}n has gaps: {numbers}"


def test_every_cited_id_is_documented() -> None:
    defined = set(documented_ids())
    missing = {
        cited: files
        for cited, files in citations().items()
        if cited not in NOT_IDS and not is_documented(cited, defined)
    }
    assert missing == {}, f"cited but not defined in {DOC.relative_to(ROOT)}: " + "; ".join(
        f"{i} (in {', '.join(sorted(f))})" for i, f in sorted(missing.items())
    )


def test_deliberate_non_ids_stay_in_their_test_file() -> None:
    where = citations()
    defined = set(documented_ids())
    for non_id, home in NOT_IDS.items():
        assert non_id not in defined, f"{non_id} is documented now: drop it from NOT_IDS"
        assert where.get(non_id) == {home}, (
            f"{non_id} is meant to appear only in {home}, as a counter-example; "
            f"found in {sorted(where.get(non_id, ()))}"
        )


def test_architecture_document_exists() -> None:
    if not ARCHITECTURE.exists():
        pytest.skip(f"{ARCHITECTURE.relative_to(ROOT)} is not written yet (the lead writes it)")
    assert ARCHITECTURE.read_text(encoding="utf-8").strip(), f"{ARCHITECTURE.name} is empty"
