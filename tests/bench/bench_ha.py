"""HA benchmarks: VIP failover with VRRPv2 advert_int 1 and with VRRPv3 advert_int 0.1
(median of N power-offs of the VIP holder), and API downtime / MTTR for a controller
power-off vs a Keystone stop vs a freeze. Prints figures and ratios; no asserts.

Each trial is a small scenario run by the scenario runner on one kept lab of the
``control`` topology (healthy -> fault -> measure -> heal -> healthy), so the figures
come from the same in-node probes the scenarios judge with.

    python -m tests.bench.bench_ha [--trials 5] [--lab NAME]

``--lab`` measures on a lab that is already up with the control topology (it is
re-deployed with each keepalived setting and left up); otherwise a lab is created and
removed at the end. Every trial's result.json goes under ``runs/bench-ha-<time>/``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import time
from pathlib import Path
from typing import Any

from deployer.catalog import image_packages
from deployer.model import Cloud
from lab import engine
from lab.model import Topology
from stacklab.runner.report import write_results
from stacklab.runner.session import Options, ScenarioRun
from stacklab.runner.steps import plan
from stacklab.scenario import Scenario
from stacklab.validate import validate_file
from tests.bench.bench_lab import row

ROOT = Path(__file__).resolve().parents[2]
LOOSE = 1e6  # the bench measures, it does not judge: every bound is out of reach
TARGETS = {"vip_v2_s": 5.0, "api_downtime_s": 10.0}

# What each trial does to the lab, as scenario steps around "healthy ... healthy".
FAULTS: dict[str, dict[str, Any]] = {
    "power_off": {"id": "f", "action": "power_off", "node": "@vip_holder"},
    "keystone_stop": {"id": "f", "action": "stop_service", "node": "@vip_holder", "service": "keystone"},
    "freeze": {"id": "f", "action": "freeze", "node": "@vip_holder", "duration": "20s"},
}
METRICS = ("vip_failover_s", "api_downtime_s", "api_mttr_s", "api_error_rate")


def trial_scenario(fault: str) -> Scenario:
    steps: list[dict[str, Any]] = [{"check": "healthy"}, {"wait": "3s"}, {"fault": FAULTS[fault]}]
    steps += [{"expect": {"metric": m, "max": LOOSE}} for m in METRICS]
    if fault == "power_off":  # peers notice the loss before the node is back (see controller-failover.yaml)
        steps.append({"wait": "10s"})
    if fault == "freeze":  # a thawed RabbitMQ can stay partitioned (see controller-freeze.yaml)
        steps.append({"fault": {"id": "op", "action": "restart_service", "node": "@fault:f", "service": "rabbitmq"}})
    steps += [{"heal": "all"}, {"check": "healthy"}]
    return Scenario.model_validate({"name": f"bench-{fault.replace('_', '-')}", "lab": "control", "seed": 1,
                                    "steps": steps})


def trial(lab: str, topo: Topology, cloud: Cloud, fault: str, runs_dir: Path) -> dict[str, Any]:
    """One scenario run on the kept lab; its metrics (None where nothing was measured)."""
    scn = trial_scenario(fault)
    run = ScenarioRun(Path(f"<bench {fault}>"), scn, topo, cloud,
                      Options(keep=True, reuse=True, lab_name=lab, runs_dir=runs_dir), say=lambda _: None)
    try:
        run.prepare()
        for planned in plan(scn):
            run.run(planned)
    finally:
        if run.ready:  # result.json per trial: an outlier can be looked into afterwards
            with contextlib.redirect_stdout(io.StringIO()):
                write_results(run)
        run.finish()
    return {m: run.probes.metrics.get(m) for m in METRICS} | {"steps_s": sum(r.seconds for r in run.results)}


def median(values: list[float | None]) -> float | None:
    seen = [v for v in values if v is not None]
    return statistics.median(seen) if seen else None


def series(label: str, results: list[dict[str, Any]], metric: str, unit: str, target: float | None = None) -> None:
    values = [r[metric] for r in results]
    m = median(values)
    shown = ", ".join("-" if v is None else f"{v:g}" for v in values)
    if m is None:
        print(f"  {label:<58} not measured ({shown})")
    else:
        row(f"{label} (median of {len(values)}: {shown})", m, unit, target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=5, help="power-offs per keepalived setting (default: 5)")
    parser.add_argument("--others", type=int, default=3, help="trials of Keystone stop and of freeze (default: 3)")
    parser.add_argument("--lab", help="an already deployed lab of the control topology to measure on")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings a lab up)")
    result = validate_file(ROOT / "scenarios/labs/control.yaml")
    assert result.topology is not None and result.cloud is not None, result.messages
    topo, cloud = result.topology, result.cloud
    lab = args.lab or f"benchh{os.getpid() % 1000}"
    if not args.lab:
        engine.up(lab, topo, packages=image_packages(), source="bench", progress=lambda _: None)
    v3 = cloud.model_copy(update={"keepalived": cloud.keepalived.model_copy(
        update={"vrrp_version": 3, "advert_int": 0.1})})
    try:
        runs = ROOT / "runs" / time.strftime("bench-ha-%Y%m%d-%H%M%S")
        v2_off = [trial(lab, topo, cloud, "power_off", runs) for _ in range(args.trials)]
        series("VIP failover, VRRPv2 advert_int 1, holder powered off", v2_off, "vip_failover_s", "s",
               TARGETS["vip_v2_s"])
        ks = [trial(lab, topo, cloud, "keystone_stop", runs) for _ in range(args.others)]
        frz = [trial(lab, topo, cloud, "freeze", runs) for _ in range(args.others)]
        for label, results in (("power-off", v2_off), ("Keystone stop", ks), ("freeze 20 s", frz)):
            series(f"API downtime, {label} of the VIP holder", results, "api_downtime_s", "s",
                   TARGETS["api_downtime_s"])
            series(f"API MTTR, {label}", results, "api_mttr_s", "s")
            series(f"API error rate, {label}", results, "api_error_rate", "ratio")
        v3_off = [trial(lab, topo, v3, "power_off", runs) for _ in range(args.trials)]
        series("VIP failover, VRRPv3 advert_int 0.1, holder powered off", v3_off, "vip_failover_s", "s")
        series("API downtime, power-off, VRRPv3 advert_int 0.1", v3_off, "api_downtime_s", "s")
        series("API MTTR, power-off, VRRPv3 advert_int 0.1", v3_off, "api_mttr_s", "s")
        a, b = median([r["vip_failover_s"] for r in v2_off]), median([r["vip_failover_s"] for r in v3_off])
        if a and b:
            print(f"  ratio VIP failover v2/advert 1 : v3/advert 0.1 = {a / b:.1f}x")
        steps = [r["steps_s"] for r in v2_off + ks + frz + v3_off]
        row(f"one trial, healthy to healthy (median of {len(steps)})", statistics.median(steps), "s")
        print(f"  each trial's result.json: {runs}/")
    finally:
        if args.lab:
            print(f"  lab {lab} left up, re-deployed with VRRPv3 advert_int 0.1: "
                  f"`stacklab deploy --lab {lab}` restores it")
        else:
            engine.down(lab, progress=lambda _: None)


if __name__ == "__main__":
    main()
