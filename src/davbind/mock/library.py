"""The scenarios shipped with davbind (``scenarios/*.toml``) and finding a scenario by name.

The rule kept here: a scenario is named either by a path to a TOML file or by the name
of a shipped scenario (its file name without ``.toml``); a path that exists wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from davbind.mock.loader import ScenarioError, load_scenario
from davbind.mock.model import Scenario

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"


@dataclass(frozen=True, slots=True)
class Shipped:
    """A shipped scenario: its name, one-line summary and file."""

    name: str
    summary: str
    path: Path


def shipped_names() -> tuple[str, ...]:
    """Names of the shipped scenarios, sorted."""
    return tuple(sorted(p.stem for p in SCENARIO_DIR.glob("*.toml")))


def shipped() -> tuple[Shipped, ...]:
    """Every shipped scenario with the first line of its description."""
    out = []
    for name in shipped_names():
        path = SCENARIO_DIR / f"{name}.toml"
        description = load_scenario(path).description
        out.append(Shipped(name, description.splitlines()[0] if description else "", path))
    return tuple(out)


def scenario_path(spec: str | Path) -> Path:
    """The file ``spec`` names: an existing path, or a shipped scenario's name."""
    path = Path(spec)
    if path.is_file():
        return path
    candidate = SCENARIO_DIR / f"{spec}.toml"
    if isinstance(spec, str) and "/" not in spec and candidate.is_file():
        return candidate
    names = ", ".join(shipped_names())
    raise ScenarioError(f"{spec}: no such file and no shipped scenario of that name ({names})")


def find_scenario(spec: str | Path) -> Scenario:
    """Load the scenario ``spec`` names (see :func:`scenario_path`)."""
    return load_scenario(scenario_path(spec))
