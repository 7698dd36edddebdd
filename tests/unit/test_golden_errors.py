"""Golden error tests: each tests/unit/data/invalid/X.yaml must fail with exactly X.err.

To update after a deliberate message change: run `stacklab validate` on the file and
review the diff of the .err file like any other code change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stacklab.cli import main

ROOT = Path(__file__).resolve().parents[2]
INVALID = sorted((ROOT / "tests/unit/data/invalid").glob("*.yaml"))


def test_enough_golden_cases() -> None:
    assert len(INVALID) >= 25


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_file_reports_exactly_its_golden_errors(
    case: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    rel = case.relative_to(ROOT)
    code = main(["validate", str(rel)])
    out, err = capsys.readouterr()
    assert code == 2
    assert "Traceback" not in out + err
    assert err == case.with_suffix(".err").read_text()
    assert out == ""
