"""Neutron's health: agents alive, instance ports ACTIVE, and the tenant dataplane
itself: instance to instance across computes over VXLAN, instance to the client
through the router's SNAT, the client to a floating IP, and the security-group matrix
(``checks.net.sg``): what gets through is what the declared groups allow.

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
    from deployer.roles.tenant import STATE  # here: check modules stay cheap to import

    return _recorded(lab, STATE)


def balancers(lab: Lab) -> dict[str, dict[str, Any]]:
    """The load balancers the last deploy plugged (name -> port, ip, host, fip, ...)."""
    from deployer.roles.lbaas import STATE

    return _recorded(lab, STATE)


def _recorded(lab: Lab, path: str) -> dict[str, dict[str, Any]]:
    """What the tenant deploy recorded in ``path`` on every controller, read from the first
    one up that has it ({} if none)."""
    for ctl in lab.up(lab.controllers()):
        try:
            found: dict[str, dict[str, Any]] = json.loads(lab.host(ctl).run(f"cat {shlex.quote(path)}").stdout)
        except ValueError:
            continue
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


@check("security_group_matrix", "every source (instances, the client via floating IPs) against every instance "
       "and port that matters: what gets through is what the declared security groups allow",
       roles=("compute",), needs="tenant", once=True)
def security_group_matrix(lab: Lab, v: Verdict) -> None:
    """The intent is computed from ``cloud.tenant`` (``checks.net.sg``); scapy SYNs and
    echoes from inside every source classify each answer (open, closed, rejected, silent).
    Targets: every instance and every load balancer VIP. A mismatch names the node where
    the target's groups are enforced (the instance's compute, the load balancer's node)."""
    from checks.net import sg
    from deployer.roles.tenant import HTTP_PORTS, namespace

    found, vips = instances(lab), balancers(lab)
    targets = sg.targets(lab.cloud.tenant, found, vips, HTTP_PORTS)
    groups = {t.name: t.groups for t in targets}
    sources = [sg.Endpoint(n, i["compute"], namespace(n), i["ip"], groups[n]) for n, i in sorted(found.items())]
    client, _ = _fip_instances(lab)
    if client:
        sources.append(sg.Endpoint(client, client, "", lab.inv.hosts[client].ip("public"), ()))
    probes = sg.matrix(lab.cloud.tenant, sources, targets)
    if not probes:
        v.fail("nothing to probe: no two instances, and no floating IP with a client on the public network")
        return
    observed = sg.scan(lab.opened or lab.name, sources, probes)
    where = {**{n: i["compute"] for n, i in found.items()}, **{n: b["host"] for n, b in vips.items()}}
    for probe, outcome in sg.mismatches(observed):  # blamed where the target's groups are enforced
        v.fail(sg.describe(probe, outcome, observed), blame=where[probe.target])
    v.figures.update(probes=len(probes), allowed=sum(p.allowed for p in probes),
                     mismatches=len(v.problems))
