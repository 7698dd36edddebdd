"""keepalived on every controller: the API VIP (and any extra VIP) moves with VRRP.

One VRRP instance per VIP: the API VIP on mgmt0, each extra VIP of the topology on its
network's interface when the controller is on that network. Priorities descend from
the first controller (150, 140, ...), every node starts as BACKUP with ``nopreempt`` (per
``cloud.keepalived.nopreempt``), so a healed node does not take the VIP back.

Multicast, not unicast: the lab's fabric bridges flood link-local multicast
(224.0.0.18 is never pruned by IGMP snooping), so no node needs a peer list and adding a
controller changes no other node's config; a partition fault drops frames per bridge
port, multicast included, so it splits VRRP exactly as it would split unicast VRRP.

VRRPv2 carries a PASS authentication from the lab's secrets (8 characters: keepalived
uses no more); VRRPv3 has no authentication (RFC 5798) but allows sub-second
``advert_int``. A ``track_script`` with ``pgrep -x haproxy`` releases the VIP when haproxy
dies (``pidof`` never fires in these nodes, docs/facts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from deployer.context import Context, render
from deployer.inventory import Host
from deployer.roles.base import Component
from deployer.roles.haproxy import install_checked, start_or_reload
from lab.errors import LabError

CONFIG = "/etc/keepalived/keepalived.conf"
FIRST_VRID = 51


@dataclass(frozen=True)
class Vip:
    name: str  # the VRRP instance name
    interface: str
    address: str
    prefix: int
    vrid: int


def vips(ctx: Context, host: Host) -> list[Vip]:
    """The VRRP instances of ``host``: the API VIP, then the extra VIPs of its networks.

    Router ids are fixed per lab (51, 52, ... by name), so they never depend on which
    controllers are on which network."""
    inv = ctx.inv
    out = [Vip("vip_api", host.ifname(inv.vip_network), inv.vip, inv.vip_prefix, FIRST_VRID)]
    for i, name in enumerate(sorted(inv.extra_vips), start=FIRST_VRID + 1):
        network, address, prefix = inv.extra_vips[name]
        if network in host.addresses:
            out.append(Vip(f"vip_{name}", host.ifname(network), address, prefix, i))
    return out


def auth_pass(ctx: Context) -> str:
    """The VRRPv2 password ('' under v3: RFC 5798 dropped VRRP authentication)."""
    if ctx.cloud.keepalived.vrrp_version != 2:
        return ""
    return ctx.secrets.password("keepalived_vrrp")[:8]  # keepalived uses 8 characters, warns on more


def config_values(ctx: Context, host: Host, password: str) -> dict[str, object]:
    """Template values of ``host``'s keepalived.conf (``password`` from ``auth_pass``)."""
    k = ctx.cloud.keepalived
    rank = [h.name for h in ctx.inv.with_role("controller")].index(host.name)
    return {
        "router_id": host.name, "vrrp_version": k.vrrp_version, "advert_int": f"{k.advert_int:g}",
        "nopreempt": k.nopreempt, "priority": max(1, 150 - 10 * rank), "instances": vips(ctx, host),
        "auth_pass": password,
    }


def holders(ctx: Context, address: str) -> list[str]:
    """Controllers that hold ``address`` right now (a powered-off one holds nothing)."""
    found = []
    for host in ctx.inv.with_role("controller"):
        try:
            done = ctx.t.run(host.name, ["ip", "-4", "-o", "addr", "show"], check=False, timeout=10)
        except LabError:  # the node is not running
            continue
        if done.ok and f" {address}/" in done.stdout:
            found.append(host.name)
    return found


class Keepalived(Component):
    name = "keepalived"
    after = ("haproxy",)  # its check script tracks haproxy

    def deploy(self, ctx: Context) -> None:
        changed: dict[str, bool] = {}
        password = auth_pass(ctx)  # before the threads: Secrets is not thread-safe on first use

        def one(host: Host) -> None:
            content = render("keepalived.conf.j2", **config_values(ctx, host, password))
            # 0600: the VRRPv2 password is in it.
            changed[host.name] = install_checked(ctx, host.name, CONFIG, content, "keepalived -t -f", mode=0o600)

        ctx.parallel(self.hosts(ctx), one)
        # Started one by one in priority order: with every node BACKUP + nopreempt, the
        # first whose master-down timer expires keeps the VIP, and on a parallel start
        # that is whoever started a few ms earlier. ctl1 first makes the first holder ctl1.
        for host in self.hosts(ctx):
            start_or_reload(ctx, host.name, "keepalived", changed[host.name])

    def ready(self, ctx: Context) -> None:
        """Every VIP is on exactly one controller (it appears 3.4–4.6 s after a first start)."""
        addresses = {ctx.inv.vip} | {ip for net, ip, _ in ctx.inv.extra_vips.values()
                                     if any(net in h.addresses for h in self.hosts(ctx))}
        for address in sorted(addresses):
            ctx.wait(f"VIP {address} on exactly one controller", partial(self._held_once, ctx, address),
                     timeout=30, unit="keepalived", node=self.hosts(ctx)[0].name)

    @staticmethod
    def _held_once(ctx: Context, address: str) -> bool:
        return len(holders(ctx, address)) == 1
