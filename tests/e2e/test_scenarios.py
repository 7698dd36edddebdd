"""Whole scenarios on the session's deployed `control` lab (`stacklab run --reuse`), and
mutation checks: with the fault step removed, exactly the expectations that detect the
fault must fail, and every other expectation must still hold on the healthy lab.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from checks.load.gates import GATES
from tests.lab.conftest import cli, require_lxc
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
ON_CONTROL = ["controller-failover", "haproxy-backend-down", "rabbit-partition", "controller-freeze"]
# scenario -> labels of the expectations that only a real fault can fail
DETECTORS = {
    "controller-failover": {"expect vip_failover_s min 0.5 max 5"},
    "haproxy-backend-down": {"expect haproxy_detect_s max 4", "expect check haproxy_backends_up fail"},
}


def run(scenario: Path, runs: Path, lab: str | None = None) -> tuple[int, dict]:
    """``stacklab run``: on ``lab`` (reused; it must be up with the scenario's topology) or a new lab."""
    reuse = ["--reuse", "--lab", lab] if lab else []
    proc = cli("run", str(scenario), "--runs-dir", str(runs), *reuse, timeout=1200)
    results = sorted(runs.glob("*/result.json"))
    assert results, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(results[-1].read_text())


@pytest.mark.parametrize("name", ON_CONTROL)
def test_scenario_passes_its_expectations(control_lab: str, name: str, tmp_path: Path) -> None:
    code, result = run(ROOT / "scenarios" / f"{name}.yaml", tmp_path, control_lab)
    failed = [(s["label"], s["detail"]) for s in result["steps"] if s["status"] != "passed"]
    assert (code, failed) == (0, []), failed
    assert result["lab"] == control_lab and result["verdict"] == "passed"
    assert any(s["label"].startswith("fault ") for s in result["steps"])


def without_fault(name: str, dest: Path) -> Path:
    """The scenario with its fault step(s) (and the heals naming them) removed."""
    data = yaml.safe_load((ROOT / "scenarios" / f"{name}.yaml").read_text())
    data["steps"] = [s for s in data["steps"] if "fault" not in s and not isinstance(s.get("heal"), list)]
    for step in data["steps"]:  # a load's fault-relative gates (MTTR, degradation) need the fault
        if "load" in step:
            step["load"]["sla"] = {g: b for g, b in step["load"].get("sla", {}).items() if not GATES[g].needs_fault}
    data["name"] = f"{name}-nofault"
    path = dest / f"{name}-nofault.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def refused_metrics(mutant: Path) -> set[str]:
    """The metrics `stacklab validate` refuses in ``mutant`` because they are measured from a
    fault and no fault comes before them; those expect steps are taken out of the file."""
    refused = cli("validate", str(mutant))
    metrics = set(re.findall(r"metric '(\w+)' is measured from a fault", refused.stderr))
    assert refused.returncode == (2 if metrics else 0), refused.stderr
    data = yaml.safe_load(mutant.read_text())
    data["steps"] = [s for s in data["steps"] if s.get("expect", {}).get("metric") not in metrics]
    mutant.write_text(yaml.safe_dump(data, sort_keys=False))
    return metrics


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_without_the_fault_only_the_detectors_fail(control_lab: str, name: str, tmp_path: Path) -> None:
    """A detector fails either before the run (validation: a metric measured from a fault,
    with no fault) or in it; every other expectation still holds on the healthy lab."""
    mutant = without_fault(name, tmp_path)
    refused = {d for d in DETECTORS[name] for m in refused_metrics(mutant) if d.startswith(f"expect {m} ")}
    code, result = run(mutant, tmp_path / "runs", control_lab)
    failed = {s["label"] for s in result["steps"] if s["status"] != "passed"}
    assert code == (1 if failed else 0)
    assert failed | refused == DETECTORS[name] and not failed & refused, \
        (refused, [(s["label"], s["status"], s["detail"]) for s in result["steps"]])


@pytest.mark.parametrize("name", ["galera-two-node", "galera-two-node-garbd"])
def test_scenario_on_its_own_lab(name: str, tmp_path: Path) -> None:
    """Scenarios whose lab is not `control` build theirs, run, and take it down again."""
    require_lxc()
    code, result = run(ROOT / "scenarios" / f"{name}.yaml", tmp_path)
    failed = [(s["label"], s["detail"]) for s in result["steps"] if s["status"] != "passed"]
    assert (code, failed) == (0, []), failed
    assert result["lab_created"] and leftovers(result["lab"]) == []
