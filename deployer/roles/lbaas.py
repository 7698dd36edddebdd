"""Load balancers the way Liberty's neutron-lbaas v1 built them: an EMULATION, since that
driver no longer ships. Every step follows its haproxy namespace driver
(``neutron_lbaas/services/loadbalancer/drivers/haproxy/namespace_driver.py`` and ``cfg.py``):

1. ``plug_vip_port``: the VIP port is bound to the agent's host with device_owner
   ``neutron:LOADBALANCER`` (``deployer/scripts/tenant.py``; no security group given, so
   Neutron puts it in ``default``);
2. ``vif_driver.plug``: the linuxbridge interface driver makes a veth, ``tap`` + the port
   id's first 11 characters on the node (the agent bridges it and applies the groups) and
   ``ns-`` + the same inside namespace ``qlbaas-<pool>``; no MTU is passed, so the
   namespace side keeps 1500 whatever the network's MTU (the Liberty bug). The
   linuxbridge agent of this release sets the node-side tap to the network's MTU, so
   full-size frames now die entering the tap (Liberty lost them at the bridge's egress
   into ``vxlan-N``): the loss is the same, the counter that shows it differs.
   ``ns-...`` gets ``gso_max_segs 1``, so every TCP segment leaves as a frame of its own,
   as on the report's physical path: with segmentation offload, a 64 KiB super-packet
   passes the veth's MTU test (the kernel lets GSO packets through) and is cut to the
   network's size further on, which would hide the bug;
3. ``init_l3``: the port's address on ``ns-...``; the subnet's gateway as default route;
4. ``haproxy -f conf -p pid`` inside the namespace, its configuration built as ``cfg.py``
   built it: global, defaults (retries 3, redispatch, 5 s connect, 50 s client/server),
   a frontend on VIP:port, a roundrobin backend with ``option httpchk GET /`` and
   ``check inter Ns fall N`` on each member. It runs as a transient unit, in the
   foreground (``-db``), so it goes with the lab.

Members serve HTTP on the load balancer's port (``deployer/roles/tenant.py``): ``/`` is
their name (small), ``/big`` 64 KiB (every full-size segment of it).
"""

from __future__ import annotations

import shlex
from typing import Any

from deployer.model import LoadBalancer

STATE = "/var/lib/stacklab/lbaas.json"  # on every controller: the load balancers plugged, for checks
V1_MTU = 1500  # what the v1 driver left on the namespace side (it passed no MTU)

PLUG_SH = r"""
NS={ns}; TAP={tap}; DEV={dev}; MAC={mac}; MTU={mtu}; DIR=/var/lib/stacklab/lbaas/{name}
[ -e /run/netns/$NS ] || {{ ip netns add $NS; echo changed; }}
ip -n $NS link set lo up
ip link show dev $TAP >/dev/null 2>&1 || {{ ip link add $TAP type veth peer name $DEV netns $NS; echo changed; }}
ip link set dev $TAP up
ip -n $NS link set dev $DEV address $MAC mtu $MTU up
ip -n $NS link set dev $DEV gso_max_segs 1
ip -n $NS addr replace {cidr} dev $DEV
{route}
mkdir -p $DIR
printf '%s\n' {config} > $DIR/conf.new
if ! cmp -s $DIR/conf.new $DIR/conf; then mv $DIR/conf.new $DIR/conf; echo changed
  systemctl stop stacklab-lbaas-{name} 2>/dev/null || true; fi
systemctl is-active -q stacklab-lbaas-{name} || {{
  systemd-run -q --unit stacklab-lbaas-{name} --collect -p Restart=always /bin/ip netns exec $NS \
    /usr/sbin/haproxy -db -f $DIR/conf -p $DIR/pid; echo changed; }}
"""


def namespace(name: str) -> str:
    return f"qlbaas-{name}"


def devices(port_id: str) -> tuple[str, str]:
    """(node side, namespace side): the linuxbridge interface driver's names."""
    return f"tap{port_id[:11]}", f"ns-{port_id[:11]}"


def stats_socket(name: str) -> str:
    return f"/var/lib/stacklab/lbaas/{name}/sock"


def config(lb: LoadBalancer, vip: str, members: dict[str, str]) -> list[str]:
    """haproxy.cfg as the v1 driver's cfg.py built it (one line per list item)."""
    mode = lb.protocol
    lines = ["global", "\tdaemon", "\tuser nobody", "\tgroup nogroup", "\tlog /dev/log local0",
             "\tlog /dev/log local1 notice", f"\tstats socket {stats_socket(lb.name)} mode 0666 level user",
             "defaults", "\tlog global", "\tretries 3", "\toption redispatch", "\ttimeout connect 5000",
             "\ttimeout client 50000", "\ttimeout server 50000",
             f"frontend vip-{lb.name}", "\toption tcplog", f"\tbind {vip}:{lb.port}", f"\tmode {mode}",
             f"\tdefault_backend pool-{lb.name}"]
    lines += ["\toption forwardfor"] if mode == "http" else []
    lines += [f"backend pool-{lb.name}", f"\tmode {mode}", "\tbalance roundrobin"]
    lines += ["\toption forwardfor"] if mode == "http" else []
    lines += [f"\ttimeout check {lb.health_inter_s}s"]
    lines += ["\toption httpchk GET /", "\thttp-check expect rstatus 200"] if mode == "http" else []
    lines += [f"\tserver {member} {address}:{lb.port} weight 1 check inter {lb.health_inter_s}s "
              f"fall {lb.health_fall}" for member, address in sorted(members.items())]
    return lines


def plug_script(lb: LoadBalancer, port: dict[str, Any], members: dict[str, str]) -> str:
    tap, dev = devices(port["port"])
    route = f"ip -n $NS route replace default via {port['gateway']}" if port.get("gateway") else ":"
    return PLUG_SH.format(ns=namespace(lb.name), tap=tap, dev=dev, mac=shlex.quote(port["mac"]),
                          mtu=lb.mtu or V1_MTU, name=lb.name, cidr=f"{port['ip']}/{port['prefix']}", route=route,
                          config=" ".join(shlex.quote(line) for line in config(lb, port["ip"], members)))


def member_states(run: Any, host: str, name: str) -> dict[str, str]:
    """Each member's status in the load balancer's haproxy (UP, DOWN, ...), read from its
    stats socket as the v1 driver's ``get_stats`` did; {} when haproxy does not answer."""
    out = run(host, ["sh", "-c", f"echo 'show stat -1 4 -1' | socat -t 2 stdio unix-connect:{stats_socket(name)}"])
    lines = [line for line in out.stdout.splitlines() if line and not line.startswith("#")]
    header: list[str] = next((line.lstrip("# ").split(",") for line in out.stdout.splitlines()
                              if line.startswith("#")), [])
    if "svname" not in header or "status" not in header:
        return {}
    name_at, status_at = header.index("svname"), header.index("status")
    return {cols[name_at]: cols[status_at].split(" ")[0] for cols in (line.split(",") for line in lines)
            if len(cols) > max(name_at, status_at)}
