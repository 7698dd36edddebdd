"""Packet checks of the lab's tenant overlay network (VTEP to VTEP): a full-mesh loss
matrix that names the node everyone loses packets to, and a path-MTU sweep that names
the hop dropping what an interface claims it can send (the Liberty report's "one packet
always missing"). scapy sends the packets inside the nodes (``checks/net/paths.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

NETWORK = "overlay"  # the network computes and network nodes carry VXLAN on (deployer.catalog.ROLES)


def overlay_addresses(lab: Lab) -> dict[str, str]:
    """Running nodes on the overlay network -> their address there."""
    states = lab.opened.node_states() if lab.opened else {}
    return {n: h.ip(NETWORK) for n, h in lab.inv.hosts.items()
            if NETWORK in h.addresses and states.get(n, "running") == "running"}


@check("overlay_loss", "no packet loss between any two nodes on the overlay network (names the outlier)",
       roles=("compute",), once=True)
def overlay_loss(lab: Lab, v: Verdict) -> None:
    """100 echoes per ordered pair, all pairs at once; a node in most lossy pairs is named."""
    from checks.net.paths import LOSSY, loss_matrix, outliers

    addrs = overlay_addresses(lab)
    matrix = loss_matrix(lab.opened or lab.name, addrs)
    loss = {pair: m["loss"] for pair, m in matrix.items()}
    blamed, unexplained = outliers(loss)
    rtts = [m["rtt_ms_median"] for m in matrix.values() if m["rtt_ms_median"] is not None]
    v.figures.update(pairs=len(matrix), worst_loss=max(loss.values(), default=0.0),
                     rtt_ms_median_worst=max(rtts, default=None))
    for node in blamed:
        lost = {f"{a}->{b}": loss[(a, b)] for a, b in sorted(loss) if node in (a, b) and loss[(a, b)] > LOSSY}
        v.fail(f"{node} loses packets on the {NETWORK} network with every peer: {_pct(lost)}", blame=node)
    for a, b in unexplained:
        v.fail(f"{a} <-> {b} loses packets on the {NETWORK} network "
               f"({a}->{b} {loss.get((a, b), 0):.0%}, {b}->{a} {loss.get((b, a), 0):.0%})")


@check("overlay_path_mtu", "every overlay path carries the MTU its interfaces claim (names the dropping hop)",
       roles=("compute",), once=True)
def overlay_path_mtu(lab: Lab, v: Verdict) -> None:
    """Largest DF echo per ordered pair vs the sender's interface MTU; on a shortfall the
    hop that drops is found from the kernel's counters and MTUs."""
    from checks.net.paths import dropping_hop, mtu_sweep

    addrs = overlay_addresses(lab)
    sweep = mtu_sweep(lab.opened or lab.name, addrs)
    short = {pair: r for pair, r in sweep.items() if r["path_mtu"] != r["claimed"]}
    v.figures.update(pairs=len(sweep), probes=sum(r["probes"] for r in sweep.values()),
                     short_paths=len(short))
    for (src, dst), r in sorted(short.items()):
        if r["path_mtu"] is None:
            v.fail(f"{src} -> {dst}: no answer even at the minimum size (loss, not MTU)")
            continue
        hop = dropping_hop(lab.name, src, dst, NETWORK, addrs[dst], r["claimed"])
        frag = r["frag_needed"]
        told = f"; ICMP frag-needed from {frag['from']} (next hop MTU {frag['next_hop_mtu']})" \
            if frag else "; no ICMP frag-needed: a silent drop"
        v.fail(f"{src} -> {dst}: {r['dev']} claims MTU {r['claimed']}, the path carries {r['path_mtu']}; "
               f"dropped at {hop.text}{told}", blame=hop.node or src)


def _pct(lost: dict[str, Any]) -> str:
    return ", ".join(f"{k} {val:.0%}" for k, val in lost.items())
