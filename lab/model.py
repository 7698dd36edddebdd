"""The topology of a lab: networks, node groups, per-link overrides, VIPs and the address plan.

The lab layer knows nothing of OpenStack: a node's ``roles`` are opaque labels here
and the deployer decides what they mean.

>>> topo = Topology.model_validate({
...     "networks": {"mgmt": {"cidr": "10.10.0.0/24"}},
...     "nodes": {"ctl": {"count": 2, "networks": ["mgmt"], "roles": ["controller"]}}})
>>> [n.name for n in topo.expand()]
['ctl1', 'ctl2']
>>> str(address_plan(topo)["ctl2"]["mgmt"])
'10.10.0.11/24'
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pydantic import Field

from lab.ifnames import IFNAMSIZ, bridge_name, node_ifname, port_name
from lab.modelbase import GroupName, IPv4Addr, IPv4Net, Name, NetName, StrictModel
from lab.problems import Problem, allowed

MAX_NODES = 64


# The role whose nodes serve DHCP on a ``dhcp: true`` network: they keep the address the
# fabric gives them (a server cannot lease to itself); every other node there asks it.
DHCP_SERVER_ROLE = "infra"


class Network(StrictModel):
    """One L2 segment of the lab: a bridge in the lab's fabric namespace."""

    cidr: IPv4Net
    mtu: int = Field(1500, ge=576, le=9000)
    vlan: int | None = Field(None, ge=1, le=4094, description="802.1Q tag on the fabric")
    first_host: int = Field(10, ge=1, description="host index of the first node address (10 -> x.y.z.10)")
    dhcp: bool = Field(False, description="nodes take their address here by DHCP (a static lease by MAC of their "
                       "planned address) from the node with role 'infra'; the fabric sets none")
    summary: str = ""


class NodeGroup(StrictModel):
    """``count`` identical nodes named after the group: ``ctl`` -> ctl1, ctl2, ..."""

    count: int = Field(1, ge=1, le=MAX_NODES)
    roles: list[str] = Field(default_factory=list)
    networks: list[NetName] = Field(min_length=1)
    memory_mib: int | None = Field(None, ge=64, le=65536)
    cpus: float | None = Field(None, ge=0.05, le=64, description="CPU cap in cores (0.5 = half of one core)")
    rate_mbit: float | None = Field(None, gt=0, le=100000, description="standing rate of every link of "
                                    "these nodes, Mbit/s each way (a 100 Mbit NIC); a link entry overrides it")


class Link(StrictModel):
    """Override for one node's attachment to one network (static address, interface MTU,
    standing rate: part of the lab, so ``heal: all`` keeps it; or no address at all: an
    interface a service takes over, like the flat provider network's on a Neutron network
    node, whose agent moves any address onto its bridge)."""

    node: str
    network: str
    address: IPv4Addr | None = None
    unaddressed: bool = Field(False, description="attach the node without an address on this network")
    mtu: int | None = Field(None, ge=576, le=9000)
    rate_mbit: float | None = Field(None, gt=0, le=100000, description="standing rate, Mbit/s each way")


class Vip(StrictModel):
    """A floating address that a node (keepalived) may claim on a network."""

    network: str
    address: IPv4Addr


class Topology(StrictModel):
    networks: dict[NetName, Network] = Field(min_length=1)
    nodes: dict[GroupName, NodeGroup] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    vips: dict[Name, Vip] = Field(default_factory=dict)

    def expand(self) -> list[Node]:
        """Every node, in file order, groups expanded."""
        return [
            Node(f"{group}{i}", group, tuple(spec.roles), tuple(spec.networks), spec.memory_mib, spec.cpus)
            for group, spec in self.nodes.items()
            for i in range(1, spec.count + 1)
        ]

    def node_names(self) -> list[str]:
        return [n.name for n in self.expand()]

    def roles(self) -> set[str]:
        return {r for g in self.nodes.values() for r in g.roles}

    def rates(self) -> dict[tuple[str, str], float]:
        """(node, network) -> standing rate in Mbit/s: the group's, a link entry's wins.

        >>> Topology.model_validate({"networks": {"mgmt": {"cidr": "10.1.0.0/24"}}, "nodes": {
        ...     "pi": {"count": 2, "networks": ["mgmt"], "rate_mbit": 100}},
        ...     "links": [{"node": "pi2", "network": "mgmt", "rate_mbit": 10}]}).rates()
        {('pi1', 'mgmt'): 100.0, ('pi2', 'mgmt'): 10.0}
        """
        rates = {(n.name, net): self.nodes[n.group].rate_mbit for n in self.expand() for net in n.networks}
        rates.update({(ln.node, ln.network): ln.rate_mbit for ln in self.links if ln.rate_mbit})
        return {k: float(v) for k, v in rates.items() if v}


@dataclass(frozen=True)
class Node:
    name: str
    group: str
    roles: tuple[str, ...]
    networks: tuple[str, ...]
    memory_mib: int | None = None
    cpus: float | None = None

    def ifname(self, network: str) -> str:
        """Node-side interface name: stable and meaningful (``mgmt0``)."""
        return node_ifname(network)


def address_plan(topo: Topology) -> dict[str, dict[str, ipaddress.IPv4Interface]]:
    """Node -> network -> address. Static link addresses win; the rest count up from
    ``first_host``, skipping static and VIP addresses. Raises ValueError when a network
    runs out (``check_topology`` reports that as a problem first)."""
    static = {(ln.node, ln.network): ln.address for ln in topo.links if ln.address}
    bare = {(ln.node, ln.network) for ln in topo.links if ln.unaddressed}
    plan: dict[str, dict[str, ipaddress.IPv4Interface]] = {}
    for net_name, net in topo.networks.items():
        taken = {a for (_, n), a in static.items() if n == net_name}
        taken |= {v.address for v in topo.vips.values() if v.network == net_name}
        hosts = (h for i, h in enumerate(net.cidr.hosts(), start=1) if i >= net.first_host and h not in taken)
        for node in topo.expand():
            plan.setdefault(node.name, {})
            if net_name not in node.networks or (node.name, net_name) in bare:
                continue
            addr = static.get((node.name, net_name)) or next(hosts, None)
            if addr is None:
                raise ValueError(f"network '{net_name}' ({net.cidr}) has no free address left for {node.name}")
            plan.setdefault(node.name, {})[net_name] = ipaddress.IPv4Interface(f"{addr}/{net.cidr.prefixlen}")
    return plan


def check_topology(topo: Topology) -> list[Problem]:
    """Semantic problems the schema cannot see: references, overlaps, address clashes."""
    problems = _check_networks(topo) + _check_groups(topo) + _check_links(topo) + _check_vips(topo)
    problems += _check_kernel_names(topo)
    if not problems:
        try:
            address_plan(topo)
        except ValueError as e:
            problems.append(Problem(("nodes",), str(e)))
    return problems


def _check_networks(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for name, net in topo.networks.items():
        for other, cidr in seen:
            if net.cidr.overlaps(cidr):
                problems.append(Problem(("networks", name, "cidr"), f"{net.cidr} overlaps network '{other}' ({cidr})"))
        seen.append((name, net.cidr))
        if net.first_host > net.cidr.num_addresses - 2:
            problems.append(Problem(("networks", name, "first_host"), f"{net.first_host} is outside {net.cidr}"))
    return problems


def _check_groups(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    total = sum(g.count for g in topo.nodes.values())
    if total > MAX_NODES:
        problems.append(Problem(("nodes",), f"{total} nodes in all; a lab holds at most {MAX_NODES}"))
    for group, spec in topo.nodes.items():
        for i, net in enumerate(spec.networks):
            if net not in topo.networks:
                problems.append(
                    Problem(("nodes", group, "networks", i), f"unknown network '{net}'; {allowed(topo.networks)}")
                )
            elif spec.networks.index(net) != i:
                problems.append(Problem(("nodes", group, "networks", i), f"network '{net}' is listed twice"))
        for i, role in enumerate(spec.roles):
            if spec.roles.index(role) != i:
                problems.append(Problem(("nodes", group, "roles", i), f"role '{role}' is listed twice"))
    return problems


def _check_links(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    nodes = {n.name: n for n in topo.expand()}
    seen: set[tuple[str, str]] = set()
    for i, link in enumerate(topo.links):
        node = nodes.get(link.node)
        if node is None:
            problems.append(Problem(("links", i, "node"), f"unknown node '{link.node}'; {allowed(nodes)}"))
        elif link.network not in node.networks:
            problems.append(
                Problem(("links", i, "network"), f"{link.node} is not on network '{link.network}'; "
                        f"{allowed(node.networks)}")
            )
        elif (link.node, link.network) in seen:
            problems.append(Problem(("links", i), f"a second link entry for {link.node} on {link.network}"))
        if link.unaddressed and link.address is not None:
            problems.append(Problem(("links", i, "unaddressed"), "set address or unaddressed, not both"))
        seen.add((link.node, link.network))
        net = topo.networks.get(link.network)
        if link.address is not None and net is not None:
            problems += _address_problems(("links", i, "address"), link.address, link.network, net)
    return problems


def _address_problems(path: tuple[str | int, ...], addr: ipaddress.IPv4Address, net_name: str,
                      net: Network) -> list[Problem]:
    if addr not in net.cidr:
        return [Problem(path, f"{addr} is outside network '{net_name}' ({net.cidr})")]
    if addr in (net.cidr.network_address, net.cidr.broadcast_address):
        return [Problem(path, f"{addr} is the network or broadcast address of {net.cidr}")]
    return []


def _check_vips(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    statics = {ln.address: ln.node for ln in topo.links if ln.address}
    used: dict[ipaddress.IPv4Address, str] = {}
    for name, vip in topo.vips.items():
        path = ("vips", name)
        net = topo.networks.get(vip.network)
        if net is None:
            problems.append(Problem(path + ("network",), f"unknown network '{vip.network}'; {allowed(topo.networks)}"))
            continue
        problems += _address_problems(path + ("address",), vip.address, vip.network, net)
        if vip.address in statics:
            owner = statics[vip.address]
            problems.append(Problem(path + ("address",), f"{vip.address} is already node {owner}'s address"))
        if vip.address in used:
            problems.append(Problem(path + ("address",), f"{vip.address} is already VIP '{used[vip.address]}'"))
        used[vip.address] = name
    return problems


def _check_kernel_names(topo: Topology) -> list[Problem]:
    """Interface names in the lab's fabric must fit the kernel and be distinct, or the
    lab would fail half-built; say so while validating, at the group that causes it."""
    problems: list[Problem] = []
    owner = {bridge_name(net): f"the bridge of network '{net}'" for net in topo.networks}
    for node in topo.expand():
        for net in dict.fromkeys(node.networks):  # a network listed twice is reported elsewhere
            port, what = port_name(node.name, net), f"{node.name} on {net}"
            if len(port) > IFNAMSIZ or len(node.ifname(net)) > IFNAMSIZ:
                problems.append(Problem(("nodes", node.group), f"interface names of {what} exceed "
                                        f"{IFNAMSIZ} characters"))  # pragma: no cover - names are bounded
            elif port in owner:
                problems.append(Problem(("nodes", node.group), f"fabric interface '{port}' of {what} "
                                        f"collides with {owner[port]}; rename the group"))
            owner.setdefault(port, what)
    return problems
