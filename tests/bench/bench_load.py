"""Load benchmarks with locust inside the lab: Keystone token issue through the API VIP
(haproxy + TLS) vs straight to one controller's Keystone (plain HTTP on :5001), RPS and
p95 side by side with their ratio; the same through the VIP while its holder is powered
off (outage, MTTR, failure rate, from the per-request event log); and locust's own
ceiling on one lab node (a responder in that node, so the client saturates), against
which the other figures are flagged. Prints figures; no asserts.

    python -m tests.bench.bench_load [--lab NAME] [--users 2] [--seconds 30]

``--lab`` measures on a deployed lab of the control topology (left up); otherwise one is
created and removed. Event logs and locust CSVs go under ``runs/bench-load-<time>/``.
Users have no think time (closed loop): token issue costs Keystone ≈ 0.2 s of CPU, so
2 users is about what one controller's 2 uwsgi processes take without queueing.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from checks.ha_run import prober
from checks.infra.base import open_lab
from checks.load.gates import LoadFigures
from checks.load.node import CEILING_PORT, CEILING_RPS, LocustRun
from deployer.catalog import image_packages
from deployer.deploy import deploy
from lab import engine
from stacklab.runner.session import Options, ScenarioRun
from stacklab.runner.steps import plan
from stacklab.scenario import Scenario
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
NO_THINK = {"wait_min": 0, "wait_max": 0}
RESPONDER = f"""global
    maxconn 4000
defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s
frontend ceiling
    bind 127.0.0.1:{CEILING_PORT}
    http-request return status 200 content-type text/plain string ok
"""


def locust(lab: str, node: str, target: str, dest: Path, users: int, seconds: float, **kw: Any) -> LoadFigures:
    """One bounded locust run, waited for; its figures."""
    run = LocustRun(lab, node, target, users=users, spawn_rate=users, run_time=seconds, **kw).start()
    while run.active() and time.monotonic() < run.started + seconds + 60:
        time.sleep(1)
    return LoadFigures(run.finish(dest))


def show(label: str, stats: dict[str, Any], ceiling: float | None = None) -> None:
    rps, p95 = stats["rps"] or 0.0, stats["p95_s"]
    flag = "  ABOVE locust's ceiling: measures the client" if ceiling and rps > 0.8 * ceiling else ""
    print(f"  {label:<46} {rps:8.1f} RPS  p95 {'-' if p95 is None else f'{p95 * 1000:.0f} ms':>8}  "
          f"failures {stats['failures']}/{stats['requests']}{flag}", flush=True)


def ratio(label: str, a: float | None, b: float | None) -> None:
    print(f"  ratio {label:<40} {'-' if not a or not b else f'{a / b:.2f}x'}")


def ceiling(lab: str, node: str, dest: Path, seconds: float) -> float:
    """Locust against haproxy answering in the same node; the highest RPS of a few user counts."""
    unit = f"stacklab-load-responder-{os.getpid()}"
    cfg = f"/run/{unit}.cfg"
    engine.run(lab, node, ["/bin/sh", "-c", f"cat > {cfg}"], input=RESPONDER, timeout=30)
    engine.run(lab, node, ["systemd-run", "--quiet", "--collect", "--unit", unit, "-p", "RuntimeMaxSec=900",
                           "/usr/sbin/haproxy", "-db", "-f", cfg], timeout=30)
    try:
        best = 0.0
        for users in (1, 4, 16):
            stats = locust(lab, node, "ceiling", dest / f"ceiling-{users}", users, seconds).whole
            show(f"locust ceiling, {users} users, one node", stats)
            best = max(best, stats["rps"] or 0.0)
        print(f"  (checks.load.node.CEILING_RPS, which `nox -s load` flags against, is {CEILING_RPS:g})")
        return best
    finally:
        engine.run(lab, node, ["systemctl", "stop", unit], timeout=30)
        engine.run(lab, node, ["rm", "-f", cfg], timeout=30)


def power_off_trial(lab: str, node: str, dest: Path, users: int) -> LoadFigures:
    """Token issue through the VIP while the runner powers its holder off, heals, waits healthy."""
    result = validate_file(ROOT / "scenarios/labs/control.yaml")
    assert result.topology is not None and result.cloud is not None, result.messages
    scn = Scenario.model_validate({"name": "bench-load-power-off", "lab": "control", "seed": 1, "steps": [
        {"check": "healthy"}, {"wait": "5s"}, {"fault": {"id": "f", "action": "power_off", "node": "@vip_holder"}},
        {"wait": "15s"}, {"heal": "all"}, {"check": "healthy"}, {"wait": "5s"}]})
    run = ScenarioRun(Path("<bench load>"), scn, result.topology, result.cloud,
                      Options(keep=True, reuse=True, lab_name=lab, runs_dir=dest), say=lambda _: None)
    load = LocustRun(lab, node, "keystone", users=users, spawn_rate=users, run_time=600, options=NO_THINK,
                     tags=("issue",))
    try:
        run.prepare()
        load.start()
        load.wait_requests(10)
        for planned in plan(scn):
            run.run(planned)
    finally:
        events = load.finish(dest / "power-off")
        run.finish()
    at = {r.label.split()[0]: r.at for r in run.results}
    return LoadFigures(events, fault=at.get("fault"), heal=at.get("heal"))


def measure(lab: str, runs: Path, users: int, seconds: float) -> None:
    inv = open_lab(lab).inv
    node = prober(lab)
    direct = inv.with_role("controller")[0]
    print(f"locust on {lab}/{node}: token issue, {users} users without think time, {seconds:g} s per run")
    top = ceiling(lab, node, runs, min(seconds, 20))
    vip = locust(lab, node, "keystone", runs / "vip", users, seconds, options=NO_THINK, tags=("issue",))
    one = locust(lab, node, "keystone", runs / "direct", users, seconds, tags=("issue",),
                 options={**NO_THINK, "auth_url": f"http://{direct.ip()}:5001/v3"})
    show("token issue through the VIP (haproxy + TLS)", vip.by_type["token issue"], top)
    show(f"token issue straight to {direct.name}:5001 (HTTP)", one.by_type["token issue"], top)
    ratio("RPS VIP / direct", vip.by_type["token issue"]["rps"], one.by_type["token issue"]["rps"])
    ratio("p95 VIP / direct", vip.by_type["token issue"]["p95_s"], one.by_type["token issue"]["p95_s"])
    off = power_off_trial(lab, node, runs, users)
    show("token issue through the VIP, holder powered off", off.whole, top)
    print(f"  power-off: outage {off.outage_s:.1f} s, MTTR {off.mttr_s if off.mttr_s is None else round(off.mttr_s, 1)}"
          f" s, failure rate {off.whole['failure_rate']}, p95 baseline/fault/recovery "
          + "/".join("-" if off.phases[p]["p95_s"] is None else f"{off.phases[p]['p95_s'] * 1000:.0f}"
                     for p in ("baseline", "fault", "recovery")) + " ms")
    print(f"  event logs and locust CSVs: {runs}/")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lab", help="a deployed lab of the control topology to measure on (left up)")
    parser.add_argument("--users", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings a lab up)")
    lab = args.lab or f"benchl{os.getpid() % 1000}"
    if not args.lab:
        result = validate_file(ROOT / "scenarios/labs/control.yaml")
        assert result.topology is not None and result.cloud is not None, result.messages
        engine.up(lab, result.topology, packages=image_packages(), source="bench", progress=lambda _: None)
        deploy(lab, result.cloud, say=lambda _: None)
    try:
        measure(lab, ROOT / "runs" / time.strftime("bench-load-%Y%m%d-%H%M%S"), args.users, args.seconds)
    finally:
        if not args.lab:
            engine.down(lab, progress=lambda _: None)


if __name__ == "__main__":
    main()
