"""VM nodes vs containers: `up` time and RAM per node of the same lab on both backends.

Run with `nox -s bench` (root; skipped with a note where `.ci/setup --libvirt` was not run)
or `python -m tests.bench.bench_libvirt --sizes 3,5`. Prints each figure for LXC and
libvirt side by side with their ratio; asserts nothing about time. RAM is what a node
costs the host: the container's memory cgroup, the qemu process's resident set.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time

from deployer.catalog import image_packages
from lab import engine
from lab.model import Topology
from tests.lab.leaks import leftovers


def topology(nodes: int) -> Topology:
    return Topology.model_validate({
        "networks": {"mgmt": {"cidr": "10.98.0.0/24"}, "data": {"cidr": "10.98.1.0/24"}},
        "nodes": {"n": {"count": nodes, "networks": ["mgmt", "data"]}},
    })


def measure(name: str, topo: Topology, backend: str, settle: float) -> dict[str, float]:
    """up (warm image), idle RAM per node after ``settle`` s, down; leftovers counted."""
    t = time.monotonic()
    engine.up(name, topo, packages=image_packages(), backend=backend, source="bench",
              progress=lambda _: None, boot_timeout=900)
    up_s = time.monotonic() - t
    try:
        time.sleep(settle)
        be = engine.get_backend(backend)
        mems = [be.memory_bytes(name, n) or 0 for n in topo.node_names()]
    finally:
        t = time.monotonic()
        engine.down(name, progress=lambda _: None)
    return {"up_s": up_s, "ram_mib": statistics.mean(mems) / 2**20, "down_s": time.monotonic() - t,
            "leftovers": float(len(leftovers(name)))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="3,5", help="node counts, comma-separated")
    parser.add_argument("--settle", type=float, default=20.0, help="idle seconds before reading RAM")
    parser.add_argument("--prefix", default="bv", help="lab name prefix")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings labs up)")
    if shutil.which("libvirtd") is None or shutil.which("qemu-system-x86_64") is None:
        print("libvirt bench skipped: no libvirtd/qemu here (bash .ci/setup --libvirt)")
        return
    accel = os.environ.get("STACKLAB_LIBVIRT_ACCEL", "tcg")
    print(f"{'figure':<34} {'lxc':>9} {'libvirt (' + accel + ')':>16} {'ratio':>8}")
    for size in (int(s) for s in args.sizes.split(",")):
        lxc = measure(f"{args.prefix}{size}l", topology(size), "lxc", args.settle)
        vm = measure(f"{args.prefix}{size}v", topology(size), "libvirt", args.settle)
        for key, label in (("up_s", "up (s)"), ("ram_mib", "RAM per idle node (MiB)"), ("down_s", "down (s)"),
                           ("leftovers", "leftovers after down")):
            ratio = f"{vm[key] / lxc[key]:8.1f}" if lxc[key] else "       -"
            print(f"{size}-node lab: {label:<22} {lxc[key]:9.1f} {vm[key]:16.1f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
