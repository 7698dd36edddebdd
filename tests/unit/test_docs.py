"""Every document the code or the README points at is in the project."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [p for d in ("lab", "deployer", "checks", "stacklab", "scenarios") for p in (ROOT / d).rglob("*")
           if p.suffix in (".py", ".j2", ".yaml")] + [ROOT / "README.md", ROOT / "noxfile.py"]
CITED = re.compile(r"\b((?:docs/)?[\w-]+\.md)\b")


def test_every_cited_document_exists() -> None:
    missing = []
    for path in SOURCES:
        for name in set(CITED.findall(path.read_text(encoding="utf-8"))):
            target = ROOT / name if name.startswith("docs/") or name == "README.md" else ROOT / "docs" / name
            if not target.exists():
                missing.append(f"{path.relative_to(ROOT)} cites {name}")
    assert missing == []


def test_readme_reference_tables_are_generated_from_the_registries() -> None:
    """`python -m stacklab.reference` rewrites them: a new check, metric, fault or load target
    shows up in the README without anyone writing a row."""
    from stacklab.reference import BLOCK, render, tables

    text = (ROOT / "README.md").read_text()
    assert {m.group(2) for m in BLOCK.finditer(text)} == set(tables())
    assert render(text) == text, "README reference tables are stale: python -m stacklab.reference"
