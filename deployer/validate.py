"""Semantic checks of a cloud against the lab it will be deployed on.

Paths are rooted at the document (``topology.…`` / ``cloud.…``) because a cloud
problem is often the topology's fault (a compute node without an overlay network).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Protocol

from deployer.catalog import ROLES
from deployer.model import Cloud, Tenant
from lab.model import DHCP_SERVER_ROLE, Topology
from lab.problems import Path, Problem, allowed


def check_cloud(topo: Topology, cloud: Cloud) -> list[Problem]:
    problems = []
    t = cloud.tenant
    if cloud.neutron is False and (t.networks or t.instances or t.routers or t.floating_ips or t.load_balancers):
        problems.append(Problem(("cloud", "neutron"), "tenant resources need Neutron: remove 'neutron: false' "
                                "or the tenant resources"))
    return (problems + _check_roles(topo) + _check_control_plane(topo, cloud) + _check_ceph(topo, cloud)
            + _check_dhcp(topo) + _check_tenant(topo, cloud.tenant))


def nodes_with_role(topo: Topology, role: str) -> list[str]:
    return [n.name for n in topo.expand() if role in n.roles]


def _check_roles(topo: Topology) -> list[Problem]:
    problems: list[Problem] = []
    for group, spec in topo.nodes.items():
        for i, role in enumerate(spec.roles):
            path: Path = ("topology", "nodes", group, "roles", i)
            if role not in ROLES:
                problems.append(Problem(path, f"unknown role '{role}'; {allowed(ROLES)}"))
                continue
            for net in ROLES[role].networks:
                if net not in spec.networks:
                    problems.append(Problem(("topology", "nodes", group, "networks"),
                                            f"role '{role}' needs network '{net}', which group '{group}' lacks"))
    return problems


def _check_dhcp(topo: Topology) -> list[Problem]:
    """A ``dhcp: true`` network needs exactly one node to serve it (role infra), on it."""
    problems: list[Problem] = []
    for name, net in topo.networks.items():
        servers = [n.name for n in topo.expand() if DHCP_SERVER_ROLE in n.roles and name in n.networks]
        if net.dhcp and len(servers) != 1:
            problems.append(Problem(("topology", "networks", name, "dhcp"),
                                    f"a DHCP network needs one node with role '{DHCP_SERVER_ROLE}' on it to serve "
                                    f"its leases; found {len(servers)}{': ' + ', '.join(servers) if servers else ''}"))
    return problems


def _check_control_plane(topo: Topology, cloud: Cloud) -> list[Problem]:
    problems: list[Problem] = []
    controllers = nodes_with_role(topo, "controller")
    if not controllers:
        problems.append(Problem(("topology", "nodes"), "no node has role 'controller'; a cloud needs at least one"))
    vip = topo.vips.get(cloud.vip)
    if vip is None:
        known = allowed(topo.vips) if topo.vips else "the topology defines no vips"
        problems.append(Problem(("cloud", "vip"), f"no topology VIP named '{cloud.vip}'; {known}"))
    elif vip.network != "mgmt":
        problems.append(Problem(("topology", "vips", cloud.vip, "network"),
                                f"the API VIP must be on network 'mgmt', not '{vip.network}'"))
    ka = cloud.keepalived
    if ka.vrrp_version == 2 and ka.advert_int != int(ka.advert_int):
        problems.append(Problem(("cloud", "keepalived", "advert_int"),
                                f"VRRPv2 advertises in whole seconds, got {ka.advert_int}; "
                                "set vrrp_version: 3 for sub-second intervals"))
    if len(controllers) == 2 and not nodes_with_role(topo, "galera-arbitrator"):
        problems.append(Problem(("topology", "nodes"), "2 controllers and no 'galera-arbitrator' node: losing "
                                "either controller leaves Galera without quorum", warning=True))
    return problems


def _check_ceph(topo: Topology, cloud: Cloud) -> list[Problem]:
    osd_nodes = nodes_with_role(topo, "ceph-osd")
    if not osd_nodes:
        return []
    problems: list[Problem] = []
    if not nodes_with_role(topo, "ceph-mon"):
        problems.append(Problem(("topology", "nodes"), "nodes have role 'ceph-osd' but none has 'ceph-mon'"))
    ceph = cloud.ceph
    if ceph.min_size > ceph.pool_size:
        problems.append(Problem(("cloud", "ceph", "min_size"),
                                f"min_size {ceph.min_size} is larger than pool_size {ceph.pool_size}"))
    if ceph.pool_size > len(osd_nodes):
        problems.append(Problem(("cloud", "ceph", "pool_size"),
                                f"pool_size {ceph.pool_size} needs that many OSD hosts; the lab has {len(osd_nodes)}"))
    return problems


class _Named(Protocol):
    @property
    def name(self) -> str: ...


def _unique(items: Sequence[_Named], path: Path, what: str) -> tuple[list[Problem], set[str]]:
    problems, names = [], set()
    for i, item in enumerate(items):
        name = item.name
        if name in names:
            problems.append(Problem(path + (i, "name"), f"{what} '{name}' is defined twice"))
        names.add(name)
    return problems, names


def _ref(value: str, known: set[str], path: Path, what: str) -> list[Problem]:
    if value in known:
        return []
    return [Problem(path, f"unknown {what} '{value}'; " + (allowed(known) if known else f"no {what} is defined"))]


def _check_tenant(topo: Topology, tenant: Tenant) -> list[Problem]:
    base: Path = ("cloud", "tenant")
    problems, nets = _unique(tenant.networks, base + ("networks",), "network")
    p, subnets = _unique(tenant.subnets, base + ("subnets",), "subnet")
    problems += p
    p, groups = _unique(tenant.security_groups, base + ("security_groups",), "security group")
    problems += p
    p, instances = _unique(tenant.instances, base + ("instances",), "instance")
    problems += p
    problems += _unique(tenant.routers, base + ("routers",), "router")[0]
    p, balancers = _unique(tenant.load_balancers, base + ("load_balancers",), "load balancer")
    problems += p
    groups.add("default")
    problems += _check_networks(tenant, topo, base)
    problems += _check_subnets(tenant, nets, base)
    computes = set(nodes_with_role(topo, "compute"))
    subnet_cidrs = {s.name: s.cidr for s in tenant.subnets}
    for i, inst in enumerate(tenant.instances):
        path = base + ("instances", i)
        problems += _ref(inst.subnet, subnets, path + ("subnet",), "subnet")
        if inst.compute is not None:
            problems += _ref(inst.compute, computes, path + ("compute",), "compute node")
        elif not computes:
            problems.append(Problem(path, "instances need a node with role 'compute'"))
        for j, sg in enumerate(inst.security_groups):
            problems += _ref(sg, groups, path + ("security_groups", j), "security group")
        cidr = subnet_cidrs.get(inst.subnet)
        if inst.address is not None and cidr is not None and inst.address not in cidr:
            problems.append(Problem(path + ("address",), f"{inst.address} is outside subnet '{inst.subnet}' ({cidr})"))
    problems += _check_edges(tenant, nets, subnets, instances | balancers, groups, base)
    network_nodes = set(nodes_with_role(topo, "network"))
    from deployer.roles.tenant import HTTP_PORTS  # here: the roles import this module's callers

    for i, lb in enumerate(tenant.load_balancers):
        if lb.host is not None:
            problems += _ref(lb.host, network_nodes, base + ("load_balancers", i, "host"), "network node")
        if lb.port not in HTTP_PORTS:
            problems.append(Problem(base + ("load_balancers", i, "port"), f"members serve HTTP on "
                                    f"{' and '.join(map(str, HTTP_PORTS))} only; the load balancer forwards to "
                                    f"its own port on them; allowed: {', '.join(map(str, HTTP_PORTS))}"))
    return problems


def _check_networks(tenant: Tenant, topo: Topology, base: Path) -> list[Problem]:
    problems: list[Problem] = []
    if tenant.networks and not nodes_with_role(topo, "network"):
        problems.append(Problem(base + ("networks",), "tenant networks need a node with role 'network' (Neutron's "
                                "DHCP and L3 agents run there)"))
    for i, net in enumerate(tenant.networks):
        path = base + ("networks", i)
        if net.type == "vlan":
            problems.append(Problem(path + ("type",), "vlan networks need 802.1Q (8021q), which this kernel lacks; "
                                    "allowed: vxlan, flat"))
        elif net.type == "flat" and "public" not in topo.networks:
            problems.append(Problem(path + ("type",), "a flat network rides on the lab network 'public', which "
                                    f"this topology lacks; {allowed(topo.networks)}"))
        elif net.type == "flat" and not any("network" in n.roles and "public" in n.networks for n in topo.expand()):
            problems.append(Problem(path + ("type",), "a flat network needs a node with role 'network' "
                                    "attached to the lab network 'public'"))
    return problems


def _check_subnets(tenant: Tenant, nets: set[str], base: Path) -> list[Problem]:
    problems: list[Problem] = []
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for i, sub in enumerate(tenant.subnets):
        path = base + ("subnets", i)
        problems += _ref(sub.network, nets, path + ("network",), "network")
        for other, cidr in seen:
            if sub.cidr.overlaps(cidr):
                problems.append(Problem(path + ("cidr",), f"{sub.cidr} overlaps subnet '{other}' ({cidr})"))
        seen.append((sub.name, sub.cidr))
        if sub.gateway is not None and sub.gateway not in sub.cidr:
            problems.append(Problem(path + ("gateway",), f"{sub.gateway} is outside {sub.cidr}"))
        for j, addr in enumerate(sub.pool or []):
            if addr not in sub.cidr:
                problems.append(Problem(path + ("pool", j), f"{addr} is outside {sub.cidr}"))
    return problems


def _check_edges(tenant: Tenant, nets: set[str], subnets: set[str], instances: set[str], groups: set[str],
                 base: Path) -> list[Problem]:
    problems: list[Problem] = []
    external = {n.name for n in tenant.networks if n.external}
    for i, router in enumerate(tenant.routers):
        path = base + ("routers", i)
        if router.external_network is not None:
            problems += _ref(router.external_network, external, path + ("external_network",), "external network")
        for j, sub in enumerate(router.subnets):
            problems += _ref(sub, subnets, path + ("subnets", j), "subnet")
    for i, fip in enumerate(tenant.floating_ips):
        path = base + ("floating_ips", i)
        problems += _ref(fip.instance, instances, path + ("instance",), "instance or load balancer")
        problems += _ref(fip.network, external, path + ("network",), "external network")
    for i, lb in enumerate(tenant.load_balancers):
        path = base + ("load_balancers", i)
        problems += _ref(lb.subnet, subnets, path + ("subnet",), "subnet")
        for j, member in enumerate(lb.members):
            problems += _ref(member, instances - {b.name for b in tenant.load_balancers}, path + ("members", j),
                             "instance")
        for j, sg in enumerate(lb.security_groups):
            problems += _ref(sg, groups, path + ("security_groups", j), "security group")
    return problems
