"""Nightly: the upstream identity conformance tests pass on the shared `control` lab
(except the documented version skew), through `stacklab tempest` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks import tempest
from tests.lab.conftest import cli


@pytest.mark.nightly
def test_identity_conformance(control_lab: str, tmp_path: Path) -> None:
    done = cli("tempest", "--lab", control_lab, "--runs-dir", str(tmp_path), timeout=tempest.TIMEOUT_S + 300)
    summaries = list(tmp_path.glob("*/summary.json"))
    assert len(summaries) == 1, done.stderr
    summary = json.loads(summaries[0].read_text())
    assert summary["failed"] == [] and done.returncode == 0, done.stderr
    assert summary["counts"]["success"] >= 120, summary["counts"]  # the identity suite ran, not a handful
    assert (summaries[0].parent / "junit.xml").stat().st_size > 0
