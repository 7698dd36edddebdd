"""Load steps without a lab: gate evaluation on synthetic event logs, the locust command's
bounds, the target registry, validation of load steps, and where the load ends in a plan."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

from checks.catalog import LOAD_TARGETS
from checks.load import DIR, TARGETS, TOOLS
from checks.load.gates import GATES, Event, LoadFigures, judge, to_events
from checks.load.node import CONFIGS, MAX_RUN_TIME, LocustRun
from stacklab.runner.steps import LoadEnd, plan
from stacklab.scenario import Scenario
from stacklab.validate import validate_file


@pytest.mark.parametrize("module", ["checks.load", "checks.load.gates", "stacklab.runner.steps"])
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted and result.failed == 0


def failover_log() -> list[Event]:
    """10 requests/s of 0.1 s: 10 s baseline, fault at 10.0, failures 10.0-13.0 (1 s
    timeouts), slow (0.5 s) 13.0-15.0, normal again from 15.0; heal at 20.0; end at 30."""
    out = []
    for i in range(300):
        t = i / 10
        if 10.0 <= t < 13.0:
            out.append(Event(t, "token issue", 1.0, False, "ConnectTimeout: x"))
        else:
            out.append(Event(t, "token issue", 0.5 if 13.0 <= t < 15.0 else 0.1, True))
    return out


def test_failover_figures() -> None:
    f = LoadFigures(failover_log(), fault=10.0, heal=20.0)
    assert f.whole["requests"] == 300 and f.whole["failures"] == 30
    assert f.whole["failure_rate"] == 0.1
    assert f.outage_s == pytest.approx(3.9)  # first failure sent 10.0, last answered 12.9 + 1.0
    # 20 good requests in a row whose p95 is within 1.5 x baseline: from 14.9 (one slow one is the 5 %)
    assert f.mttr_s == pytest.approx(4.9)
    assert f.baseline_p95 == pytest.approx(0.1)
    assert f.degradation == pytest.approx(5.0)  # fault-phase p95 0.5 / baseline 0.1
    assert f.phases["baseline"]["requests"] == 100  # answered by 10.0: sent up to 9.9
    assert f.phases["recovery"]["requests"] == 100 and f.phases["recovery"]["failures"] == 0
    assert f.summary()["error_kinds"] == {"ConnectTimeout": 30}


def test_gates_report_measured_against_bound() -> None:
    f = LoadFigures(failover_log(), fault=10.0, heal=20.0)
    results = {r.name: r for r in judge(f, {"max_failure_rate": 0.2, "max_outage_s": 3.0, "max_mttr_s": 10,
                                            "min_rps": 50, "max_degradation": 6})}
    assert [n for n, r in results.items() if not r.ok] == ["max_outage_s", "min_rps"]
    assert results["max_outage_s"].line() == "max_outage_s: measured 3.9 (max 3) FAIL"
    assert results["min_rps"].line() == "min_rps: measured 9 (min 50) FAIL"  # 270 good in 30 s
    assert results["max_mttr_s"].line() == "max_mttr_s: measured 4.9 (max 10) ok"


def test_unrecovered_load_fails_its_mttr_gate_as_not_measured() -> None:
    events = [Event(t / 10, "x", 0.1, t < 50) for t in range(100)]
    f = LoadFigures(events, fault=5.0)
    assert f.mttr_s is None
    (result,) = judge(f, {"max_mttr_s": 1000})
    assert not result.ok and result.line() == "max_mttr_s: not measured (max 1000) FAIL"


def test_unfelt_fault_has_zero_outage_and_mttr() -> None:
    events = [Event(t / 10, "x", 0.1, True) for t in range(100)]
    f = LoadFigures(events, fault=5.0)
    assert (f.outage_s, f.mttr_s, f.degradation) == (0.0, 0.0, 1.0)


def test_percentile_gates_use_successful_requests_per_type() -> None:
    events = [Event(i, "fast", 0.01 * (i + 1), True) for i in range(100)] + [Event(0, "slow", 9.0, False)]
    f = LoadFigures(events)
    assert f.by_type["fast"]["p50_s"] == pytest.approx(0.505) and f.by_type["slow"]["p50_s"] is None
    assert f.whole["p99_s"] == pytest.approx(0.9901)
    assert [r.ok for r in judge(f, {"max_p50_s": 0.5, "max_p99_s": 1.0})] == [False, True]


def test_event_log_lines_skip_events_and_sort_by_send_time() -> None:
    lines = [{"ev": "start", "t": 0}, {"t": 2.0, "type": "b", "lat": 0.1, "ok": False, "err": "E: x"},
             {"t": 1.0, "type": "a", "lat": 0.2, "ok": True, "err": None}, {"ev": "end", "t": 3}]
    assert [(e.kind, e.ok) for e in to_events(lines)] == [("a", True), ("b", False)]


def test_locust_is_always_bounded() -> None:
    run = LocustRun("lab", "cli1", "keystone", users=7, spawn_rate=2.5, run_time=10**6)
    argv = run.argv()
    assert "--headless" in argv and argv[argv.index("--users") + 1] == "7"
    assert argv[argv.index("--spawn-rate") + 1] == "2.5"
    assert argv[argv.index("--run-time") + 1] == f"{int(MAX_RUN_TIME)}s"
    assert "--csv-full-history" in argv and "--tags" not in argv
    assert LocustRun("lab", "cli1", "keystone", users=1, spawn_rate=1, run_time=1, tags=("issue",)).argv()[-2:] == [
        "--tags", "issue"]
    with pytest.raises(Exception, match="unknown load target 'nova'; allowed: galera, keystone"):
        LocustRun("lab", "cli1", "nova", users=1, spawn_rate=1, run_time=1)


def test_every_target_has_a_locustfile_and_a_config() -> None:
    assert set(CONFIGS) == set(TARGETS) | set(TOOLS) and set(TARGETS) == set(LOAD_TARGETS)
    for target in (*TARGETS.values(), *TOOLS.values()):
        assert (DIR / f"{target.locustfile}.py").is_file()
    assert all(g.bound in ("max", "min") for g in GATES.values())


def scenario_file(tmp_path: Path, load: str, lab: str = "control", fault: bool = True) -> Path:
    steps = f"  - load: {load}\n" + ("  - fault: {action: power_off, node: ctl1}\n" if fault else "")
    path = tmp_path / "s.yaml"
    path.write_text(f"name: s\nlab: {lab}\nsteps:\n{steps}")
    return path


@pytest.mark.parametrize(("load", "lab", "fault", "message"), [
    ("{target: nova}", "control", True, "load.target: 'nova' is not allowed; allowed: galera, keystone"),
    ("{target: keystone, sla: {p95: 1}}", "control", True, "'p95' is not allowed; allowed: max_degradation"),
    ("{target: keystone, run_time: 2h}", "control", True, "run_time: must be <= 1800.0, got 7200.0"),
    ("{target: keystone, sla: {max_mttr_s: 5}}", "control", True, "it needs 'background: true'"),
    ("{target: keystone, background: true, sla: {max_degradation: 2}}", "control", False, "a fault step after"),
])
def test_invalid_load_steps(tmp_path: Path, load: str, lab: str, fault: bool, message: str) -> None:
    result = validate_file(scenario_file(tmp_path, load, lab, fault))
    assert not result.ok
    assert any(message in m for m in result.messages), result.messages


def test_a_target_the_lab_cannot_honour_is_an_error() -> None:
    """Every shipped cloud has controllers, so this is the refs check on a bare topology."""
    from lab.model import Topology
    from stacklab.refs import check_steps

    topo = Topology.model_validate({"networks": {"mgmt": {"cidr": "10.9.0.0/24"}},
                                    "nodes": {"cli": {"count": 1, "roles": ["client"], "networks": ["mgmt"]}}})
    scn = Scenario.model_validate({"name": "x", "lab": "none", "steps": [{"load": {"target": "galera"}}]})
    assert [p.message for p in check_steps(scn, topo)] == [
        "load target 'galera' loads mariadb, which no node of this lab runs; this lab honours none"]


def test_a_background_load_ends_after_the_closing_heal() -> None:
    scn = Scenario.model_validate({"name": "x", "lab": "control", "steps": [
        {"check": "healthy"}, {"load": {"target": "keystone", "background": True}},
        {"load": {"target": "galera", "run_time": "5s"}}, {"fault": {"action": "power_off", "node": "ctl1"}}]})
    labels = [p.label for p in plan(scn)]
    assert labels[-3:] == ["heal all", "check healthy", "load end keystone: gates"]
    assert isinstance(plan(scn)[-1].step, LoadEnd) and plan(scn)[-1].implicit


def test_verdict_lines_show_phases_and_each_gate_against_its_bound() -> None:
    from dataclasses import asdict

    from stacklab.runner.loads import gate_lines

    f = LoadFigures(failover_log(), fault=10.0, heal=20.0)
    gates = [asdict(g) for g in judge(f, {"max_p95_s": 0.2})]
    figures = {"nodes": ["ctl1"], "keystone": {**f.summary(), "gates": gates}}
    assert gate_lines(figures) == [
        "keystone: 300 requests, 30 failed, 9.0 RPS; p95 s baseline 0.1, fault 0.5, recovery 0.1",
        "keystone max_p95_s: measured 0.5 (max 0.2) FAIL"]


def test_a_blip_after_the_heal_is_not_the_faults_outage() -> None:
    events = failover_log() + [Event(25.0, "token issue", 5.0, False, "ReadTimeout: x")]
    f = LoadFigures(events, fault=10.0, heal=20.0)
    assert f.outage_s == pytest.approx(3.9) and f.recovery_outage_s == pytest.approx(5.0)
    assert f.whole["failures"] == 31  # it still counts against the failure rate


def test_the_baseline_command_refuses_bad_input_with_a_message(capsys: pytest.CaptureFixture[str]) -> None:
    """`nox -s load -- LAB`: a hostile or unknown lab is a message and exit 2, never a traceback."""
    from checks.load.__main__ import main

    assert main(["../x"]) == 2
    assert capsys.readouterr().err.startswith("python -m checks.load: '../x' is not a valid lab name: ")
    for bad in (["ld1", "--run-time", "abc"], ["ld1", "--users", "0"], ["ld1", "--spawn-rate", "1000"]):
        with pytest.raises(SystemExit) as exit_:
            main(bad)
        assert exit_.value.code == 2 and "Traceback" not in capsys.readouterr().err
