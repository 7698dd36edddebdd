"""What the deployer knows of a lab: nodes with roles and addresses, the VIP, the cloud.

Built from the lab's state (a running lab) and the cloud model, so the deployer needs no
lab internals beyond names and addresses.

>>> inv = Inventory("demo", {"ctl1": Host("ctl1", ("controller",), {"mgmt": "10.0.0.10/24"})},
...                 vip="10.0.0.5", vip_prefix=24, vip_network="mgmt")
>>> inv.with_role("controller")[0].ip("mgmt")
'10.0.0.10'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Host:
    name: str
    roles: tuple[str, ...]
    addresses: dict[str, str]  # network -> "10.0.0.10/24"
    unaddressed: tuple[str, ...] = ()  # networks the node is on without an address (lab.model.Link)

    def on(self, network: str) -> bool:
        """Attached to ``network``, with or without an address."""
        return network in self.addresses or network in self.unaddressed

    def ip(self, network: str = "mgmt") -> str:
        return self.addresses[network].split("/")[0]

    def ifname(self, network: str = "mgmt") -> str:
        return f"{network}0"


@dataclass
class Inventory:
    lab: str
    hosts: dict[str, Host]
    vip: str
    vip_prefix: int
    vip_network: str = "mgmt"
    extra_vips: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # name -> (network, ip, prefix)
    public_name: str | None = None  # the operator's name for the VIP (cloud.tls.public_name)
    dhcp_networks: tuple[str, ...] = ()  # networks whose nodes (but the infra node) take their address by DHCP

    def dhcp_clients(self) -> list[tuple[Host, str]]:
        """(node, network) of every address a node takes by DHCP (the infra node serves)."""
        return [(h, net) for h in self.hosts.values() if "infra" not in h.roles
                for net in self.dhcp_networks if net in h.addresses]

    def with_role(self, role: str) -> list[Host]:
        return [h for h in self.hosts.values() if role in h.roles]

    def names(self, role: str | None = None) -> list[str]:
        return [h.name for h in self.hosts.values() if role is None or role in h.roles]

    @property
    def vip_name(self) -> str:
        """The DNS-like name the API certificate carries; nodes resolve it via /etc/hosts."""
        return self.public_name or f"api.{self.lab}.stacklab"


def from_state(state: Any, topology: Any, cloud: Any) -> Inventory:
    """Inventory of a running lab from its LabState, Topology and Cloud."""
    nets = {n.name: n.networks for n in topology.expand()}
    hosts = {name: Host(name, tuple(info["roles"]), dict(info["addresses"]),
                        tuple(n for n in nets.get(name, ()) if n not in info["addresses"]))
             for name, info in state.nodes.items()}
    vip = topology.vips[cloud.vip]
    prefix = topology.networks[vip.network].cidr.prefixlen
    extra = {name: (v.network, str(v.address), topology.networks[v.network].cidr.prefixlen)
             for name, v in topology.vips.items() if name != cloud.vip}
    dhcp = tuple(name for name, net in topology.networks.items() if getattr(net, "dhcp", False))
    return Inventory(state.lab, hosts, str(vip.address), prefix, vip.network, extra, cloud.tls.public_name, dhcp)
