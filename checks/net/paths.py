"""Paths between lab nodes on one network: a loss matrix that names the outlier node, and a
path-MTU sweep that names the hop dropping what an interface claims it can send.

The packets are sent by scapy INSIDE the nodes (``checks/probes/net_paths.py``); the
host only reads kernel state: interface MTUs and drop counters, through netlink in the
lab's own namespaces. Every source node probes its peers at once (a thread each).

>>> m = {("a", "b"): 0.0, ("b", "a"): 0.0, ("a", "c"): 0.31, ("c", "a"): 0.35,
...      ("b", "c"): 0.36, ("c", "b"): 0.33}
>>> outliers(m)
(['c'], [])
>>> outliers({("a", "b"): 0.3, ("b", "a"): 0.3})   # two nodes: the pair, not a node, is to blame
([], [('a', 'b')])
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from checks.probes import run_once
from lab import engine, netns
from lab.errors import LabError
from lab.fabric import find_port
from lab.netns import FABRIC

LOSSY = 0.02  # a pair losing more than this is lossy (a healthy lab loses 0 of 100 probes)
OUTLIER_SHARE = 0.75  # a node is to blame when at least this share of its pairs are lossy
DROP_COUNTERS = ("tx_dropped", "rx_dropped", "rx_length_errors", "rx_over_errors", "tx_errors")
T = TypeVar("T")


def in_node(lab: engine.LabRef, node: str, mode: str, args: dict[str, Any], timeout: float = 120) -> Any:
    """The in-node path probe's answer in ``mode`` (LabError when it failed)."""
    return run_once(lab, node, "net_paths", mode, args, timeout)


def each_source(nodes: list[str], fn: Callable[[str], T]) -> dict[str, T]:
    with ThreadPoolExecutor(max_workers=max(1, min(8, len(nodes)))) as pool:
        return dict(zip(nodes, pool.map(fn, nodes), strict=True))


def loss_matrix(lab: engine.LabRef, addrs: Mapping[str, str], count: int = 100) -> dict[tuple[str, str], Any]:
    """``{(src, dst): {sent, answered, loss, rtt_ms_median, rtt_ms_max}}`` for every ordered
    pair of ``addrs`` (node -> its address on the network)."""
    by_ip = {ip: n for n, ip in addrs.items()}

    def from_node(src: str) -> dict[str, Any]:
        targets = [ip for n, ip in addrs.items() if n != src]
        return in_node(lab, src, "loss", {"targets": targets, "count": count})  # type: ignore[no-any-return]

    matrix = {}
    for src, answers in each_source(list(addrs), from_node).items():
        for ip, a in answers.items():
            matrix[(src, by_ip[ip])] = {**a, "loss": round(1 - a["answered"] / a["sent"], 3)}
    return matrix


def outliers(loss: Mapping[tuple[str, str], float]) -> tuple[list[str], list[tuple[str, str]]]:
    """The nodes to blame for the lossy pairs, and the lossy pairs no single node explains.

    Greedy: the node in most lossy pairs is blamed when most of its pairs are lossy and it
    has at least two peers (with one peer, the link between them is all one can say);
    its pairs are then explained, and the next node is looked at."""
    lossy = {tuple(sorted(p)) for p, v in loss.items() if v > LOSSY}
    nodes = {n for p in loss for n in p}
    peers = len(nodes) - 1
    blamed: list[str] = []
    while lossy and len(nodes) >= 3:
        hits = {n: sum(1 for p in lossy if n in p) for n in sorted(nodes - set(blamed))}
        node = max(hits, key=lambda n: hits[n])
        if hits[node] / peers < OUTLIER_SHARE:
            break
        blamed.append(node)
        lossy = {p for p in lossy if node not in p}
    return blamed, sorted(lossy)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Hop:
    """One interface a packet crosses between two nodes, with what the kernel says of it."""

    where: str  # a node name, or "fabric" (the lab's switch)
    ifname: str
    mtu: int
    drops: int  # the sum of its drop/error counters


def hops(lab: str, src: str, dst: str, network: str) -> list[Hop]:
    """src's interface, its fabric port, the fabric port of dst, dst's interface."""
    a, b = find_port(lab, src, network), find_port(lab, dst, network)
    return [_hop(lab, src, a.ifname), _hop(lab, FABRIC, a.name), _hop(lab, FABRIC, b.name), _hop(lab, dst, b.ifname)]


def _hop(lab: str, ns: str, ifname: str) -> Hop:
    with netns.rtnl(lab, ns) as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            raise LabError(f"{ns} has no interface {ifname} in lab '{lab}'")
        link = ipr.get_links(found[0])[0]
    stats = link.get("IFLA_STATS64") or {}
    return Hop("fabric" if ns == FABRIC else ns, ifname, int(link.get("IFLA_MTU")),
               sum(int(stats.get(c, 0)) for c in DROP_COUNTERS))


@dataclass(frozen=True)
class Drop:
    node: str  # the node whose interface drops ("" when it is the fabric's or unknown)
    text: str


def dropping_hop(lab: str, src: str, dst: str, network: str, dst_ip: str, size: int, count: int = 20) -> Drop:
    """Where ``count`` DF packets of ``size`` bytes from src to dst die: the hop whose drop
    counters rose by most of them, else the first hop whose MTU is below ``size`` (a
    bridge's egress drop counts nowhere: the kernel frees the frame silently)."""
    before = hops(lab, src, dst, network)
    in_node(lab, src, "burst", {"target": dst_ip, "size": size, "count": count})
    after = hops(lab, src, dst, network)
    for old, new in zip(before, after, strict=True):
        if new.drops - old.drops >= count // 2:
            return Drop(_node(new), f"{new.where} {new.ifname} (MTU {new.mtu}): {new.drops - old.drops} of "
                        f"{count} counted as dropped")
    for hop in after[1:]:
        if hop.mtu < size:
            return Drop(_node(hop), f"{hop.where} {hop.ifname} (MTU {hop.mtu}): dropped silently, no counter")
    return Drop("", "no hop on the lab's side counted it (lost beyond the fabric, or not lost)")


def _node(hop: Hop) -> str:
    return "" if hop.where == "fabric" else hop.where


def mtu_sweep(lab: engine.LabRef, addrs: Mapping[str, str]) -> dict[tuple[str, str], Any]:
    """``{(src, dst): {dev, claimed, path_mtu, probes, frag_needed}}`` for every ordered pair."""
    by_ip = {ip: n for n, ip in addrs.items()}

    def from_node(src: str) -> dict[str, Any]:
        targets = [ip for n, ip in addrs.items() if n != src]
        return in_node(lab, src, "mtu", {"targets": targets})  # type: ignore[no-any-return]

    return {(src, by_ip[ip]): a for src, answers in each_source(list(addrs), from_node).items()
            for ip, a in answers.items()}
