"""The scenario runner's session and probe set, without a lab: the parts that decide,
record and judge (step dispatch, results, expectations, which probes run, how a metric
is judged once). Everything here is the real code; steps that need nodes are not run."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from checks.metrics import ProbeContext
from deployer.model import Cloud
from stacklab.runner.probes import ProbeSet, wanted
from stacklab.runner.session import Options, ScenarioRun
from stacklab.runner.steps import ExpectationFailed, plan
from stacklab.scenario import Scenario
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]


def session(steps: list[dict[str, object]], tmp_path: Path, seed: int | None = 7) -> ScenarioRun:
    control = validate_file(ROOT / "scenarios/labs/control.yaml")
    assert control.topology is not None
    scn = Scenario.model_validate({"name": "unit", "lab": "control", "seed": seed, "steps": steps})
    return ScenarioRun(Path("unit.yaml"), scn, control.topology, Cloud(), Options(runs_dir=tmp_path),
                       say=lambda _: None)


def test_the_probe_families_follow_the_expected_metrics() -> None:
    assert wanted([]) == []
    assert wanted(["galera_writes_lost", "rabbit_messages_lost", "galera_writes_duplicated"]) == ["galera", "rabbit"]
    assert wanted(["haproxy_detect_s", "api_error_rate"]) == ["api", "haproxy"]


def test_a_metric_is_judged_once_and_kept() -> None:
    """The haproxy family has no in-node process: with no service fault it measured nothing."""
    probes = ProbeSet()
    probes.start(ProbeContext("no-such-lab", None), ["haproxy_detect_s"])
    assert list(probes.live) == ["haproxy"]
    probes.on_fault(time.monotonic(), ["ctl1"], "power_off")  # not a service it watches: no watch starts
    assert probes.metric("haproxy_detect_s") is None
    assert probes.all_metrics() == {"values": {"haproxy_detect_s": None}, "figures": {"haproxy": {"detect_s": []}}}
    assert probes.live == {}  # judged: gone from the live set, a second ask reads the kept value
    assert probes.metric("haproxy_detect_s") is None
    probes.stop()


def test_a_metric_no_family_was_started_for_is_not_measured() -> None:
    probes = ProbeSet()
    assert probes.metric("vip_failover_s") is None and probes.all_metrics()["values"] == {}


def test_wait_and_expect_steps_are_dispatched_recorded_and_judged(tmp_path: Path) -> None:
    run = session([{"wait": "50ms"}, {"expect": {"metric": "api_error_rate", "max": 0.1}}], tmp_path)
    steps = plan(run.scn)
    assert [p.label for p in steps][:3] == ["check healthy", "wait 0.05s", "expect api_error_rate max 0.1"]
    waited = run.run(steps[1])
    assert waited.status == "passed" and 0.05 <= waited.seconds < 1
    with pytest.raises(ExpectationFailed, match="api_error_rate: nothing measured it in this run"):
        run.run(steps[2])
    failed = run.results[-1]
    assert (failed.status, failed.bound, failed.figures) == ("failed", {"max": 0.1}, {"api_error_rate": None})
    assert [r.label for r in run.results] == ["wait 0.05s", "expect api_error_rate max 0.1"]


def test_a_measured_metric_is_held_to_its_bounds(tmp_path: Path) -> None:
    run = session([{"expect": {"metric": "api_error_rate", "min": 0.01, "max": 0.1}}], tmp_path)
    expect = plan(run.scn)[1]
    run.probes.metrics["api_error_rate"] = 0.25  # as a judged family leaves it
    with pytest.raises(ExpectationFailed, match=r"api_error_rate = 0.25 > max 0.1"):
        run.run(expect)
    run.probes.metrics["api_error_rate"] = 0.001
    with pytest.raises(ExpectationFailed, match=r"api_error_rate = 0.001 < min 0.01"):
        run.run(expect)
    run.probes.metrics["api_error_rate"] = 0.05
    assert run.run(expect).status == "passed"


def test_the_seed_is_the_scenarios_or_drawn_and_kept(tmp_path: Path) -> None:
    assert session([{"wait": "1s"}], tmp_path, seed=42).seed == 42
    drawn = session([{"wait": "1s"}], tmp_path, seed=None)
    assert 0 <= drawn.seed < 2**32
    assert drawn.run_dir().parent == tmp_path and drawn.run_dir().name.endswith("-unit")


def test_stacklab_run_hands_its_validated_scenario_to_the_plugin(tmp_path: Path) -> None:
    """The plugin uses the result it is given (here the file on disk has changed since and
    would not validate), so a scenario is validated once per run."""
    from stacklab.runner.plugin import Validated

    path = tmp_path / "given.yaml"
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "control.yaml").write_text((ROOT / "scenarios/labs/control.yaml").read_text())
    path.write_text("name: given\nlab: control\nsteps:\n  - wait: 1s\n")
    result = validate_file(path)
    assert result.ok, result.messages
    path.write_text("name: given\nlab: control\nsteps:\n  - wait: never\n")  # invalid now
    code = pytest.main([str(path), "--collect-only", "-q", "-p", "no:cacheprovider"],
                       plugins=[Validated({path: result})])
    assert code == 0
    assert pytest.main([str(path), "--collect-only", "-q", "-p", "no:cacheprovider"]) != 0  # on its own: invalid
