"""Packet-probe figures (no asserts): on a lab of 5 computes on an overlay network (no
deploy), the loss matrix's time and which loss rates on one node's link it tells apart
(named or not, 3 runs each), and the path-MTU sweep's time per pair, healthy and with one
interface claiming 9000 on a 1500 path (issue target: <= 2 s per pair); the security-group
scanner's probes per second against nmap's SYN scan of the same ports from the same node
(issue target: >= 500/s), with half the ports dropped by an nft rule on the target.

    python -m tests.bench.bench_net [--runs 3]
"""

from __future__ import annotations

import argparse
import re
import time
import uuid

from checks.net.paths import dropping_hop, loss_matrix, mtu_sweep, outliers
from checks.probes import run_once
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


SCAN_PORTS = 1000
DROP_HALF = """table inet stacklab_bench {
  chain input {
    type filter hook input priority 0;
    tcp dport 1-500 drop
  }
}"""


def scan_figures(lab: str, addrs: dict[str, str]) -> None:
    """cmp1 scans tcp/1-1000 on cmp2 (1-500 dropped, the rest closed): the scanner, then
    nmap -sS on the same ports; both should find 500 dropped and 500 closed."""
    print(f"\nsecurity-group scanner vs nmap: cmp1 -> cmp2, tcp/1-{SCAN_PORTS}, ports 1-500 dropped")
    target = addrs["cmp2"]
    rule = engine.run(lab, "cmp2", ["nft", "-f", "-"], input=DROP_HALF)
    if rule.returncode != 0:
        raise SystemExit(f"bench: the drop rule did not load on cmp2: {rule.stderr.strip()}")
    try:
        probes = [[target, "tcp", p] for p in range(1, SCAN_PORTS + 1)]
        got, took = timed(run_once, lab, "cmp1", "sg_scan", "scan", {"probes": probes}, 120)
        silent = sum(r[3] == "silent" for r in got["results"])
        nmap, nmap_took = timed(engine.run, lab, "cmp1", ["nmap", "-n", "-Pn", "-sS", "-T4", "-p", f"1-{SCAN_PORTS}",
                                                          "-oG", "-", target])
    finally:
        engine.run(lab, "cmp2", ["nft", "delete", "table", "inet", "stacklab_bench"])
    filtered, nmap_own = nmap_filtered(nmap.stdout), nmap_seconds(nmap.stdout)
    row(f"scanner: {silent} silent / {SCAN_PORTS - silent} answered; its own time, in node", got["seconds"], "s")
    row("scanner: probes per second, its own time", SCAN_PORTS / got["seconds"], "/s", 500)
    row(f"nmap -sS -T4: {filtered} filtered; its own time ('scanned in')", nmap_own, "s")
    row("nmap: probes per second, its own time", SCAN_PORTS / nmap_own, "/s")
    row("scanner, from the host (python + scapy start included)", took, "s")
    row("nmap, from the host", nmap_took, "s")
    print(f"  -> scanner : nmap = {nmap_own / got['seconds']:.2f} (probes per second, own times); "
          f"{nmap_took / took:.2f} (from the host)")


def nmap_filtered(grepable: str) -> int:
    """How many ports nmap's grepable output calls filtered (listed, or summed as 'Ignored')."""
    line = next((x for x in grepable.splitlines() if "Ports:" in x or "Ignored State" in x), "")
    ignored = re.search(r"Ignored State: filtered \((\d+)\)", line)
    return (int(ignored.group(1)) if ignored else 0) + line.count("/filtered/")


def nmap_seconds(grepable: str) -> float:
    """nmap's own elapsed time ('# Nmap done at ... scanned in 2.51 seconds')."""
    found = re.search(r"scanned in ([\d.]+) seconds", grepable)
    return float(found.group(1)) if found else float("nan")


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
        scan_figures(lab, addrs)
    finally:
        engine.down(lab, progress=lambda _: None)


if __name__ == "__main__":
    main()
