"""Neutron's agents: linuxbridge on every compute and network node, L3 and DHCP on the
network nodes (a controller may be one too, as in Sausage Cloud).

Each agent gets the shared ``neutron.conf`` + ``ml2_conf.ini`` and its own ini. The
linuxbridge agent sends VXLAN (unicast, l2population, UDP 8472) from the node's overlay
address and puts the node's ``public0`` into the flat provider network's bridge (it
moves that interface's address onto the bridge). The L3 and DHCP units get
``KillMode=process``: Debian's units would kill keepalived, dnsmasq and haproxy with the
agent on every restart, which production deployments never do.

``ready`` waits until every agent of the kind has a heartbeat in Neutron's database
younger than ``agent_down_time`` (what ``openstack network agent list`` calls alive).
"""

from __future__ import annotations

from typing import ClassVar

from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles import neutron_common as common
from deployer.roles.base import Component

INI_DIR = "/etc/neutron"
ALIVE_SQL = ("SELECT host FROM neutron.agents WHERE agent_type = '{kind}' AND admin_state_up = 1 AND "
             "heartbeat_timestamp > UTC_TIMESTAMP() - INTERVAL {seconds} SECOND")


def alive_hosts(ctx: Context, kind: str) -> set[str]:
    """Hosts whose agent of ``kind`` (Neutron's agent_type) reported recently, read on the
    first running controller's Galera node."""
    sql = ALIVE_SQL.format(kind=kind, seconds=common.AGENT_DOWN_TIME_S)
    for ctl in ctx.inv.with_role("controller"):
        done = ctx.t.run(ctl.name, ["mysql", "-NB", "-e", sql], check=False, timeout=20)
        if done.ok:
            return set(done.stdout.split())
    return set()


class NeutronAgent(Component):
    """One agent kind: its unit (``service``), its ini and what ``agent_type`` it registers as."""

    stage = "compute"
    agent_type: ClassVar[str]
    ini: ClassVar[str]  # path under /etc/neutron/ (where Debian's init script reads it); template: its name + .j2
    keep_children: ClassVar[bool] = False  # KillMode=process drop-in

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        return super().units(inv, cloud) if common.enabled(inv, cloud) else []

    def hosts(self, ctx: Context) -> list[Host]:
        return super().hosts(ctx) if common.enabled(ctx.inv, ctx.cloud) else []

    def values(self, ctx: Context, host: Host) -> dict[str, object]:
        return {"hostname": host.name}

    def deploy(self, ctx: Context) -> None:
        unit = self.service_name()
        assert unit is not None

        def one(host: Host) -> None:
            changed = common.write_common(ctx, host)
            template = f"{self.ini.rsplit('/', 1)[-1]}.j2"
            changed |= ctx.put(host.name, f"{INI_DIR}/{self.ini}", render(template, **self.values(ctx, host)),
                               mode=0o640, owner="root:neutron")
            if self.keep_children:
                dropin = f"/etc/systemd/system/{unit}.service.d/stacklab.conf"
                if ctx.put(host.name, dropin, render("neutron-agent-dropin.conf.j2")):
                    ctx.t.run(host.name, ["systemctl", "daemon-reload"], step=f"{self.name}: daemon-reload")
                    changed = True
            ctx.service(host.name, unit, restart=changed)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        want = {h.name for h in self.hosts(ctx)}
        ctx.wait(f"{self.agent_type} alive on {', '.join(sorted(want))}",
                 lambda: want <= alive_hosts(ctx, self.agent_type), timeout=120, interval=1,
                 node=sorted(want)[0], unit=self.service_name() or "")


class LinuxbridgeAgent(NeutronAgent):
    name = "neutron-linuxbridge-agent"
    roles = common.NEUTRON_ROLES
    agent_type = "Linux bridge agent"
    ini = "plugins/ml2/linuxbridge_agent.ini"

    def values(self, ctx: Context, host: Host) -> dict[str, object]:
        flat = host.on(common.PHYSNET) and "network" in host.roles
        return {"hostname": host.name, "physnet": common.PHYSNET, "local_ip": host.ip("overlay"),
                "physical_interface": host.ifname(common.PHYSNET) if flat else ""}


class L3Agent(NeutronAgent):
    name = "neutron-l3-agent"
    roles = ("network",)
    after = ("neutron-linuxbridge-agent",)
    agent_type = "L3 agent"
    ini = "l3_agent.ini"
    keep_children = True

    def values(self, ctx: Context, host: Host) -> dict[str, object]:
        return {"hostname": host.name, "advert_int": 1}


class DhcpAgent(NeutronAgent):
    name = "neutron-dhcp-agent"
    roles = ("network",)
    after = ("neutron-linuxbridge-agent",)
    agent_type = "DHCP agent"
    ini = "dhcp_agent.ini"
    keep_children = True
