"""Load steps on the session's deployed `control` lab (nightly tier: CI runs the background
Keystone load inside controller-failover and haproxy-backend-down instead).

A gate set beyond what the lab can do must fail the run with its measured figure; the
Galera load must pass modest gates and leave no table behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from checks.ha_galera import mysql
from checks.infra.base import open_lab
from tests.e2e.test_scenarios import run

pytestmark = pytest.mark.nightly


def load_scenario(dest: Path, load: str) -> Path:
    path = dest / "load.yaml"
    path.write_text(f"name: load-gates\nlab: control\nsteps:\n  - check: healthy\n  - load: {load}\n")
    return path


def load_step(result: dict) -> dict:
    return next(s for s in result["steps"] if s["label"].startswith("load "))


def test_a_gate_beyond_the_lab_fails_with_its_measured_figure(control_lab: str, tmp_path: Path) -> None:
    scenario = load_scenario(tmp_path, "{target: keystone, users: 2, run_time: 15s, "
                                       "sla: {min_rps: 10000, max_failure_rate: 0.5}}")
    code, result = run(scenario, tmp_path / "runs", control_lab)
    step = load_step(result)
    assert (code, result["verdict"], step["status"]) == (1, "failed", "failed"), step
    gates = {g["name"]: g for g in step["figures"]["keystone"]["gates"]}
    assert not gates["min_rps"]["ok"] and 0 < gates["min_rps"]["measured"] < 10000
    assert gates["max_failure_rate"]["ok"]
    assert f"min_rps: measured {gates['min_rps']['measured']:.3g} (min 10000) FAIL" in step["detail"]
    copied = Path(step["figures"]["keystone"]["results"])
    assert {"events.jsonl", "locust_stats.csv", "locust_stats_history.csv"} <= {p.name for p in copied.iterdir()}


def test_galera_load_passes_modest_gates_and_drops_its_table(control_lab: str, tmp_path: Path) -> None:
    scenario = load_scenario(tmp_path, "{target: galera, users: 4, run_time: 15s, "
                                       "sla: {max_failure_rate: 0.01, min_rps: 5, max_p95_s: 2}}")
    code, result = run(scenario, tmp_path / "runs", control_lab)
    step = load_step(result)
    assert (code, step["status"]) == (0, "passed"), step
    assert set(step["figures"]["galera"]["by_type"]) == {"sql select", "sql insert", "sql update", "sql transaction"}
    ctl = open_lab(control_lab).inv.names("controller")[0]
    assert "load_" not in mysql(control_lab, ctl, "SHOW TABLES FROM stacklab")
