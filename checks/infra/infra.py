"""Checks of the management services (the ``infra`` role): every DHCP client holds its lease.

A node on a ``dhcp: true`` network has an address there only when the lab's DHCP server
gave it one; a node that booted while the server was down has none. The check names the
cause it can see: the server's dnsmasq not running, or the node's own client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab


def server_state(lab: Lab, network: str) -> str:
    """'' when the DHCP server of ``network`` runs dnsmasq, else why not."""
    servers = [h.name for h in lab.inv.with_role("infra") if network in h.addresses]
    if not servers:
        return f"no node with role infra serves {network}"
    up = lab.up(servers)
    if not up:
        return f"its DHCP server {servers[0]} does not answer (powered off?)"
    return "" if lab.host(up[0]).service("dnsmasq").is_running else f"dnsmasq on {up[0]} is not running"


@check("dhcp_leases", "every node on a DHCP network holds its static lease", needs="dhcp_client")
def dhcp_leases(lab: Lab, v: Verdict) -> None:
    clients = lab.inv.dhcp_clients()
    nodes = sorted({h.name for h, _ in clients})
    up = set(lab.up(nodes))
    shown = dict(zip(sorted(up), lab.each(sorted(up), "ip -4 -o addr show"), strict=True))
    missing: list[str] = []
    for host, net in clients:
        if host.name not in up:
            continue  # powered off: services_active says so
        if f" {host.addresses[net]} " not in f" {shown[host.name].stdout} ":
            missing.append(f"{host.name}/{net}")
            why = server_state(lab, net) or f"dnsmasq runs: see {host.name}'s systemd-networkd journal"
            v.fail(f"{host.name}: no address on {host.ifname(net)} ({net} is a DHCP network: no lease; {why})",
                   blame=host.name)
    v.figures["leases_missing"] = missing
