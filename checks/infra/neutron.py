"""Neutron's health: agents alive, instance ports ACTIVE, and the tenant dataplane
itself: instance to instance across computes over VXLAN, instance to the client
through the router's SNAT, the client to a floating IP, and a security group that drops
what it does not allow.

Instances are network namespaces on real Neutron ports (``deployer.roles.tenant``);
every probe runs inside a lab node or an instance namespace, never on the host.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

AGENT_KINDS = {"Linux bridge agent": ("network", "compute"), "L3 agent": ("network",), "DHCP agent": ("network",)}
CURL = "curl -s --connect-timeout 3 --max-time 5"
PING = "ping -c 3 -i 0.2 -W 1 -q"


def openstack(lab: Lab, *args: str) -> Any:
    """``openstack ... -f json`` from the prober node (through the VIP, TLS verified)."""
    out = lab.host(lab.prober()).run(shlex.join(["openstack", "--os-cloud", "stacklab", *args, "-f", "json"]))
    if out.rc != 0:
        raise RuntimeError(f"openstack {' '.join(args)}: {(out.stderr or out.stdout).strip()[-300:]}")
    return json.loads(out.stdout)


def instances(lab: Lab) -> dict[str, dict[str, Any]]:
    """The instances the last deploy plugged (name -> port, ip, mac, compute, fip)."""
    from deployer.roles.tenant import read_instances  # here: check modules stay cheap to import

    for ctl in lab.up(lab.controllers()):
        found = read_instances(lambda node, argv: lab.host(node).run(shlex.join(argv)), ctl)
        if found:
            return found
    return {}


def in_instance(lab: Lab, inst: dict[str, Any], name: str, command: str) -> Any:
    """Run ``command`` inside instance ``name``'s namespace on its compute."""
    from deployer.roles.tenant import namespace

    return lab.host(inst["compute"]).run(f"ip netns exec {namespace(name)} {command}")


@check("neutron_agents_alive", "every Neutron agent alive and up (openstack network agent list)",
       roles=("network", "compute"), needs="neutron-server")
def neutron_agents_alive(lab: Lab, v: Verdict) -> None:
    """A linuxbridge agent on every network and compute node, L3 and DHCP on every network node."""
    agents = openstack(lab, "network", "agent", "list", "--long")
    seen = {(a["Agent Type"], a["Host"]): a for a in agents}
    for kind, roles in AGENT_KINDS.items():
        for node in sorted({n for r in roles for n in lab.inv.names(r)}):
            agent = seen.get((kind, node))
            if agent is None:
                v.fail(f"{node}: no {kind} registered")
            elif agent["Alive"] is not True or agent["State"] is not True:
                v.fail(f"{node}: {kind} alive={agent['Alive']} up={agent['State']}")
    v.figures["agents"] = len(agents)


@check("instance_ports_active", "every instance's port ACTIVE and its address leased inside the instance",
       roles=("compute",), needs="tenant")
def instance_ports_active(lab: Lab, v: Verdict) -> None:
    from deployer.roles.tenant import DEVICE_OWNER

    ports = {p["ID"]: p for p in openstack(lab, "port", "list", "--device-owner", DEVICE_OWNER, "--long")}
    found = instances(lab)
    if not found:
        v.fail("no instances recorded by the deploy")
    for name, inst in found.items():
        port = ports.get(inst["port"])
        if port is None:
            v.fail(f"{name}: port {inst['port']} is gone")
            continue
        if port["Status"] != "ACTIVE":
            v.fail(f"{name}: port {inst['port'][:8]} is {port['Status']}")
        out = in_instance(lab, inst, name, "ip -4 -o addr show dev eth0")
        if f" {inst['ip']}/" not in out.stdout:
            v.fail(f"{name} on {inst['compute']}: eth0 does not hold {inst['ip']} (DHCP): {out.stdout.strip()[:120]}")
    v.figures["instances"] = len(found)


@check("instances_reach_each_other", "ping and HTTP between instances on different computes (VXLAN)",
       roles=("compute",), needs="tenant")
def instances_reach_each_other(lab: Lab, v: Verdict) -> None:
    found = instances(lab)
    pairs = [(a, b) for a in found for b in found if found[a]["compute"] != found[b]["compute"]]
    if not pairs:
        v.fail("no two instances on different computes")
    for a, b in pairs:
        dst = found[b]["ip"]
        if in_instance(lab, found[a], a, f"{PING} {dst}").rc != 0:
            v.fail(f"{a} ({found[a]['compute']}) cannot ping {b} ({found[b]['compute']}) at {dst}")
        web = in_instance(lab, found[a], a, f"{CURL} http://{dst}:80/")
        if web.stdout.strip() != b:
            v.fail(f"{a} -> http://{dst}:80/ ({b}): rc {web.rc} {web.stdout.strip()[:60]!r}")
    v.figures["pairs"] = len(pairs)


@check("instance_snat", "every instance reaches the client on the public network through its router (SNAT)",
       roles=("network",), needs="tenant")
def instance_snat(lab: Lab, v: Verdict) -> None:
    clients = [n for n in lab.inv.names("client") if "public" in lab.inv.hosts[n].addresses]
    if not clients:
        v.fail("no client node on the public network")
        return
    dst = lab.inv.hosts[clients[0]].ip("public")
    for name, inst in instances(lab).items():
        if in_instance(lab, inst, name, f"{PING} {dst}").rc != 0:
            v.fail(f"{name} cannot ping {clients[0]} at {dst}")


def _fip_instances(lab: Lab) -> tuple[str, dict[str, dict[str, Any]]]:
    client = next((n for n in lab.inv.names("client") if "public" in lab.inv.hosts[n].addresses), "")
    return client, {n: i for n, i in instances(lab).items() if i.get("fip")}


@check("floating_ip_reachable", "the client pings every floating IP and gets its instance's HTTP answer",
       roles=("network",), needs="tenant")
def floating_ip_reachable(lab: Lab, v: Verdict) -> None:
    client, fips = _fip_instances(lab)
    if not client or not fips:
        v.fail("needs a client node on the public network and a floating IP")
        return
    for name, inst in fips.items():
        if lab.host(client).run(f"{PING} {inst['fip']}").rc != 0:
            v.fail(f"{client} cannot ping {name}'s floating IP {inst['fip']}")
        web = lab.host(client).run(f"{CURL} http://{inst['fip']}:80/")
        if web.stdout.strip() != name:
            v.fail(f"{client} -> http://{inst['fip']}:80/ ({name}): rc {web.rc} {web.stdout.strip()[:60]!r}")


@check("security_group_enforced", "a port no security group rule allows is dropped (the instance listens on it)",
       roles=("network",), needs="tenant")
def security_group_enforced(lab: Lab, v: Verdict) -> None:
    """From the client, port 8080 of every floating IP times out (dropped by the instance's
    security groups, which allow 80 only) while the instance itself answers on it."""
    client, fips = _fip_instances(lab)
    if not client or not fips:
        v.fail("needs a client node on the public network and a floating IP")
        return
    for name, inst in fips.items():
        local = in_instance(lab, inst, name, f"{CURL} http://127.0.0.1:8080/")
        if local.stdout.strip() != name:
            v.fail(f"{name}: nothing answers on its own port 8080, so a drop would prove nothing")
            continue
        outside = lab.host(client).run(f"{CURL} http://{inst['fip']}:8080/")
        if outside.rc != 28:  # 28: timed out (dropped); 0: let through; 7: refused (a reject, not a drop)
            v.fail(f"{client} -> {inst['fip']}:8080 ({name}): curl exit {outside.rc}, want a timeout (28)")
