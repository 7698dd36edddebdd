"""Ceph benchmarks on the `storage` lab: prints figures and ratios (no asserts on time).

Run as root: ``python -m tests.bench.bench_ceph [--lab-file F] [--seconds N] [--mbit M]``.
Figures: empty -> HEALTH_OK for the storage roles (target <= 30 s), RAM per mon, mgr and
OSD (idle and after the benches), the degradation timeline of one OSD host powered
off and on, and ``rados bench`` write/seq MB/s and latency healthy vs one OSD host down
vs recovering vs the storage links rate-limited. The host's load average is printed
with each phase: on a shared 2-core machine the figures move with it.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from checks import ceph
from deployer.catalog import image_packages
from deployer.deploy import deploy
from lab import engine, faults
from lab.faultspec import LinkRate, PowerOff
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
TARGETS = {"health_ok_s": 30.0}
DAEMONS = ("ceph-mon", "ceph-mgr", "ceph-osd")


def row(name: str, value: float, unit: str, target: float | None = None, base: float | None = None) -> None:
    ratio = f"  {value / target:5.2f} x target ({target:g} {unit})" if target else ""
    ratio += f"  {value / base:5.2f} x healthy" if base else ""
    print(f"{name:<52} {value:10.2f} {unit:<5}{ratio}", flush=True)


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def bring_up(lab: str, lab_file: Path) -> float:
    """Up + chrony (not timed), then the storage roles: seconds to HEALTH_OK."""
    result = validate_file(lab_file)
    assert result.topology is not None and result.cloud is not None
    engine.up(lab, result.topology, packages=image_packages(), source=str(lab_file), progress=lambda _: None)
    deploy(lab, result.cloud, say=lambda _: None, only={"chrony"})
    c = result.cloud.ceph
    print(f"# ceph: {c.mons} mon(s), {c.osds_per_node} OSD(s)/node of {c.osd_size_gib} GiB, pool size {c.pool_size} "
          f"min_size {c.min_size} pg_num {c.pg_num}")
    print(f"# timers: mon_osd_down_out_interval {c.mon_osd_down_out_interval:g} s, osd_heartbeat_interval "
          f"{c.osd_heartbeat_interval:g} s, osd_heartbeat_grace {c.osd_heartbeat_grace:g} s")
    print(f"# load average before the storage roles: {load()}", flush=True)
    report = deploy(lab, result.cloud, say=lambda _: None, only={"chrony", "ceph-mon", "ceph-osd", "ceph-client"})
    for name in ("ceph-mon", "ceph-osd", "ceph-client"):
        row(f"deploy: {name}", report.timings.get(name, 0.0), "s")
    # ceph-osd's ready() returns at HEALTH_OK with every PG active+clean.
    return report.timings["ceph-mon"] + report.timings["ceph-osd"]


def ram(lab: str, label: str) -> None:
    """RSS of each Ceph daemon kind (mean over nodes), read inside the nodes."""
    rss: dict[str, list[int]] = {d: [] for d in DAEMONS}
    for node in ceph.as_lab(lab).inv.names():
        out = engine.run(lab, node, ["ps", "-o", "comm=,rss=", "-C", ",".join(DAEMONS)]).stdout
        for line in out.splitlines():
            comm, kib = line.split()
            rss[comm].append(int(kib))
    for daemon, values in rss.items():
        if values:
            row(f"RAM {label}: {daemon} (RSS, mean of {len(values)})", sum(values) / len(values) / 1024, "MiB")


def benches(lab: str, label: str, seconds: int, base: dict[str, float] | None = None) -> dict[str, float]:
    """rados bench write then seq; figures keyed by mode."""
    out: dict[str, float] = {}
    try:
        for mode in ("write", "seq"):
            b = ceph.rados_bench(lab, seconds, mode)
            out[mode] = b.mb_s
            row(f"rados bench {mode} {label} (load {load()})", b.mb_s, "MB/s", base=(base or {}).get(mode))
            row(f"rados bench {mode} {label}: mean latency", b.avg_latency_s * 1000, "ms")
    finally:
        ceph.bench_cleanup(lab)
    return out


def degraded(lab: str, seconds: int, healthy: dict[str, float]) -> None:
    """One OSD host powered off: timeline, benches; then powered on: recovery."""
    manifest = ceph.write_objects(lab, 64)  # PGs are "degraded" only when they hold objects
    t0 = time.monotonic()
    faults.apply(lab, PowerOff(action="power_off", node="stor2"))
    ceph.wait_for_health(lab, lambda h: h.up < h.osds, timeout=120, what="an OSD down")
    row("power_off stor2 -> its OSD marked down", time.monotonic() - t0, "s")
    ceph.wait_for_health(lab, lambda h: h.degraded_pgs > 0, timeout=120, what="degraded PGs")
    row("power_off stor2 -> PGs degraded", time.monotonic() - t0, "s")
    benches(lab, "1 OSD host down", seconds, healthy)
    t1 = time.monotonic()
    faults.heal(lab)
    h, _ = ceph.wait_for_health(lab, lambda h: h.up == h.osds, timeout=120, what="the OSD up again")
    row("power_on stor2 -> its OSD up", time.monotonic() - t1, "s")
    row("  PGs not active+clean at that moment", h.num_pgs - h.pgs.get("active+clean", 0), "PGs")
    recovering = ceph.rados_bench(lab, max(seconds // 2, 3), "write")
    row(f"rados bench write recovering (load {load()})", recovering.mb_s, "MB/s", base=healthy.get("write"))
    ceph.wait_for_health(lab, lambda h: h.clean and h.up == h.osds, timeout=300, what="active+clean after heal")
    row("power_on stor2 -> every PG active+clean (bench meanwhile)", time.monotonic() - t1, "s")
    intact = ceph.read_back(lab, manifest)
    row("objects intact after the power cycle", len(manifest["objects"]) - len(intact.missing) - len(intact.mismatched),
        f"/{len(manifest['objects'])}")
    ceph.bench_cleanup(lab)
    ceph.wait_for_health(lab, lambda h: h.clean, timeout=300, what="active+clean after cleanup")


def rate_limited(lab: str, seconds: int, mbit: float, healthy: dict[str, float]) -> None:
    for node in ceph.as_lab(lab).inv.names("ceph-osd"):
        faults.apply(lab, LinkRate(action="link_rate", node=node, network="storage", mbit=mbit))
    try:
        benches(lab, f"storage links {mbit:g} Mbit/s", seconds, healthy)
    finally:
        faults.heal(lab)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lab-file", type=Path, default=ROOT / "scenarios/labs/storage.yaml")
    parser.add_argument("--seconds", type=int, default=10, help="length of each rados bench")
    parser.add_argument("--mbit", type=float, default=100.0, help="link_rate of the storage links")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings labs up)")
    lab = f"cb{os.getpid() % 10000}"
    try:
        row("empty -> HEALTH_OK (storage roles)", bring_up(lab, args.lab_file), "s", TARGETS["health_ok_s"])
        ram(lab, "idle")
        healthy = benches(lab, "healthy", args.seconds)
        ram(lab, "after bench")
        degraded(lab, args.seconds, healthy)
        rate_limited(lab, args.seconds, args.mbit, healthy)
    finally:
        engine.down(lab, progress=lambda _: None)


if __name__ == "__main__":
    main()
