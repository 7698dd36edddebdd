"""Ceph under one OSD host's power-off, on the weak `on-the-cheap` lab vs the unconstrained
`storage` lab: time to degraded and to recovered, and the Ceph probe's client throughput
(1 MiB objects, one write and one read at a time, from the controller) healthy vs one
node down vs recovering, with the weak/unconstrained ratio per phase. No asserts on time.

Run as root: ``python -m tests.bench.bench_ceph_phases [--healthy S] [--down S]``.
Each lab gets only its storage roles (chrony, Ceph mon/OSD, the controller as client).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from checks.ceph_timeline import phase_table
from checks.ha_ceph import CephWatch
from deployer.catalog import image_packages
from deployer.deploy import deploy
from lab import engine, faults
from lab.faultspec import PowerOff
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
LABS = {"storage": ("scenarios/labs/storage.yaml", "stor3"), "on-the-cheap": ("scenarios/labs/on-the-cheap.yaml",
                                                                              "pi3")}
ONLY = {"chrony", "ceph-mon", "ceph-osd", "ceph-client"}


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def measure(name: str, healthy_s: float, down_s: float) -> dict[str, Any]:
    """Up + storage roles, then healthy -> one OSD host off -> on -> active+clean; the report."""
    lab_file, victim = LABS[name]
    result = validate_file(ROOT / lab_file)
    assert result.topology is not None and result.cloud is not None, result.messages
    lab = f"cp{os.getpid() % 1000}{name[:2]}"
    engine.up(lab, result.topology, packages=image_packages(), source=lab_file, progress=lambda _: None)
    try:
        t0 = time.monotonic()
        deploy(lab, result.cloud, say=lambda _: None, only=ONLY)
        print(f"# {name}: storage roles deployed in {time.monotonic() - t0:.0f} s (load {load()})", flush=True)
        watch = CephWatch(lab).start()
        watch.wait_ready(timeout=300)
        time.sleep(healthy_s)  # the healthy phase: the probe measures while we wait
        watch.mark_fault()
        faults.apply(lab, PowerOff(action="power_off", node=victim))
        time.sleep(down_s)
        watch.mark_heal()
        faults.heal(lab)
        report = watch.stop_and_verify(timeout=600)
        print(f"# {name}: load average after the run {load()}", flush=True)
        return {"metrics": report.metrics(), "figures": report.figures()}
    finally:
        engine.down(lab, progress=lambda _: None)


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:6.2f} x" if a is not None and b else "     -"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--healthy", type=float, default=30.0, help="seconds of the healthy phase")
    parser.add_argument("--down", type=float, default=45.0, help="seconds with one OSD host powered off")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings labs up)")
    runs = {name: measure(name, args.healthy, args.down) for name in LABS}
    for name, run in runs.items():
        m = run["metrics"]
        print(f"\n{name}: power_off -> degraded {m['ceph_degraded_s']} s, heal -> active+clean "
              f"{m['ceph_recovery_s']} s, objects lost {m['ceph_objects_lost']}, mismatched "
              f"{m['ceph_objects_mismatched']}, degraded PGs at most {m['ceph_degraded_pgs']}")
        print("\n".join(phase_table(run["figures"])))
    weak, full = (runs[n]["figures"]["phases"][0] for n in ("on-the-cheap", "storage"))
    print(f"\n{'phase':<12}{'write weak/storage':>20}{'read weak/storage':>20}{'write p50 weak/storage':>24}")
    for phase in ("healthy", "down", "recovering"):
        if phase in weak and phase in full:
            w, f = weak[phase], full[phase]
            print(f"{phase:<12}{ratio(w['write']['mbps'], f['write']['mbps']):>20}"
                  f"{ratio(w['read']['mbps'], f['read']['mbps']):>20}"
                  f"{ratio(w['write']['p50_s'], f['write']['p50_s']):>24}")


if __name__ == "__main__":
    main()
