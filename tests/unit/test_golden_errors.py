"""Golden error tests: each tests/unit/data/invalid/X.yaml must fail with exactly X.err.

Every file is validated by ``stacklab validate`` in a child process under a hard
resource guard (tests.unit.guarded: address-space limit, CPU budget per file, wall
timeout), so a regression in the YAML bounds fails here instead of eating the machine.
The oversized files of tests.unit.hostile are generated at test time.

To update after a deliberate message change: run `stacklab validate` on the file and
review the diff of the .err file like any other code change.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.guarded import Outcome, validate_guarded
from tests.unit.hostile import GENERATED

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests/unit/data/invalid"
INVALID = sorted(DATA.glob("*.yaml"))
GOLDEN_GENERATED = DATA / "generated"


def test_enough_golden_cases() -> None:
    assert len(INVALID) >= 70
    assert sorted(p.stem for p in GOLDEN_GENERATED.glob("*.err")) == sorted(GENERATED)


@pytest.fixture(scope="module")
def committed() -> dict[str, Outcome]:
    return validate_guarded([str(p.relative_to(ROOT)) for p in INVALID], ROOT)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    where = tmp_path_factory.mktemp("hostile")
    (where / "generated").mkdir()
    for name, make in GENERATED.items():
        make(where / "generated" / f"{name}.yaml")
    return validate_guarded([f"generated/{name}.yaml" for name in GENERATED], where)


def assert_golden(outcome: Outcome, golden: Path) -> None:
    assert outcome.code == 2, outcome.stderr
    assert "Traceback" not in outcome.stdout + outcome.stderr
    assert outcome.stderr == golden.read_text()
    assert outcome.stdout == ""


@pytest.mark.parametrize("case", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_file_reports_exactly_its_golden_errors(case: Path, committed: dict[str, Outcome]) -> None:
    assert_golden(committed[str(case.relative_to(ROOT))], case.with_suffix(".err"))


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_oversized_file_is_refused_with_its_golden_error(name: str, generated: dict[str, Outcome]) -> None:
    assert_golden(generated[f"generated/{name}.yaml"], GOLDEN_GENERATED / f"{name}.err")


def test_the_guard_stops_a_runaway_expansion() -> None:
    """Without stacklab's bounds the billion-laughs file blows up: the guard must catch it."""
    case = "tests/unit/data/invalid/yaml-billion-laughs.yaml"
    outcome = validate_guarded([case], ROOT, naive=True)[case]
    assert outcome.code == -2 and "guard fired" in outcome.stderr, outcome
