"""The cloud's tenant resources, and its instances as network namespaces on real ports.

Instances are NOT virtual machines: as in Neutron's own fullstack tests, an instance is
a network namespace ``inst-NAME`` on its compute node, plugged into a real Neutron port
(created through the API with ``binding:host_id`` = that compute and a
``device_owner`` outside ``compute:*``, which the linuxbridge agent leaves to Nova):
a veth named ``tap`` + the port id's first 11 characters on the node side (the agent
finds it by that name, puts it in the network's bridge and applies the security
groups), the port's MAC and the network's MTU on ``eth0`` inside, and ``dhclient``
inside asking Neutron's dnsmasq for the address. Each instance serves HTTP on ports 80
and 8080 (``python3 -m http.server``: ``/`` answers its own name, ``/big`` is 64 KiB, every
segment of it full-size) for the checks and for load balancers (``deployer/roles/lbaas.py``).

The API work (networks, subnets, security groups, routers, ports, floating IPs) is
``deployer/scripts/tenant.py`` on the first controller, idempotent; the namespaces
vanish with the lab.
"""

from __future__ import annotations

import json
import shlex
from functools import partial
from typing import Any

from deployer.context import Context
from deployer.errors import DeployError
from deployer.inventory import Host
from deployer.model import LoadBalancer
from deployer.roles import lbaas
from deployer.roles import neutron_common as common
from deployer.roles.base import Component
from deployer.roles.neutron import run_script

DEVICE_OWNER = "stacklab:instance"
HTTP_PORTS = (80, 8080)
STATE = "/var/lib/stacklab/instances.json"  # on every controller: the instances plugged, for checks

PLUG_SH = r"""
NS={ns}; TAP={tap}; MAC={mac}; MTU={mtu}; NAME={name}
[ -e /run/netns/$NS ] || {{ ip netns add $NS; echo changed; }}
ip -n $NS link set lo up
ip link show dev $TAP >/dev/null 2>&1 || {{ ip link add $TAP type veth peer name eth0 netns $NS; echo changed; }}
ip link set dev $TAP mtu $MTU up
ip -n $NS link set dev eth0 address $MAC mtu $MTU up
mkdir -p /etc/netns/$NS /srv/stacklab/$NAME
[ -e /etc/netns/$NS/resolv.conf ] || : > /etc/netns/$NS/resolv.conf
echo $NAME > /srv/stacklab/$NAME/index.html
[ -s /srv/stacklab/$NAME/big ] || head -c 65536 /dev/zero | tr '\0' x > /srv/stacklab/$NAME/big
if ! systemctl is-active -q stacklab-dhcp-$NAME; then
  systemd-run -q --unit stacklab-dhcp-$NAME --collect -p Restart=always /bin/ip netns exec $NS \
    /sbin/dhclient -d -pf /run/dhclient-$NS.pid -lf /var/lib/dhcp/dhclient-$NS.leases eth0
  echo changed
fi
for port in {ports}; do
  systemctl is-active -q stacklab-http-$NAME-$port && continue
  systemd-run -q --unit stacklab-http-$NAME-$port --collect -p Restart=always /bin/ip netns exec $NS \
    /usr/bin/python3 -m http.server $port --directory /srv/stacklab/$NAME
  echo changed
done
"""


def namespace(instance: str) -> str:
    return f"inst-{instance}"


def tap(port_id: str) -> str:
    """The node-side device the linuxbridge agent looks for."""
    return f"tap{port_id[:11]}"


def placement(ctx: Context) -> dict[str, str]:
    """Instance -> compute: its ``compute`` or the computes in turn."""
    computes = ctx.inv.names("compute")
    return {inst.name: inst.compute or computes[i % len(computes)]
            for i, inst in enumerate(ctx.cloud.tenant.instances)}


def lb_hosts(ctx: Context) -> dict[str, str]:
    """Load balancer -> the network node that runs it: its ``host`` or the first."""
    first = ctx.inv.names("network")[:1]
    return {lb.name: lb.host or first[0] for lb in ctx.cloud.tenant.load_balancers if lb.host or first}


class Tenant(Component):
    name = "tenant"
    stage = "finish"
    after = ("clouds",)
    roles = ("compute",)

    def hosts(self, ctx: Context) -> list[Host]:
        t = ctx.cloud.tenant
        if not common.enabled(ctx.inv, ctx.cloud) or not (t.networks or t.instances):
            return []
        used = set(placement(ctx).values()) | set(lb_hosts(ctx).values())
        hosts = [h for h in ctx.inv.hosts.values() if h.name in used]
        return hosts or ctx.inv.with_role("controller")[:1]

    def deploy(self, ctx: Context) -> None:
        first = ctx.inv.with_role("controller")[0].name
        args = {"cloud": "stacklab", "tenant": ctx.cloud.tenant.model_dump(mode="json"), "placement": placement(ctx),
                "lb_hosts": lb_hosts(ctx), "physnet": common.PHYSNET, "device_owner": DEVICE_OWNER}
        out = run_script(ctx, first, "tenant", args)
        for what in out["changed"]:
            ctx.changed(f"neutron:{what}")
        self.instances: dict[str, dict[str, Any]] = out["instances"]
        self.balancers: dict[str, dict[str, Any]] = out.get("load_balancers", {})
        records = {STATE: json.dumps(self.instances, indent=1, sort_keys=True),
                   lbaas.STATE: json.dumps(self.balancers, indent=1, sort_keys=True)}
        ctx.parallel([(h.name, p, r) for h in ctx.inv.with_role("controller") for p, r in records.items()],
                     lambda item: ctx.put(*item))
        ctx.parallel(list(self.instances.items()), lambda item: self.plug(ctx, *item))
        ctx.parallel(ctx.cloud.tenant.load_balancers, lambda lb: self.plug_balancer(ctx, lb))

    def plug_balancer(self, ctx: Context, lb: LoadBalancer) -> None:
        port = self.balancers[lb.name]
        members = {m: self.instances[m]["ip"] for m in lb.members}
        if "changed" in ctx.sh(port["host"], lbaas.plug_script(lb, port, members), step=f"lbaas: {lb.name}").stdout:
            ctx.changed(f"{port['host']}:load balancer {lb.name}")

    @staticmethod
    def plug(ctx: Context, name: str, inst: dict[str, Any]) -> None:
        script = PLUG_SH.format(ns=namespace(name), tap=tap(inst["port"]), mac=shlex.quote(inst["mac"]),
                                mtu=int(inst["mtu"]), name=name, ports=" ".join(map(str, HTTP_PORTS)))
        if "changed" in ctx.sh(inst["compute"], script, step=f"tenant: plug {name}").stdout:
            ctx.changed(f"{inst['compute']}:instance {name}")

    def ready(self, ctx: Context) -> None:
        """Every instance holds its port's address (Neutron's DHCP answered through the
        wired port), and every floating IP answers the client (the HA router forwards)."""
        for name, inst in getattr(self, "instances", {}).items():
            ctx.wait(f"instance {name} on {inst['compute']} leased {inst['ip']}",
                     partial(self.leased, ctx, name, inst), timeout=120, interval=1, node=inst["compute"],
                     unit=f"stacklab-dhcp-{name}")
        plugged = getattr(self, "balancers", {})
        for lb in (b for b in ctx.cloud.tenant.load_balancers if b.name in plugged):  # its monitor sees every member
            host = plugged[lb.name]["host"]
            ctx.wait(f"load balancer {lb.name} on {host}: every member UP", partial(self.members_up, ctx, host, lb),
                     timeout=60, interval=1, node=host, unit=f"stacklab-lbaas-{lb.name}")
        clients = [h.name for h in ctx.inv.with_role("client") if "public" in h.addresses]
        fips = [i["fip"] for i in [*getattr(self, "instances", {}).values(), *plugged.values()] if i.get("fip")]
        for client, fip in ((c, f) for c in clients[:1] for f in fips):  # the HA router elected a master
            ctx.wait(f"floating IP {fip} answering {client}", partial(self.pings, ctx, client, fip),
                     timeout=120, interval=1)

    @staticmethod
    def members_up(ctx: Context, host: str, lb: LoadBalancer) -> bool:
        states = lbaas.member_states(partial(ctx.t.run, check=False, timeout=15), host, lb.name)
        return all(states.get(m) == "UP" for m in lb.members)

    @staticmethod
    def pings(ctx: Context, node: str, address: str) -> bool:
        return ctx.t.run(node, ["ping", "-c", "1", "-W", "1", address], check=False, timeout=10).ok

    @staticmethod
    def leased(ctx: Context, name: str, inst: dict[str, Any]) -> bool:
        done = ctx.t.run(inst["compute"], ["ip", "-n", namespace(name), "-4", "-o", "addr", "show", "dev", "eth0"],
                         check=False, timeout=15)
        if done.returncode not in (0, 1):
            raise DeployError(inst["compute"], f"tenant: instance {name}", done.stderr.strip())
        return f" {inst['ip']}/" in done.stdout
