"""A VM's NICs on the lab's fabric bridges: one tap per NIC, moved into the fabric namespace.

libvirt opens a ``managed='no'`` tap by name in its own (the host's root) namespace and
hands the file descriptor to qemu. So each tap is made in the root namespace just before
the domain starts -- down, IPv6 off, no address, its ifalias naming lab, node and network
-- and moved into the lab's fabric namespace right after, where it replaces the veth the
fabric made for that attachment (same port name and ifalias: link faults, heal and
destroy treat it like any other port). qemu keeps its descriptor across the move: the
tap stays the same device. A power-on (``virsh start`` needs the tap back in the root
namespace) moves it out and in again, keeping its admin state (a ``link_down`` holds).

The host's root namespace never sees an address or route of a lab; a tap left there by
a killed run is found by its ifalias (:func:`remove_leftovers`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

from lab import fabric, linkfaults, netns
from lab.backends.libvirt.domxml import Nic
from lab.errors import LabError
from lab.netns import FABRIC

_TAG = "slvm"


def _alias(lab: str, node: str, nic: Nic) -> str:
    return f"{_TAG} lab={lab} node={node} net={nic.network}"


def _root():  # type: ignore[no-untyped-def]
    from pyroute2 import IPRoute

    return IPRoute()


def prepare(lab: str, node: str, nics: Iterable[Nic]) -> dict[str, str]:
    """Put each NIC's tap in the root namespace under its tap name, ready for libvirt to
    open; return each network's port state (up/down) to restore after :func:`plug`."""
    states = {}
    for nic in nics:
        states[nic.network] = _take_back(lab, node, nic)
        with _root() as ipr:
            if not ipr.link_lookup(ifname=nic.tap):
                ipr.link("add", ifname=nic.tap, kind="tuntap", mode="tap")
            index = ipr.link_lookup(ifname=nic.tap)[0]
            ipr.link("set", index=index, state="down", ifalias=_alias(lab, node, nic))
        # Before libvirt sets it up: no IPv6 link-local address in the root namespace, ever.
        Path(f"/proc/sys/net/ipv6/conf/{nic.tap}/disable_ipv6").write_text("1")
    return states


def _take_back(lab: str, node: str, nic: Nic) -> str:
    """Move a port that is this NIC's tap back to the root namespace; its admin state."""
    port = fabric.port_name(node, nic.network)
    if not netns.is_live(lab, FABRIC):
        raise LabError(f"lab {lab} has no fabric namespace: the fabric is built before the nodes")
    with netns.rtnl(lab, FABRIC) as fab:
        found = fab.link_lookup(ifname=port)
        if not found:
            return "up"
        link = fab.get_links(found[0])[0]
        state = "up" if link["flags"] & 1 else "down"
        if link.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND") == "tun":
            fab.link("set", index=found[0], state="down")
            fab.link("set", index=found[0], net_ns_pid=os.getpid(), ifname=nic.tap)
        return state


def plug(lab: str, node: str, nics: Iterable[Nic], addresses: dict[str, str],
         states: dict[str, str]) -> None:
    """After the domain started: move each tap into the fabric and make it the port."""
    for nic in nics:
        with _root() as ipr:
            found = ipr.link_lookup(ifname=nic.tap)
            if not found:
                raise LabError(f"tap {nic.tap} of {node}/{nic.network} vanished before it was plugged in")
            ipr.link("set", index=found[0], state="down")
            ipr.link("set", index=found[0], net_ns_fd=netns.ns_name(lab, FABRIC))
        att = fabric.Attachment(node, nic.network, nic.ifname, addresses[nic.network], nic.mtu, nic.rate_mbit)
        fabric.adopt_port(lab, att, nic.tap, states.get(nic.network, "up"))
    # A moved device loses its qdiscs: the node's standing rates are shaped again.
    linkfaults.standing_rates(lab, node)


def remove_leftovers(lab: str) -> list[str]:
    """Delete this lab's taps still in the root namespace (a run killed mid-start)."""
    removed = []
    with _root() as ipr:
        for link in ipr.get_links():
            alias = link.get_attr("IFLA_IFALIAS") or ""
            if alias.startswith(f"{_TAG} lab={lab} "):
                with contextlib.suppress(Exception):
                    ipr.link("del", index=link["index"])
                removed.append(link.get_attr("IFLA_IFNAME"))
    return removed
