"""chrony on every node: the controllers serve time, every other node follows them.

Lab nodes share the host's single kernel clock and have no CAP_SYS_TIME, so chronyd
runs with ``-x`` (measure and serve, never adjust) and a unit drop-in clears the
unit's ``ConditionCapability=CAP_SYS_TIME``, which otherwise skips chrony silently
(docs/facts.md). What this buys is real NTP traffic and a real "is this node synchronised"
answer, which the clock-drift checks and faketime scenarios build on.

The controllers use ``local stratum 8 orphan`` and poll each other: the one with the
smallest reference ID leads and the others follow it; when it dies another takes over.
A lab without controllers makes its first node the time server.

>>> from deployer.inventory import Host
>>> mgmt_cidr(Host("ctl1", ("controller",), {"mgmt": "10.40.0.10/24"}))
'10.40.0.0/24'
"""

from __future__ import annotations

import ipaddress
import re

from deployer.context import Context
from deployer.inventory import Host
from deployer.roles.base import Component

DROPIN = "/etc/systemd/system/chrony.service.d/stacklab-container.conf"
SYNC_TIMEOUT = 60.0  # clients with iburst + minpoll 0 select a source in ≈ 8 s


def mgmt_cidr(host: Host) -> str:
    """The mgmt network of a node, as chrony's ``allow`` wants it."""
    return str(ipaddress.ip_interface(host.addresses["mgmt"]).network)


def time_servers(ctx: Context) -> list[Host]:
    """The controllers and the management (infra) nodes; a lab without any falls back to its first node."""
    servers = [h for h in ctx.inv.hosts.values() if {"controller", "infra"} & set(h.roles)]
    return servers or list(ctx.inv.hosts.values())[:1]


def parse_tracking(text: str) -> tuple[str, str]:
    """(reference IP or ID, leap status) from ``chronyc -n tracking``.

    >>> parse_tracking("Reference ID    : 0A28000A (10.40.0.10)\\nLeap status     : Normal\\n")
    ('10.40.0.10', 'Normal')
    >>> parse_tracking("Reference ID    : 00000000 ()\\nLeap status     : Not synchronised\\n")
    ('', 'Not synchronised')
    """
    ref = re.search(r"^Reference ID\s*:\s*\S+\s*\(([^)]*)\)", text, re.M)
    leap = re.search(r"^Leap status\s*:\s*(.+?)\s*$", text, re.M)
    return (ref.group(1) if ref else ""), (leap.group(1) if leap else "")


class Chrony(Component):
    name = "chrony"
    roles = ()
    stage = "base"
    after = ("dnsmasq", "dhcp_client")  # on a DHCP network a client has no address before its lease

    def hosts(self, ctx: Context) -> list[Host]:
        """Every node keeps time."""
        return list(ctx.inv.hosts.values())

    def deploy(self, ctx: Context) -> None:
        servers = time_servers(ctx)
        server_names = {s.name for s in servers}

        def one(host: Host) -> None:
            serve = host.name in server_names
            peers = [{"name": s.name, "ip": s.ip("mgmt")} for s in servers if s.name != host.name]
            changed = ctx.template(host.name, "/etc/chrony/chrony.conf", "chrony.conf.j2", lab=ctx.inv.lab,
                                   servers=peers, serve=serve, allow=mgmt_cidr(host))
            changed |= ctx.template(host.name, "/etc/default/chrony", "chrony-default.j2")
            if ctx.template(host.name, DROPIN, "chrony-container.conf.j2"):
                ctx.t.run(host.name, ["systemctl", "daemon-reload"], step="chrony: daemon-reload")
                changed = True
            ctx.service(host.name, "chrony", restart=changed)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        """Every client follows a controller; every server is synchronised (to a peer or
        its orphan local reference)."""
        servers = time_servers(ctx)
        server_ips = {s.ip("mgmt") for s in servers}
        server_names = {s.name for s in servers}

        def synced(host: Host) -> bool:
            done = ctx.t.run(host.name, ["chronyc", "-n", "tracking"], check=False, timeout=10)
            ref, leap = parse_tracking(done.stdout)
            if not done.ok or leap != "Normal":
                return False
            return host.name in server_names or ref in server_ips

        def one(host: Host) -> None:
            ctx.wait(f"chrony on {host.name} to select a time source", lambda: synced(host),
                     timeout=SYNC_TIMEOUT, node=host.name, unit="chrony", interval=0.5)

        ctx.parallel(self.hosts(ctx), one)
