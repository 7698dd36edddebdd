"""The loss matrix's judgement (checks.net.paths.outliers) and the `names:` of an expect
step, without a lab."""

from __future__ import annotations

import itertools

import pytest
from pydantic import ValidationError

from checks.net.paths import outliers
from stacklab.scenario import ExpectSpec

NODES = ["cmp1", "cmp2", "cmp3", "cmp4", "cmp5"]


def matrix(lossy_nodes: set[str], lossy_pairs: set[tuple[str, str]] = frozenset()) -> dict[tuple[str, str], float]:  # type: ignore[assignment]
    return {(a, b): 0.3 if {a, b} & lossy_nodes or tuple(sorted((a, b))) in lossy_pairs else 0.0
            for a, b in itertools.permutations(NODES, 2)}


@pytest.mark.parametrize(("nodes", "pairs", "blamed", "left"), [
    (set(), set(), [], []),
    ({"cmp5"}, set(), ["cmp5"], []),
    ({"cmp2", "cmp4"}, set(), ["cmp2", "cmp4"], []),
    (set(), {("cmp1", "cmp3")}, [], [("cmp1", "cmp3")]),  # one bad cable: neither end is the outlier
    ({"cmp5"}, {("cmp1", "cmp3")}, ["cmp5"], [("cmp1", "cmp3")]),
])
def test_outliers(nodes: set[str], pairs: set[tuple[str, str]], blamed: list[str], left: list[tuple[str, str]]) -> None:
    assert outliers(matrix(nodes, pairs)) == (blamed, left)


def test_one_direction_lossy_is_still_the_node() -> None:
    m = matrix(set())
    m.update({(a, "cmp3"): 0.2 for a in NODES if a != "cmp3"})  # only what cmp3 receives is lost
    assert outliers(m) == (["cmp3"], [])


def test_names_goes_with_a_failing_check_only() -> None:
    assert ExpectSpec.model_validate({"check": "overlay_loss", "outcome": "fail", "names": "@fault:x"}).names
    with pytest.raises(ValidationError, match="'names' goes with a check expected to fail"):
        ExpectSpec.model_validate({"check": "overlay_loss", "outcome": "pass", "names": "cmp1"})
