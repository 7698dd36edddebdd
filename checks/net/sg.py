"""Security groups as a matrix: what the declared groups should let through, against what
a SYN or an echo from every source to every instance actually gets.

The intent is computed from the scenario's ``cloud.tenant`` the way Neutron applies it:
an ingress rule matches on protocol, port range and remote (a CIDR holding the source
address, or a group holding the source's port); Neutron adds to every project a
``default`` group that lets in everything from ports in ``default``, and gives every
group an allow-all egress rule (so egress is not probed); replies pass (conntrack).

Sources are every instance (from its namespace, to the other instances' fixed IPs) and
the client node on the public network (to every floating IP: DNAT rewrites only the
destination, so the instance sees the client's own address). The probes run INSIDE
them (``checks/probes/sg_scan.py``), one scanner per source, all at once.

>>> from deployer.model import Rule
>>> web = Endpoint("cli1", "cli1", "", "10.50.2.1", ())
>>> allows([Rule(protocol="tcp", port_min=80, remote_cidr="0.0.0.0/0")], web, "tcp", 80)
True
>>> allows([Rule(protocol="tcp", port_min=80, remote_cidr="0.0.0.0/0")], web, "tcp", 8080)
False
>>> allows(NEUTRON_DEFAULT, Endpoint("vm2", "cmp2", "inst-vm2", "192.168.10.7", ("default",)), "tcp", 8080)
True
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

from checks.probes import run_once
from deployer.model import Rule, Tenant
from lab import engine

NEUTRON_DEFAULT = [Rule(protocol="any", remote_group="default")]  # what Neutron puts in every 'default' group
PASSED = ("open", "closed", "answered")  # the packet reached the instance (RST: let through, nothing listens)


@dataclass(frozen=True)
class Endpoint:
    """Where probes start: an instance (its namespace on its compute) or a lab node."""

    name: str
    node: str
    netns: str  # "" for the lab node itself
    address: str  # the source address destinations see
    groups: tuple[str, ...]  # the security groups of its port; () for a lab node


@dataclass(frozen=True)
class Probe:
    source: str
    target: str  # the instance probed
    address: str  # the address probed: its fixed IP, or its floating IP from the client
    proto: str  # tcp or icmp
    port: int  # 0 for icmp
    allowed: bool  # what the declared groups say


def group_rules(tenant: Tenant) -> dict[str, list[Rule]]:
    """Every group's ingress rules, Neutron's own 'default' rules included."""
    rules: dict[str, list[Rule]] = {"default": list(NEUTRON_DEFAULT)}
    for group in tenant.security_groups:
        rules.setdefault(group.name, []).extend(group.rules)
    return rules


def allows(rules: list[Rule], source: Endpoint, proto: str, port: int) -> bool:
    return any(_matches(rule, source, proto, port) for rule in rules)


def _matches(rule: Rule, source: Endpoint, proto: str, port: int) -> bool:
    if rule.direction != "ingress" or rule.protocol not in ("any", proto):
        return False
    if proto != "icmp" and rule.port_min is not None and not rule.port_min <= port <= (rule.port_max or rule.port_min):
        return False
    if rule.remote_group is not None:
        return rule.remote_group in source.groups
    return rule.remote_cidr is None or ip_address(source.address) in ip_network(str(rule.remote_cidr))


def ports_that_matter(rules: list[Rule], listening: tuple[int, ...]) -> list[int]:
    """The ports the instance listens on, and each TCP rule's range ends and the ports just
    outside them (an off-by-one range is the classic mistake)."""
    ports = set(listening)
    for rule in rules:
        if rule.protocol in ("tcp", "any") and rule.port_min is not None:
            high = rule.port_max or rule.port_min
            ports |= {p for p in (rule.port_min - 1, rule.port_min, high, high + 1) if 1 <= p <= 65535}
    return sorted(ports)


@dataclass(frozen=True)
class Target:
    """What is probed: an instance or a load balancer's VIP."""

    name: str
    address: str  # fixed IP
    floating: str | None  # floating IP, the client's way in
    groups: tuple[str, ...]  # its port's security groups, as declared
    listening: tuple[int, ...]  # the TCP ports something serves on


def targets(tenant: Tenant, instances: Mapping[str, dict[str, Any]], balancers: Mapping[str, dict[str, Any]],
            served: tuple[int, ...]) -> list[Target]:
    """Every instance (serving ``served``) and every load balancer VIP (serving its port),
    with the groups the scenario declares for it."""
    groups = {i.name: tuple(i.security_groups) for i in tenant.instances}
    out = [Target(n, i["ip"], i.get("fip"), groups.get(n, ("default",)), served) for n, i in instances.items()]
    for lb in tenant.load_balancers:
        if lb.name in balancers:
            vip = balancers[lb.name]
            out.append(Target(lb.name, vip["ip"], vip.get("fip"), tuple(lb.security_groups), (lb.port,)))
    return sorted(out, key=lambda t: t.name)


def matrix(tenant: Tenant, sources: list[Endpoint], targets: list[Target]) -> list[Probe]:
    """Every (source, target, protocol, port) that matters, with the declared intent."""
    rules = group_rules(tenant)
    probes = []
    for target in targets:
        target_rules = [r for g in target.groups for r in rules.get(g, [])]
        for source in sources:
            if source.name == target.name:
                continue
            address = target.address if source.groups else target.floating  # a lab node reaches floating IPs only
            if not address:
                continue
            probes.append(Probe(source.name, target.name, address, "icmp", 0, allows(target_rules, source, "icmp", 0)))
            probes += [Probe(source.name, target.name, address, "tcp", port, allows(target_rules, source, "tcp", port))
                       for port in ports_that_matter(target_rules, target.listening)]
    return probes


def scan(lab: engine.LabRef, sources: list[Endpoint], probes: list[Probe]) -> dict[Probe, tuple[str, int]]:
    """Each source's probes from inside it, every source at once: probe -> (outcome, code)."""
    by_name = {s.name: s for s in sources}
    mine = {name: [p for p in probes if p.source == name] for name in {p.source for p in probes}}

    def one(name: str) -> dict[Probe, tuple[str, int]]:
        source, todo = by_name[name], mine[name]
        out = run_once(lab, source.node, "sg_scan", "scan",
                       {"probes": [[p.address, p.proto, p.port] for p in todo]}, 60, netns=source.netns)
        return {p: (r[3], r[4]) for p, r in zip(todo, out["results"], strict=True)}

    with ThreadPoolExecutor(max_workers=max(1, len(mine))) as pool:
        return {p: o for part in pool.map(one, sorted(mine)) for p, o in part.items()}


def mismatches(observed: Mapping[Probe, tuple[str, int]]) -> list[tuple[Probe, str]]:
    """The probes whose outcome disagrees with the intent, with the outcome seen."""
    return [(p, outcome) for p, (outcome, _) in observed.items() if (outcome in PASSED) != p.allowed]


def describe(probe: Probe, outcome: str, observed: Mapping[Probe, tuple[str, int]]) -> str:
    what = "icmp echo" if probe.proto == "icmp" else f"tcp/{probe.port}"
    line = (f"{probe.source} -> {probe.target} ({probe.address}) {what}: declared "
            f"{'allowed' if probe.allowed else 'dropped'}, got {outcome}")
    others = [o for p, (o, _) in observed.items() if p.target == probe.target and p.proto == probe.proto
              and p.port == probe.port and p.source != probe.source]
    if probe.allowed and any(o in PASSED for o in others):  # the Liberty VIP: health checks pass, clients don't
        line += " (other sources get through: open to some, not to this one)"
    return line
