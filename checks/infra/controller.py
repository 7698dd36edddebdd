"""Checks of the HA control plane: VIP, haproxy backends, Galera, RabbitMQ, Keystone.

Each looks from inside the nodes (testinfra over ``lab://``); API requests go from a
non-controller node through the VIP over TLS, verified with the lab CA.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from checks.registry import Verdict, check
from deployer.roles.haproxy_stat import STAT, parse_stat

if TYPE_CHECKING:
    from checks.infra.base import Lab

RABBITMQCTL = "runuser -u rabbitmq -- timeout -s KILL 10 /usr/lib/rabbitmq/bin/rabbitmqctl"
CACERT = "/usr/local/share/ca-certificates/stacklab-{lab}.crt"


@check("vip_single_holder", "the API VIP on exactly one node", roles=("controller",), needs="keepalived")
def vip_single_holder(lab: Lab, v: Verdict) -> None:
    """The API VIP is configured on exactly one controller."""
    holders = [n for n in lab.controllers()
               if f" {lab.inv.vip}/" in lab.host(n).run("ip -4 -o addr show").stdout]
    v.figures["vip_holder"] = holders[0] if len(holders) == 1 else ",".join(holders)
    if len(holders) != 1:
        v.fail(f"VIP {lab.inv.vip} is held by {len(holders)} controllers: {', '.join(holders) or 'none'}")


@check("haproxy_backends_up", "haproxy sees every backend UP", roles=("controller",), needs="haproxy")
def haproxy_backends_up(lab: Lab, v: Verdict) -> None:
    """Every controller's haproxy sees every backend server UP."""
    down = 0
    for node in lab.controllers():
        out = lab.host(node).run(STAT)
        if out.rc != 0:
            v.fail(f"{node}: haproxy stats socket: {(out.stderr or out.stdout).strip()[:200]}")
            continue
        for row in parse_stat(out.stdout):
            if not row["status"].startswith("UP"):
                down += 1
                v.fail(f"{node}: backend {row['pxname']}/{row['svname']} is {row['status']}")
    v.figures["backends_down"] = down


WSREP_STATUS = "mysql -N -B -e \"SHOW GLOBAL STATUS LIKE 'wsrep_%'\""


def wsrep(stdout: str) -> dict[str, str]:
    return dict(line.split("\t", 1) for line in stdout.splitlines() if "\t" in line)


@check("galera_quorum", "the controllers that are up are in a Primary component (quorum held)",
       roles=("controller",), needs="galera")
def galera_quorum(lab: Lab, v: Verdict) -> None:
    """The controllers that are up are in a Primary component: a dead peer is tolerated,
    lost quorum is not (two-node Galera without an arbitrator fails this when one dies)."""
    up = lab.up(lab.controllers())
    v.figures["controllers_up"] = up
    if not up:
        v.fail("no controller is up")
    for node, out in zip(up, lab.each(up, WSREP_STATUS), strict=True):
        status = wsrep(out.stdout)
        if out.rc != 0:
            v.fail(f"{node}: mysql: {out.stderr.strip()[:200]}")
        elif status.get("wsrep_cluster_status") != "Primary":
            v.fail(f"{node}: wsrep_cluster_status is {status.get('wsrep_cluster_status')}, not Primary: "
                   f"the {status.get('wsrep_cluster_size', '?')} node(s) it sees have no quorum")


@check("galera_synced", "Galera cluster complete, Primary and Synced", roles=("controller",), needs="galera")
def galera_synced(lab: Lab, v: Verdict) -> None:
    """Every controller: Primary component, Synced, cluster size = controllers (+ arbitrators)."""
    expected = len(lab.controllers()) + len(lab.inv.names("galera-arbitrator"))
    for node in lab.controllers():
        out = lab.host(node).run(WSREP_STATUS)
        if out.rc != 0:
            v.fail(f"{node}: mysql: {out.stderr.strip()[:200]}")
            continue
        status = wsrep(out.stdout)
        size = int(status.get("wsrep_cluster_size", "0"))
        v.figures[f"{node}_cluster_size"] = size
        if status.get("wsrep_cluster_status") != "Primary":
            v.fail(f"{node}: wsrep_cluster_status is {status.get('wsrep_cluster_status')}, not Primary")
        if status.get("wsrep_local_state_comment") != "Synced":
            v.fail(f"{node}: wsrep_local_state_comment is {status.get('wsrep_local_state_comment')}, not Synced")
        if size != expected:
            v.fail(f"{node}: wsrep_cluster_size is {size}, expected {expected}")


@check("rabbitmq_cluster", "all RabbitMQ members running, no partition", roles=("controller",), needs="rabbitmq")
def rabbitmq_cluster(lab: Lab, v: Verdict) -> None:
    """Every controller's RabbitMQ sees all members running and no partition."""
    expected = {f"rabbit@{n}" for n in lab.controllers()}
    nodes = lab.controllers()
    for node, out in zip(nodes, lab.each(nodes, f"{RABBITMQCTL} cluster_status --formatter json"), strict=True):
        try:
            status = json.loads(out.stdout)
        except ValueError:
            v.fail(f"{node}: rabbitmqctl cluster_status failed: {(out.stderr or out.stdout).strip()[:200]}")
            continue
        running = set(status.get("running_nodes", []))
        if running != expected:
            v.fail(f"{node}: running members {sorted(running)}, expected {sorted(expected)}")
        if status.get("partitions"):
            v.fail(f"{node}: partitions {status['partitions']}")


@check("api_available", "Keystone answers through the VIP", roles=("controller",), needs="keystone")
def api_available(lab: Lab, v: Verdict) -> None:
    """Keystone answers through the VIP over TLS (lab CA verified) from a non-controller node."""
    node = lab.prober()
    url = f"https://{lab.inv.vip_name}:5000/v3"
    out = lab.host(node).run(f"curl -sS -o /dev/null -w '%{{http_code}} %{{time_total}}' --max-time 10 {url}")
    code, _, seconds = out.stdout.partition(" ")
    v.figures["latency_s"] = float(seconds) if seconds else None
    if out.rc != 0 or code != "200":
        v.fail(f"{node}: GET {url} gave {code or 'no answer'}: {out.stderr.strip()[:200]}")


@check("keystone_token", "a token issued through the VIP over TLS and valid on every controller",
       roles=("controller",), needs="clouds")
def keystone_token(lab: Lab, v: Verdict) -> None:
    """A token issued through the VIP (openstack CLI, clouds.yaml) validates on every controller
    that is up (a powered-off one is services_active's finding, not this check's)."""
    node = lab.prober()
    out = lab.host(node).run("openstack --os-cloud stacklab token issue -f value -c id")
    token = out.stdout.strip()
    if out.rc != 0 or not token:
        v.fail(f"{node}: openstack token issue failed: {(out.stderr or out.stdout).strip()[-300:]}")
        return
    up = lab.up(lab.controllers())
    v.figures["controllers_down"] = [c for c in lab.controllers() if c not in up]
    for ctl in up:
        ip = lab.inv.hosts[ctl].ip("mgmt")
        check = lab.host(node).run(
            f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 10 -H 'X-Auth-Token: {token}' "
            f"-H 'X-Subject-Token: {token}' http://{ip}:5001/v3/auth/tokens")
        if check.stdout.strip() != "200":
            v.fail(f"token from {node} does not validate on {ctl} (HTTP {check.stdout.strip() or 'none'})")
