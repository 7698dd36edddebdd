"""Lab engine benchmarks: prints figures and ratios against the targets (no asserts on time).

Run with `nox -s bench` (root). Figures: image build (cold from the manifest, warm
lookup), `up` of the 8-node `ha` lab and of a 20-node lab, RAM per idle node, `down`,
and N up/down cycles checked for leaks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from deployer.catalog import image_packages
from lab import engine, image
from lab.model import Topology
from stacklab.validate import validate_file
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"up8_s": 10.0, "node_mib": 25.0, "down_s": 5.0}


def row(name: str, value: float, unit: str, target: float | None = None) -> None:
    ratio = f"  {value / target:5.2f} x target ({target:g} {unit})" if target else ""
    print(f"{name:<44} {value:10.2f} {unit:<4}{ratio}", flush=True)


def wide_topology(nodes: int) -> Topology:
    return Topology.model_validate({
        "networks": {"mgmt": {"cidr": "10.99.0.0/24"}, "data": {"cidr": "10.99.1.0/24"}},
        "nodes": {"n": {"count": nodes, "networks": ["mgmt", "data"]}},
    })


def timed_up(name: str, topo: Topology) -> float:
    t = time.monotonic()
    engine.up(name, topo, packages=image_packages(), source="bench", progress=lambda _: None)
    return time.monotonic() - t


def timed_down(name: str) -> float:
    t = time.monotonic()
    engine.down(name, progress=lambda _: None)
    return time.monotonic() - t


def bench_image() -> None:
    t = time.monotonic()
    img = image.ensure_image(image_packages())
    row("image: warm lookup (cached)", time.monotonic() - t, "s")
    row("image: cold build (as recorded at build)", float(img.manifest.get("build_seconds", 0)), "s")
    row("image: size", img.manifest.get("size_bytes", 0) / 2**20, "MiB")


def bench_ha(prefix: str) -> None:
    topo = validate_file(ROOT / "scenarios/labs/ha.yaml").topology
    assert topo is not None
    name = f"{prefix}ha"
    row("up: ha lab, 8 nodes (warm image)", timed_up(name, topo), "s", TARGETS["up8_s"])
    time.sleep(5)  # let the idle nodes settle before reading memory: an idle figure, not a boot peak
    mems = [engine.get_backend(engine.DEFAULT).memory_bytes(name, n) or 0 for n in topo.node_names()]
    row("RAM per idle node (memory cgroup, mean)", statistics.mean(mems) / 2**20, "MiB", TARGETS["node_mib"])
    row("RAM per idle node (max)", max(mems) / 2**20, "MiB")
    row("down: ha lab", timed_down(name), "s", TARGETS["down_s"])


def bench_wide(prefix: str, nodes: int) -> None:
    name = f"{prefix}w"
    row(f"up: {nodes}-node lab, 2 networks", timed_up(name, wide_topology(nodes)), "s")
    row(f"down: {nodes}-node lab", timed_down(name), "s", TARGETS["down_s"])


def bench_cycles(prefix: str, cycles: int) -> None:
    topo = validate_file(ROOT / "scenarios/labs/ha.yaml").topology
    assert topo is not None
    name = f"{prefix}c"
    ups, downs, leaks = [], [], 0
    for _ in range(cycles):
        ups.append(timed_up(name, topo))
        downs.append(timed_down(name))
        leaks += len(leftovers(name))
    row(f"{cycles} up/down cycles of ha: median up", statistics.median(ups), "s", TARGETS["up8_s"])
    row(f"{cycles} up/down cycles of ha: median down", statistics.median(downs), "s", TARGETS["down_s"])
    row(f"{cycles} up/down cycles of ha: leftovers", leaks, "", None)
    if leaks:
        raise SystemExit(f"leak: {leftovers(name)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--wide", type=int, default=20, help="node count of the wide lab")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings labs up)")
    prefix = f"bench{os.getpid() % 1000}"
    bench_image()
    bench_ha(prefix)
    bench_wide(prefix, args.wide)
    bench_cycles(prefix, args.cycles)


if __name__ == "__main__":
    main()
