"""Deploy benchmarks: a cold deploy of a lab with a warm image, split per component, the
RAM of the deployed lab, and a no-op re-deploy. Prints figures and ratios; no asserts.

    python -m tests.bench.bench_deploy [--lab control|ha]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from deployer.catalog import image_packages
from deployer.deploy import deploy
from lab import engine
from stacklab.validate import validate_file
from tests.bench.bench_lab import row

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"controllers_s": 90.0, "redeploy_s": 20.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab", default="control", help="lab file under scenarios/labs (default: control)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings a lab up)")
    result = validate_file(ROOT / "scenarios/labs" / f"{args.lab}.yaml")
    assert result.topology is not None and result.cloud is not None, result.messages
    name = f"benchd{os.getpid() % 1000}"
    t0 = time.monotonic()
    engine.up(name, result.topology, packages=image_packages(), source="bench", progress=lambda _: None)
    try:
        row(f"up: {args.lab} lab", time.monotonic() - t0, "s")
        report = deploy(name, result.cloud, say=lambda _: None)
        controller_parts = ("chrony", "memcached", "galera", "rabbitmq", "haproxy", "keepalived", "keystone",
                            "clouds")
        for component, seconds in report.timings.items():
            row(f"deploy: {component}", seconds, "s")
        control = sum(s for c, s in report.timings.items() if c in controller_parts)
        row("deploy: the control plane (cold, warm image)", control, "s", TARGETS["controllers_s"])
        row("deploy: everything", report.seconds, "s")
        again = deploy(name, result.cloud, say=lambda _: None)
        row(f"re-deploy (no-op, {len(again.changes)} changes)", again.seconds, "s", TARGETS["redeploy_s"])
        mem = {n: engine.get_backend(engine.DEFAULT).memory_bytes(name, n) or 0 for n in result.topology.node_names()}
        row("RAM of the deployed lab (memory cgroups)", sum(mem.values()) / 2**20, "MiB")
        for node, used in mem.items():
            row(f"RAM: {node}", used / 2**20, "MiB")
    finally:
        engine.down(name, progress=lambda _: None)


if __name__ == "__main__":
    main()
