"""Load balancers (the Liberty-style emulation, ``deployer/roles/lbaas.py``) as their clients
see them: through the floating IP, a small answer AND a full-size one.

The two failures of the Liberty report each get their evidence:

- health checks pass but clients are dropped: the VIP port's security groups, evaluated
  the way Neutron applies them (``checks.net.sg``), do not admit the client on the
  listener's port;
- small responses pass, full-size ones vanish: the VIP interface in ``qlbaas-*`` claims
  more than the network carries; the path-MTU sweep from the namespace to the client
  (scapy, inside it) finds what the path carries, and the namespace interface's drop
  counter, read before and after the full-size fetch, shows where the frames died.
"""

from __future__ import annotations

import json
import shlex
from typing import TYPE_CHECKING, Any

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

CURL = "curl -s --connect-timeout 3 --max-time 6 -o /dev/null -w '%{http_code} %{size_download}'"
BIG = 65536  # bytes of /big on every member (deployer/roles/tenant.py)


def fetch(lab: Lab, client: str, url: str) -> tuple[str, int]:
    """(HTTP status, bytes) of ``url`` from the client; status '000' when nothing came."""
    out = lab.host(client).run(f"{CURL} {shlex.quote(url)}").stdout.split()
    return (out[0], int(out[1])) if len(out) == 2 and out[1].isdigit() else ("000", 0)


def tx_dropped(lab: Lab, host: str, netns: str, dev: str) -> tuple[int, int]:
    """(MTU, tx_dropped) of ``dev`` in ``netns`` on ``host``."""
    out = lab.host(host).run(f"ip -n {netns} -s -j link show dev {dev}")
    link = json.loads(out.stdout or "[{}]")[0]
    return int(link.get("mtu", 0)), int(link.get("stats64", {}).get("tx", {}).get("dropped", 0))


@check("load_balancer_serves", "every load balancer answers the client through its floating IP, small and "
       "full-size responses, its members UP", roles=("network",), needs="tenant")
def load_balancer_serves(lab: Lab, v: Verdict) -> None:
    from checks.infra.neutron import balancers
    from deployer.roles import lbaas

    declared = {lb.name: lb for lb in lab.cloud.tenant.load_balancers}
    found = {n: b for n, b in balancers(lab).items() if n in declared}
    clients = [n for n in lab.inv.names("client") if "public" in lab.inv.hosts[n].addresses]
    if not declared:
        v.skipped = "no load balancer declared"
        return
    if not clients or not any(b.get("fip") for b in found.values()):
        v.fail("needs a client node on the public network and a floating IP on a load balancer")
        return
    for name, lb in sorted(found.items()):
        spec, host = declared[name], lb["host"]
        states = lbaas.member_states(lambda node, argv: lab.host(node).run(shlex.join(argv)), host, name)
        down = sorted(m for m in spec.members if states.get(m) != "UP")
        if down:
            v.fail(f"{name} on {host}: members not UP in haproxy: {', '.join(down)} ({states or 'no answer'})",
                   blame=host)
        if lb.get("fip"):
            _judge_client_view(lab, v, clients[0], name, lb, healthy=not down)
    v.figures["load_balancers"] = len(found)


def _judge_client_view(lab: Lab, v: Verdict, client: str, name: str, lb: dict[str, Any], healthy: bool) -> None:
    from deployer.roles import lbaas

    spec = next(b for b in lab.cloud.tenant.load_balancers if b.name == name)
    url, host = f"http://{lb['fip']}:{spec.port}", lb["host"]
    small = fetch(lab, client, f"{url}/")
    if small[0] != "200":
        why = _admits(lab, client, spec) if healthy else ""
        v.fail(f"{client} -> {name} ({url}/): HTTP {small[0]}" + (f"; {why}" if why else ""), blame=host)
        return
    netns, (tap, dev) = lbaas.namespace(name), lbaas.devices(lb["port"])
    mtu, before = tx_dropped(lab, host, netns, dev)
    big = fetch(lab, client, f"{url}/big")
    v.figures[f"{name}_big_bytes"] = big[1]
    if big != ("200", BIG):
        _, after = tx_dropped(lab, host, netns, dev)
        tap_mtu = json.loads(lab.host(host).run(f"ip -j link show dev {tap}").stdout or "[{}]")[0].get("mtu")
        sweep = _path_mtu(lab, host, netns, lab.inv.hosts[client].ip("public"))
        v.fail(f"{client} -> {name} ({url}/big): small responses pass, the full-size one stops at {big[1]} of "
               f"{BIG} bytes; {host} {dev} in {netns} claims MTU {mtu}, its tap {tap} carries {tap_mtu}: "
               f"{after - before} full-size frames dropped at the veth (tx_dropped on {dev}); {sweep}", blame=host)


def _path_mtu(lab: Lab, host: str, netns: str, client_ip: str) -> str:
    """The path-MTU sweep from the load balancer's namespace to the client, as evidence."""
    from checks.probes import run_once

    found = run_once(lab.opened or lab.name, host, "net_paths", "mtu", {"targets": [client_ip]}, 60, netns=netns)
    r = found[client_ip]
    frag = r["frag_needed"]
    return (f"path MTU to {client_ip}: {r['path_mtu']} of the {r['claimed']} claimed, found in {r['seconds']} s "
            + (f"(frag-needed from {frag['from']})" if frag else "(no frag-needed: a silent drop)"))


def _admits(lab: Lab, client: str, spec: Any) -> str:
    """Why the client gets nothing while the members are UP, if the VIP port's groups (as
    Neutron has them now, named; their rules as declared) say so."""
    from checks.infra.neutron import openstack
    from checks.net import sg

    port = openstack(lab, "port", "show", f"lbaas-{spec.name}", "-c", "security_group_ids")
    names = {g["ID"]: g["Name"] for g in openstack(lab, "security", "group", "list")}
    groups = sorted(names.get(i, i) for i in port["security_group_ids"])
    source = sg.Endpoint(client, client, "", lab.inv.hosts[client].ip("public"), ())
    rules = sg.group_rules(lab.cloud.tenant)
    if sg.allows([r for g in groups for r in rules.get(g, [])], source, "tcp", spec.port):
        return ""
    declared = "" if groups == sorted(spec.security_groups) else f" (declared: [{', '.join(spec.security_groups)}])"
    return (f"health checks pass (every member UP) but the VIP port's security groups [{', '.join(groups)}]"
            f"{declared} do not admit {client} on tcp/{spec.port}: open to health checks, not to clients")
