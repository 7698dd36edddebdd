"""The lab's wiring: one fabric namespace holding a Linux bridge per lab network, and a
veth per (node, network) attachment whose node end sits in the node's namespace.

Nothing is ever created in the host's root namespace: bridges and fabric-side veth
ends live in ``sl-<lab>.fab``; each veth is created there with its peer created
directly inside the node namespace (already named ``mgmt0``), so no interface ever
passes through the host.

Each fabric-side port carries an ``ifalias`` (``sl node=ctl1 net=mgmt if=mgmt0
mtu=1500``, plus ``rate=100`` for a standing rate) so that faults, heal and destroy
can rediscover the wiring from the kernel alone, e.g. after the harness was SIGKILLed.

Interface names (15-character kernel limit) come from :mod:`lab.ifnames`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from lab import netns
from lab.errors import LabError
from lab.ifnames import IFNAMSIZ, bridge_name, port_name
from lab.netns import FABRIC

if TYPE_CHECKING:
    from pyroute2 import IPRoute

__all__ = ["IFNAMSIZ", "bridge_name", "port_name"]  # re-exported: the fabric's names
PORT_GROUP = 0x534C  # device group of every fabric-side veth ("SL")
_ALIAS_TAG = "sl"


@dataclass(frozen=True)
class NetworkPlan:
    """One lab network: a bridge of its own in the fabric.

    ``vlan`` is accepted but not put on the wire: every network already has its own
    bridge, which isolates it exactly as a VLAN would, and this kernel has no bridge
    VLAN filtering (``vlan_filtering`` answers EOPNOTSUPP).
    """

    name: str
    mtu: int
    vlan: int | None = None


@dataclass(frozen=True)
class Attachment:
    """A node's interface on a network; ``mtu`` is the node side's (may differ from the wire)."""

    node: str
    network: str
    ifname: str
    address: str  # planned; on a DHCP client's attachment the static lease, not set by the fabric
    mtu: int
    rate_mbit: float | None = None  # standing rate (a 100 Mbit NIC): shaped at build, kept by heal
    dhcp: bool = False  # the node's own DHCP client gets the address


@dataclass(frozen=True)
class FabricPlan:
    """Everything :func:`build` needs; plain data, converted from the topology model."""

    lab: str
    networks: list[NetworkPlan]
    nodes: list[str]
    attachments: list[Attachment]


@dataclass(frozen=True)
class Port:
    """A fabric-side veth end as rediscovered from the kernel."""

    name: str
    index: int
    node: str
    network: str
    ifname: str
    mtu: int  # the node side's planned MTU (what heal restores)
    address: str  # the node side's planned address, CIDR
    rate_mbit: float | None = None  # the planned standing rate (what heal restores), Mbit/s
    dhcp: bool = False  # the node's DHCP client sets the address: power-on restores none


def node_netns(lab: str, node: str) -> str:
    """Path of a node's network namespace (``/run/netns/sl-<lab>.<node>``)."""
    return netns.ns_path(lab, node)


def fabric_netns(lab: str) -> str:
    """Path of the lab's fabric namespace."""
    return netns.ns_path(lab, FABRIC)


def list_labs() -> set[str]:
    """Labs that have at least one namespace on this host (built, or half torn down)."""
    return {lab for lab, _ in netns.list_lab_ns()}


def check_plan(plan: FabricPlan) -> None:
    """Reject plans whose names would not fit or would collide inside the fabric."""
    if FABRIC in plan.nodes:
        raise LabError(f"node name '{FABRIC}' is reserved for the fabric namespace")
    known_nets = {n.name for n in plan.networks}
    names: dict[str, str] = {bridge_name(n): f"bridge of {n}" for n in known_nets}
    node_ifs: set[tuple[str, str]] = set()
    for att in plan.attachments:
        link = f"{att.node}/{att.network}"
        if att.node not in plan.nodes or att.network not in known_nets:
            raise LabError(f"attachment {link}: unknown node or network")
        if len(att.ifname) > IFNAMSIZ or (att.node, att.ifname) in node_ifs:
            raise LabError(f"attachment {link}: interface name '{att.ifname}' is longer than "
                           f"{IFNAMSIZ} characters or used twice on {att.node}")
        node_ifs.add((att.node, att.ifname))
        port = port_name(att.node, att.network)
        if port in names:
            raise LabError(f"attachment {link}: fabric interface name '{port}' already serves "
                           f"{names[port]}; one attachment per node and network, distinct names")
        names[port] = link


def build(plan: FabricPlan) -> None:
    """Create the fabric and node namespaces, bridges and veths of ``plan``.

    All or nothing: on any failure everything of this lab is destroyed again and a
    LabError names the step that failed. Refuses to touch a lab that already exists.
    """
    check_plan(plan)
    if plan.lab in list_labs():
        raise LabError(f"lab '{plan.lab}' already has network namespaces; destroy it first")
    step = ["creating namespaces"]  # a list so the helpers can report progress
    try:
        _create_namespaces(plan)
        with netns.rtnl(plan.lab, FABRIC) as fab:
            step[0] = "creating bridges"
            _create_bridges(fab, plan)
            for node in plan.nodes:
                _wire_node(fab, plan, node, step)
    except Exception as exc:
        destroy(plan.lab)
        raise LabError(f"building the fabric of lab '{plan.lab}' failed while {step[0]}: {exc}") from exc


def _create_namespaces(plan: FabricPlan) -> None:
    """Fabric namespace (no IPv6, so fabric ports get no link-local chatter) and nodes."""
    netns.create(plan.lab, FABRIC)
    netns.write_sysctl(plan.lab, FABRIC, {"net.ipv6.conf.all.disable_ipv6": "1",
                                           "net.ipv6.conf.default.disable_ipv6": "1"})
    for node in plan.nodes:
        netns.create(plan.lab, node)


def _create_bridges(fab: IPRoute, plan: FabricPlan) -> None:
    """A dumb, instant switch per network: no STP delay, no multicast snooping (VRRP and
    other multicast must flood as on a plain switch), no address on the bridge."""
    for net in plan.networks:
        fab.link("add", ifname=bridge_name(net.name), kind="bridge", br_forward_delay=0,
                 br_stp_state=0, br_mcast_snooping=0)
        index = fab.link_lookup(ifname=bridge_name(net.name))[0]
        # MTU set explicitly after creation stays fixed as ports join.
        fab.link("set", index=index, mtu=net.mtu, state="up")


def _wire_node(fab: IPRoute, plan: FabricPlan, node: str, step: list[str]) -> None:
    """lo up and every attachment of one node (one netlink socket per namespace)."""
    with netns.rtnl(plan.lab, node) as ipr:
        step[0] = f"bringing up lo of {node}"
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        for att in (a for a in plan.attachments if a.node == node):
            step[0] = f"wiring {att.node}/{att.network} ({att.address})"
            net = next(n for n in plan.networks if n.name == att.network)
            _attach(fab, ipr, plan.lab, net, att)


def _attach(fab: IPRoute, ipr: IPRoute, lab: str, net: NetworkPlan, att: Attachment) -> None:
    """One veth: fabric end (wire MTU) in the bridge, node end named, addressed and up."""
    port = port_name(att.node, att.network)
    fab.link("add", ifname=port, kind="veth",
             peer={"ifname": att.ifname, "net_ns_fd": netns.ns_name(lab, att.node)})
    _plug(fab, fab.link_lookup(ifname=port)[0], net.name, net.mtu, att, "up")
    addr, _, prefix = att.address.partition("/")
    node_index = ipr.link_lookup(ifname=att.ifname)[0]
    ipr.link("set", index=node_index, mtu=att.mtu)
    # An unaddressed attachment (lab.model.Link.unaddressed) stays bare; a DHCP client asks
    # the lab's DHCP server for its address.
    if addr and not att.dhcp:
        ipr.addr("add", index=node_index, address=addr, prefixlen=int(prefix or 32))
    ipr.link("set", index=node_index, state="up")


def _plug(fab: IPRoute, index: int, network: str, wire_mtu: int, att: Attachment, state: str) -> None:
    """Make link ``index`` the fabric-side port of ``att``: alias, MTU, group, bridge, state."""
    alias = (f"{_ALIAS_TAG} node={att.node} net={att.network} if={att.ifname} "
             f"mtu={att.mtu} addr={att.address}" + (f" rate={att.rate_mbit:g}" if att.rate_mbit else "")
             + (" dhcp=1" if att.dhcp else ""))
    # The fabric end has the network's MTU: a node whose own MTU is larger sees its big
    # frames dropped silently at the veth, exactly like a too-small underlay. The group
    # lets destroy delete all ports in one batch (one RCU grace period, not one each).
    fab.link("set", index=index, ifalias=alias, mtu=wire_mtu, group=PORT_GROUP,
             master=fab.link_lookup(ifname=bridge_name(network))[0])
    fab.link("set", index=index, state=state)


def adopt_port(lab: str, att: Attachment, ifname: str, state: str = "up") -> None:
    """Make ``ifname``, already in the fabric namespace (a VM's tap), the port of ``att``
    under the port's usual name, replacing a veth the fabric made for it: faults, heal and
    destroy then find it like any other port."""
    port = port_name(att.node, att.network)
    with netns.rtnl(lab, FABRIC) as fab:
        if ifname != port:
            for old in fab.link_lookup(ifname=port):
                fab.link("del", index=old)
            fab.link("set", index=fab.link_lookup(ifname=ifname)[0], ifname=port)
        bridge = fab.get_links(fab.link_lookup(ifname=bridge_name(att.network))[0])[0]
        _plug(fab, fab.link_lookup(ifname=port)[0], att.network, bridge.get_attr("IFLA_MTU"), att, state)


def ports(lab: str) -> list[Port]:
    """Every fabric-side port of ``lab``, read from the kernel (ifalias), by name."""
    found = []
    with netns.rtnl(lab, FABRIC) as ipr:
        for link in ipr.get_links():
            fields = (link.get("ifalias") or "").split()
            if not fields or fields[0] != _ALIAS_TAG:
                continue
            kv = dict(f.split("=", 1) for f in fields[1:])
            found.append(Port(link.get("ifname"), link["index"], kv["node"], kv["net"],
                              kv["if"], int(kv["mtu"]), kv["addr"], float(kv["rate"]) if "rate" in kv else None,
                              kv.get("dhcp") == "1"))
    return sorted(found, key=lambda p: p.name)


def find_port(lab: str, node: str, network: str) -> Port:
    """The fabric-side port of one attachment; LabError listing the valid ones if absent."""
    all_ports = ports(lab)
    for port in all_ports:
        if port.node == node and port.network == network:
            return port
    valid = ", ".join(f"{p.node}/{p.network}" for p in all_ports) or "none"
    raise LabError(f"lab '{lab}' has no link {node}/{network}; links: {valid}")


def addresses(lab: str) -> dict[str, dict[str, list[str]]]:
    """node -> interface -> IPv4 addresses (CIDR, kernel order: planned first, then VIPs)."""
    result: dict[str, dict[str, list[str]]] = {}
    for _, node in netns.list_lab_ns(lab):
        if node == FABRIC or not netns.is_live(lab, node):
            continue
        with netns.rtnl(lab, node) as ipr:
            names = {link["index"]: link.get("ifname") for link in ipr.get_links()}
            per_if: dict[str, list[str]] = {}
            for a in ipr.get_addr(family=2):
                if names.get(a["index"]) != "lo":
                    per_if.setdefault(names.get(a["index"], "?"), []).append(
                        f"{a.get('address')}/{a['prefixlen']}")
            result[node] = per_if
    return result


def destroy(lab: str, *, timeout: float = 10.0) -> None:
    """Remove every namespace of ``lab``; idempotent, needs no state but the kernel's.

    Fabric-side veths are deleted first (which removes their node ends at once), because
    namespace teardown itself is asynchronous. Then waits, bounded, until nothing pins
    the namespaces any more (a process, an open fd, a bind mount elsewhere) and raises
    LabError naming the culprits if something still does.
    """
    names = [name for _, name in netns.list_lab_ns(lab)]
    if not names:
        return
    if FABRIC in names and netns.is_live(lab, FABRIC):
        with netns.rtnl(lab, FABRIC) as ipr:
            veths = [link for link in ipr.get_links()
                     if link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "veth"]
            for link in veths:  # regroup: a half-built port may have missed its group
                if link.get_attr("IFLA_GROUP") != PORT_GROUP:
                    ipr.link("set", index=link["index"], group=PORT_GROUP)
            if veths:  # one batched unregister: 80 ports in ≈ 50 ms instead of ≈ 1.6 s
                ipr.link("del", group=PORT_GROUP)
    inodes = {netns.ns_inode(netns.ns_path(lab, n)): netns.ns_name(lab, n) for n in names}
    for name in names:
        netns.remove(lab, name)
    deadline = time.monotonic() + timeout
    while (pins := netns.pinned_by(set(inodes))) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pins:
        what = "; ".join(f"{inodes[ino]} held by {', '.join(who)}" for ino, who in pins.items())
        raise LabError(f"timed out after {timeout:.0f} s waiting for the namespaces of lab "
                       f"'{lab}' to be released: {what}")
