"""One owner per table: only the ``feedback`` package writes the interaction log, votes and cached answers."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from core.paths import ROOT

TABLES = ("interactions", "feedback", "cached_answers")
WRITE = re.compile(r"\b(?:INSERT\s+INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)\s+(?:ONLY\s+)?"
                   r"(?:\w+\.)?\"?(" + "|".join(TABLES) + r")\b", re.IGNORECASE)


def _shipped_sources() -> list[Path]:
    """Every .py in the project's packages (the layer contracts' root packages, so a new package is
    scanned too); not the migration revisions, which create these tables."""
    found = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = found["tool"]["importlinter"]["root_packages"]
    return [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))
            if path.relative_to(ROOT).parts[:2] != ("migrations", "versions")]


def test_only_the_feedback_package_writes_the_feedback_tables():
    inside, outside = set(), []
    for path in _shipped_sources():
        relative, source = path.relative_to(ROOT), path.read_text(encoding="utf-8")
        for match in WRITE.finditer(source):
            if relative.parts[0] == "feedback":
                inside.add(match.group(1).lower())
            else:
                outside.append(f"{relative}:{source.count(chr(10), 0, match.start()) + 1}: {match.group(0)}")
    assert inside == set(TABLES)  # the scan sees the writes that belong there, so it can see misplaced ones
    assert outside == [], "only feedback/ writes these tables; call it instead of:\n" + "\n".join(outside)
