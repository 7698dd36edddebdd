"""Network isolation, proven on a running `ha` lab rather than assumed: the host's root
namespace has no address, route or interface into the lab; nodes have no route to any
host address (a listener on the host's own address stays unreachable from every node);
nothing in the lab's namespaces or the host's rulesets NATs or forwards lab traffic out.

Only the host's own addresses are tried, and only from inside the lab: nothing here
sends a packet off this machine.
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from deployer.catalog import image_packages
from lab import engine, netns
from lab.ifnames import bridge_name, port_name
from lab.model import Topology
from stacklab.validate import validate_file
from tests.lab.conftest import ISSUED, ROOT, require_lxc

HA = ROOT / "scenarios/labs/ha.yaml"
Net = ipaddress.IPv4Network | ipaddress.IPv6Network
NAT_WORDS = ("masquerade", "snat", "dnat", "redirect", "tproxy")


@pytest.fixture(scope="module")
def lab(node_image: object) -> Iterator[tuple[str, Topology]]:
    require_lxc()
    topo = validate_file(HA).topology
    assert topo is not None
    name = f"kxiso{uuid.uuid4().hex[:4]}"
    ISSUED.add(name)
    engine.up(name, topo, packages=image_packages(), source=str(HA), progress=print)
    try:
        yield name, topo
    finally:
        engine.down(name)


def ip_json(*args: str, lab: str | None = None, ns: str | None = None) -> list[dict[str, Any]]:
    argv = ["ip", "-j", *args]
    if lab is not None and ns is not None:
        argv = netns.nsenter_argv(lab, ns, argv)
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout
    return json.loads(out or "[]")


def lab_cidrs(topo: Topology) -> list[Net]:
    return [net.cidr for net in topo.networks.values()]


def host_addresses() -> list[str]:
    """The root namespace's own addresses, loopback and link-local left out."""
    found = []
    for link in ip_json("addr", "show"):
        for a in link.get("addr_info", []):
            addr = ipaddress.ip_address(a["local"])
            if not (addr.is_loopback or addr.is_link_local):
                found.append(str(addr))
    assert found, "the host has no address to try"
    return found


def test_root_namespace_has_no_address_route_or_link_into_the_lab(lab: tuple[str, Topology]) -> None:
    _, topo = lab
    cidrs = lab_cidrs(topo)
    addrs = [ipaddress.ip_interface(f"{a['local']}/{a['prefixlen']}") for link in ip_json("addr", "show")
             for a in link.get("addr_info", [])]
    assert [a for a in addrs if any(a.ip in c for c in cidrs if a.version == c.version)] == []
    routes = ip_json("-4", "route", "show", "table", "all")
    into_lab = [r for r in routes if r["dst"] != "default" and any(
        ipaddress.ip_network(r["dst"], strict=False).overlaps(c) for c in cidrs)]
    assert into_lab == []
    fabric = {bridge_name(n) for n in topo.networks} | {port_name(n.name, net) for n in topo.expand()
                                                         for net in n.networks}
    assert {link["ifname"] for link in ip_json("link", "show")} & fabric == set()


def test_fabric_is_layer_2_only(lab: tuple[str, Topology]) -> None:
    name, _ = lab
    kinds = {link.get("linkinfo", {}).get("info_kind") for link in ip_json("-d", "link", "show", lab=name, ns="fab")
             if link["ifname"] != "lo"}
    assert kinds <= {"bridge", "veth"}
    assert [a for link in ip_json("addr", "show", lab=name, ns="fab") for a in link.get("addr_info", [])
            if a["family"] == "inet" and not a["local"].startswith("127.")] == []
    assert ip_json("-4", "route", "show", lab=name, ns="fab") == []


def test_nodes_route_only_inside_their_networks(lab: tuple[str, Topology]) -> None:
    name, topo = lab
    cidrs = lab_cidrs(topo)
    for node in topo.node_names():
        routes = ip_json("-4", "route", "show", lab=name, ns=node)
        assert all(r["dst"] != "default" and "gateway" not in r for r in routes), (node, routes)
        assert all(any(ipaddress.ip_network(r["dst"]).subnet_of(c) for c in cidrs) for r in routes), routes
        kinds = {link.get("linkinfo", {}).get("info_kind") for link in ip_json("-d", "link", "show", lab=name,
                                                                               ns=node) if link["ifname"] != "lo"}
        assert kinds <= {"veth"}, (node, kinds)


def test_nodes_cannot_reach_the_hosts_addresses(lab: tuple[str, Topology]) -> None:
    name, topo = lab
    targets = host_addresses()
    listeners = [socket.create_server((addr, 0), family=socket.AF_INET6 if ":" in addr else socket.AF_INET)
                 for addr in targets]  # something that would answer if a path existed
    try:
        ports = {addr: s.getsockname()[1] for addr, s in zip(targets, listeners, strict=True)}
        for node in topo.node_names():
            for addr, port in ports.items():
                route = netns.run(name, node, ["ip", "route", "get", addr], check=False)
                assert route.returncode != 0 and "unreachable" in route.stderr, (node, addr, route.stdout)
                assert not netns.call_in(name, node, connects, addr, port), f"{node} reached {addr}:{port}"
    finally:
        for s in listeners:
            s.close()


def connects(addr: str, port: int) -> bool:
    """True if a TCP connection from the calling namespace reaches addr:port within 1 s."""
    try:
        socket.create_connection((addr, port), timeout=1).close()
        return True
    except OSError:
        return False


def ruleset(lab: str | None = None, ns: str | None = None) -> str:
    argv = ["nft", "list", "ruleset"]
    if lab is not None and ns is not None:
        argv = netns.nsenter_argv(lab, ns, argv)
    return subprocess.run(argv, capture_output=True, text=True, check=True, timeout=30).stdout


def test_no_nat_or_forward_rule_leads_out_of_the_lab(lab: tuple[str, Topology]) -> None:
    name, topo = lab
    if shutil.which("nft") is None:
        pytest.skip("nft not found: apt-get install -y nftables")
    for ns in ["fab", *topo.node_names()]:
        rules = ruleset(name, ns).lower()
        assert not [w for w in NAT_WORDS if w in rules], (ns, rules)
    root = ruleset()
    mentions = [str(c) for c in lab_cidrs(topo) if str(c) in root or str(c.network_address) in root]
    assert mentions == [], f"the host's ruleset names lab networks: {mentions}"
    if shutil.which("iptables-legacy-save"):
        legacy = subprocess.run(["iptables-legacy-save"], capture_output=True, text=True, check=False).stdout
        assert [c for c in lab_cidrs(topo) if str(c) in legacy] == []
