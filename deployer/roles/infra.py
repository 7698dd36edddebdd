"""Management services of a lab on the cheap: DHCP with static leases by MAC, DNS for the
lab's names (dnsmasq on the ``infra`` node), and every other node's DHCP client.

On a network with ``dhcp: true`` the fabric gives the infra node its address and no one
else theirs: each node's own DHCP client (systemd-networkd, in the image with systemd)
asks, and dnsmasq answers with the node's planned address, by the MAC of its interface
(read from the node at deploy: a veth keeps its MAC across power cycles, the namespace
outlives the container). So when dnsmasq stops, a node that reboots comes back without
its address, as a Raspberry Pi of "OpenStack on the Cheap" would. dnsmasq answers DNS
for the lab's node names and the API name (from its own hosts file, never forwarding:
no upstream) and tells clients their NTP server. The chrony server of the lab runs on
the infra node too (``deployer.roles.chrony.time_servers``).

>>> from deployer.inventory import Host
>>> network_of(Host("ctl1", ("infra",), {"mgmt": "10.60.0.10/24"}), "mgmt")
('10.60.0.0', '255.255.255.0')
"""

from __future__ import annotations

import ipaddress
from typing import ClassVar

from deployer.context import Context
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles.base import Component

DNSMASQ_CONF = "/etc/dnsmasq.d/stacklab.conf"
HOSTS = "/etc/stacklab/dnsmasq.hosts"
NETWORKD = "/etc/systemd/network"
WANTS = "/etc/systemd/system/multi-user.target.wants"
LEASE_S = 3600  # a lease outlives a dnsmasq restart: only a node that (re)boots needs the server
LEASE_TIMEOUT = 60.0  # networkd's first DISCOVER is answered within a second or two


def network_of(host: Host, net: str) -> tuple[str, str]:
    """(network address, netmask) of a host's attachment, as dnsmasq's dhcp-range wants them."""
    iface = ipaddress.ip_interface(host.addresses[net])
    return str(iface.network.network_address), str(iface.network.netmask)


def mac(ctx: Context, host: Host, net: str) -> str:
    done = ctx.t.run(host.name, ["cat", f"/sys/class/net/{host.ifname(net)}/address"], step="dnsmasq: MAC")
    return done.stdout.strip()


def has_address(ctx: Context, host: Host, net: str) -> bool:
    done = ctx.t.run(host.name, ["ip", "-4", "-o", "addr", "show", "dev", host.ifname(net)], check=False)
    return f" {host.addresses[net]} " in f" {done.stdout} "


class Dnsmasq(Component):
    name = "dnsmasq"
    roles = ("infra",)
    stage = "base"

    def deploy(self, ctx: Context) -> None:
        clients = ctx.inv.dhcp_clients()
        names = [f"{h.ip(ctx.inv.vip_network)} {h.name}" for h in ctx.inv.hosts.values()
                 if ctx.inv.vip_network in h.addresses]
        hosts = "\n".join([*names, f"{ctx.inv.vip} {ctx.inv.vip_name}"]) + "\n"

        def one(server: Host) -> None:
            nets = [n for n in ctx.inv.dhcp_networks if n in server.addresses]
            leases = [(mac(ctx, h, net), h.ip(net), h.name) for h, net in clients if net in nets]
            changed = ctx.put(server.name, HOSTS, hosts)
            changed |= ctx.template(server.name, DNSMASQ_CONF, "dnsmasq.conf.j2", lab=ctx.inv.lab, hosts=HOSTS,
                                    interfaces=[server.ifname(n) for n in nets],
                                    ranges=[network_of(server, n) for n in nets], lease_s=LEASE_S,
                                    leases=leases, ntp=server.ip(nets[0]) if nets else "")
            ctx.service(server.name, "dnsmasq", restart=changed)

        ctx.parallel(self.hosts(ctx), one)


class DhcpClient(Component):
    """systemd-networkd asking for the address of each DHCP network (nothing else from it)."""

    name = "dhcp_client"
    roles = ()
    stage = "base"
    after = ("dnsmasq",)
    UNIT: ClassVar[str] = "systemd-networkd"

    def hosts(self, ctx: Context) -> list[Host]:
        return list({h.name: h for h, _ in ctx.inv.dhcp_clients()}.values())

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        return [(name, self.UNIT) for name in dict.fromkeys(h.name for h, _ in inv.dhcp_clients())]

    def deploy(self, ctx: Context) -> None:
        def one(host: Host) -> None:
            changed = ctx.template(host.name, "/etc/systemd/networkd.conf.d/stacklab.conf",
                                   "networkd-stacklab.conf.j2")
            for net in (n for n in ctx.inv.dhcp_networks if n in host.addresses):
                changed |= ctx.template(host.name, f"{NETWORKD}/10-stacklab-{net}.network",
                                        "networkd-dhcp.network.j2", ifname=host.ifname(net))
            # Enabled by its wants link: `systemctl enable` would fail on the Also= of the
            # image's masked systemd-networkd-wait-online (a boot must not wait for a lease).
            unit = f"{self.UNIT}.service"
            ctx.sh(host.name, f"mkdir -p {WANTS} && ln -sfn /lib/systemd/system/{unit} {WANTS}/{unit}",
                   step="dhcp_client: enable networkd")
            ctx.service(host.name, self.UNIT, restart=changed)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        """Every DHCP client holds its planned address (its static lease)."""
        ctx.parallel(ctx.inv.dhcp_clients(), lambda pair: ctx.wait(
            f"{pair[0].name} to get its lease {pair[0].addresses[pair[1]]} on {pair[1]}",
            lambda: has_address(ctx, *pair), timeout=LEASE_TIMEOUT, node=pair[0].name, unit=self.UNIT, interval=0.5))
