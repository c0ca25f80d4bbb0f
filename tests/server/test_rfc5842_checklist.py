"""Every row of the RFC 5842 checklist (docs/protocol-decisions.md §4) and every
example (§5 there) has a test.

A row counts as covered when a test function name or a ``pytest.param(id=...)`` in the
RFC 5842 test modules contains its ID, with "-" and "." written as "_" in function names
(``B-2.1.1-1`` -> ``test_B_2_1_1_1_...``) and verbatim in param ids.  An ID must not run
on into more digits (``B_2_1_1`` does not cover ``B-2.1.1-1`` and vice versa).

The list below is the checklist of docs/protocol-decisions.md §4, and is checked
against that document.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

HERE = Path(__file__).parent
MODULES = [*sorted(HERE.glob("test_rfc5842_*.py")), HERE.parent / "e2e" / "test_bindings_e2e.py"]

B_IDS = (
    "B-2-1",
    "B-2-2",
    "B-2-3",
    "B-2-4",
    "B-2-5",
    "B-2.1-1",
    "B-2.1.1-1",
    "B-2.1.1-2",
    "B-2.2-1",
    "B-2.3-1",
    "B-2.3-2",
    "B-2.3-3",
    "B-2.3-4",
    "B-2.3-5",
    "B-2.3-6",
    "B-2.3-7",
    "B-2.4-1",
    "B-2.4-2",
    "B-2.4-3",
    "B-2.5-1",
    "B-2.5-2",
    "B-2.5-3",
    "B-2.5-4",
    "B-2.6-1",
    "B-2.7-1",
    "B-2.7-2",
    "B-2.7-3",
    "B-2.7-4",
    "B-2.7-5",
    "B-2.8-1",
    "B-3-1",
    "B-3.1-1",
    "B-3.1-2",
    "B-3.2-1",
    "B-3.2-2",
    "B-3.2-3",
    "B-4-1",
    "B-4-2",
    "B-4-3",
    "B-4-4",
    "B-4-5",
    "B-4-6",
    "B-4-7",
    "B-4-8",
    "B-4-P1",
    "B-4-P2",
    "B-4-P3",
    "B-4-P4",
    "B-4-P5",
    "B-4-P6",
    "B-4-P7",
    "B-4-P8",
    "B-4-P9",
    "B-5-1",
    "B-5-2",
    "B-5-3",
    "B-5-4",
    "B-5-P1",
    "B-5-P2",
    "B-5-P3",
    "B-5-P4",
    "B-6-1",
    "B-6-2",
    "B-6-3",
    "B-6-4",
    "B-6-5",
    "B-6-6",
    "B-6-7",
    "B-6-P1",
    "B-6-P2",
    "B-6-P3",
    "B-6-P4",
    "B-6-P5",
    "B-6-P6",
    "B-6-P7",
    "B-6-P8",
    "B-6-P9",
    "B-6-P10",
    "B-7.1-1",
    "B-7.1-2",
    "B-7.1-3",
    "B-7.1-4",
    "B-7.1-5",
    "B-7.1-6",
    "B-7.1-7",
    "B-7.1-8",
    "B-7.2-1",
    "B-7.2-2",
    "B-8.1-1",
    "B-8.1-2",
    "B-8.2-1",
    "B-8-2",
    "B-9-1",
    "B-9-2",
    "B-9-3",
    "B-9-4",
    "B-9-5",
    "B-9-6",
    "B-9-7",
    "B-9-8",
    "B-10-1",
    "B-10-2",
    "B-10-3",
    "B-11-1",
    "B-4-X1",
    "B-12-1",
    "B-12-2",
    "B-12-3",
    "B-12-4",
    "B-12-5",
    "B-13-1",
    "B-14-1",
)
E_IDS = [f"E{n}" for n in range(1, 18)]


def _labels() -> tuple[list[str], list[str]]:
    """(test function names, pytest.param ids) of every RFC 5842 test module."""
    names: list[str] = []
    ids: list[str] = []
    for path in MODULES:
        if not path.exists():
            continue
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                names.append(node.name)
            if isinstance(node, ast.Call):
                func = node.func
                is_param = isinstance(func, ast.Attribute) and func.attr == "param"
                for kw in node.keywords if is_param else ():
                    if kw.arg == "id" and isinstance(kw.value, ast.Constant):
                        ids.append(str(kw.value.value))
                    if kw.arg == "id" and isinstance(kw.value, ast.JoinedStr):
                        ids.extend(
                            str(v.value) for v in kw.value.values if isinstance(v, ast.Constant)
                        )
    return names, ids


def covered(req: str, names: list[str], ids: list[str]) -> bool:
    underscored = req.replace("-", "_").replace(".", "_")
    in_name = re.compile(rf"(?:^|_){re.escape(underscored)}(?!_?\d)")
    in_id = re.compile(rf"(?:^|[^\w.]){re.escape(req)}(?![\d.]|-\d)")
    return any(in_name.search(n) for n in names) or any(in_id.search(i) for i in ids)


def test_every_checklist_row_has_a_test():
    names, ids = _labels()
    missing = [req for req in B_IDS if not covered(req, names, ids)]
    assert missing == []


def test_every_example_has_a_test():
    names, ids = _labels()
    missing = [e for e in E_IDS if not covered(e, names, ids)]
    assert missing == []


@pytest.mark.parametrize(
    ("req", "label", "expected"),
    [
        ("B-2.1-1", "test_B_2_1_1_1_loops", False),
        ("B-2.1.1-1", "test_B_2_1_1_1_loops", True),
        ("B-2.1-1", "test_B_2_1_1_no_new_bindings", True),
        ("B-6-P1", "test_B_6_P10_x", False),
        ("B-6-P10", "test_B_6_P10_x", True),
        ("B-2-1", "test_B_12_1_x", False),
        ("E1", "test_E17_x", False),
        ("E1", "test_E1_x", True),
    ],
)
def test_matching_rule(req, label, expected):
    assert covered(req, [label], []) is expected


@pytest.mark.parametrize(
    ("req", "param_id", "expected"),
    [
        ("B-2.7-4", "B-2.7-4-put", True),
        ("B-2.7-4", "B-2.7-41", False),
        ("B-4-P1", "B-4-P10-x", False),
        ("B-7.1-4", "B-7.1-4-no-header", True),
    ],
)
def test_matching_rule_for_param_ids(req, param_id, expected):
    assert covered(req, [], [param_id]) is expected


def test_list_matches_the_protocol_decisions_document():
    doc = Path(__file__).resolve().parents[2] / "docs" / "protocol-decisions.md"
    text = doc.read_text()
    section = text.split("## 4.", 1)[1].split("## 5.", 1)[0]
    in_doc = re.findall(r"^\| (B-[0-9.]+-[A-Z0-9]+) \|", section, flags=re.M)
    assert sorted(in_doc) == sorted(B_IDS)
    examples = text.split("## 5.", 1)[1].split("## 6.", 1)[0]
    listed = re.findall(r"^\| (E\d+) \|", examples, flags=re.M)
    assert [e for e in listed if e != "E18"] == E_IDS
