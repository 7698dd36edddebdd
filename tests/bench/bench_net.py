"""Packet-probe figures (no asserts): on a lab of 5 computes on an overlay network (no
deploy), the loss matrix's time and which loss rates on one node's link it tells apart
(named or not, 3 runs each), and the path-MTU sweep's time per pair, healthy and with one
interface claiming 9000 on a 1500 path (issue target: <= 2 s per pair).

    python -m tests.bench.bench_net [--runs 3]
"""

from __future__ import annotations

import argparse
import time
import uuid

from checks.net.paths import dropping_hop, loss_matrix, mtu_sweep, outliers
from deployer.catalog import image_packages
from lab import engine, faults
from lab.faultspec import LinkLoss, SetMtu
from lab.model import Topology
from tests.bench.bench_lab import row

TOPOLOGY = {"networks": {"overlay": {"cidr": "10.78.1.0/24"}},
            "nodes": {"cmp": {"count": 5, "roles": ["compute"], "networks": ["overlay"]}}}
RATES = (0.5, 1, 2, 5, 10, 20)  # percent, on cmp5's link (each way)


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    out = fn(*args)
    return out, time.monotonic() - start


def loss_figures(lab: str, addrs: dict[str, str], runs: int) -> None:
    print("\nloss matrix, 5 nodes, 100 echoes per ordered pair (20 pairs)")
    for percent in (0, *RATES):
        named, seconds = 0, []
        for _ in range(runs):
            if percent:
                faults.apply(lab, LinkLoss(action="link_loss", node="cmp5", network="overlay", percent=percent))
            try:
                matrix, took = timed(loss_matrix, lab, addrs)
            finally:
                faults.heal(lab)
            seconds.append(took)
            blamed, pairs = outliers({p: m["loss"] for p, m in matrix.items()})
            named += blamed == ["cmp5"] if percent else blamed == [] and pairs == []
        what = "cmp5 named (and only it)" if percent else "nobody named (healthy)"
        print(f"  {percent:>4g} % loss: {what} in {named}/{runs} runs, {max(seconds):.2f} s per matrix (worst)")


def mtu_figures(lab: str, addrs: dict[str, str]) -> None:
    print("\npath-MTU sweep")
    sweep, took = timed(mtu_sweep, lab, addrs)
    row("healthy: 20 pairs, all sources at once", took, "s")
    row("healthy: probes per pair", sum(r["probes"] for r in sweep.values()) / len(sweep), "")
    row("healthy: search per pair, in node (worst)", max(r["seconds"] for r in sweep.values()), "s", 2.0)
    faults.apply(lab, SetMtu(action="set_mtu", node="cmp2", network="overlay", mtu=9000))
    try:
        pair = {n: addrs[n] for n in ("cmp1", "cmp2")}
        short, took = timed(mtu_sweep, lab, pair)
        drop, found = timed(dropping_hop, lab, "cmp2", "cmp1", "overlay", addrs["cmp1"], 9000)
    finally:
        faults.heal(lab)
    r = short[("cmp2", "cmp1")]
    row(f"9000 claimed, {r['path_mtu']} carried: search, in node", r["seconds"], "s", 2.0)
    row("  the pair's sweep from the host (+ python/scapy start)", took, "s")
    row("  probes for the short direction", r["probes"], "")
    row("  finding the dropping hop", found, "s")
    print(f"  -> {drop.text}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="matrices per loss rate (default: 3)")
    args = parser.parse_args()
    lab = f"bn{uuid.uuid4().hex[:6]}"
    engine.up(lab, Topology.model_validate(TOPOLOGY), packages=image_packages(), progress=lambda _: None)
    try:
        st = engine.require(lab)
        addrs = {n: info["addresses"]["overlay"].split("/")[0] for n, info in st.nodes.items()}
        loss_figures(lab, addrs, args.runs)
        mtu_figures(lab, addrs)
    finally:
        engine.down(lab, progress=lambda _: None)


if __name__ == "__main__":
    main()
