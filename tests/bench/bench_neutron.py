"""Neutron benchmarks on the `neutron` lab: deploy time per Neutron component, the lab's
RAM, API work through the real API (20 networks; 50 instance ports bound, wired and
ACTIVE; 100 security group rules in the instances' group, API time and the time from
the first call until the dataplane lets the last rule's port through, the same for one
rule; the project's rule quota is raised through the API first), and TCP throughput instance to instance over VXLAN
vs the underlay between the same two computes. Prints figures and ratios; no asserts.

    python -m tests.bench.bench_neutron [--reuse LAB]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from checks.infra.base import open_lab
from checks.infra.neutron import instances
from deployer.catalog import image_packages
from deployer.deploy import deploy
from deployer.plan import critical_path
from deployer.roles.tenant import namespace
from lab import engine
from stacklab.validate import validate_file
from tests.bench.bench_lab import row

ROOT = Path(__file__).resolve().parents[2]
NEUTRON_PARTS = ("neutron-server", "neutron-linuxbridge-agent", "neutron-l3-agent", "neutron-dhcp-agent", "tenant")

# Runs on cli1 (openstacksdk, the node's clouds.yaml); argv[1] is the mode, prints one JSON line.
API = r'''
import json, sys, time
import openstack
conn = openstack.connect(cloud="stacklab")
mode, arg = sys.argv[1], json.loads(sys.argv[2])
t0 = time.monotonic()
if mode == "networks":
    made = [conn.network.create_network(name=f"bench-{i}") for i in range(arg["n"])]
    took = time.monotonic() - t0
    for net in made:
        conn.network.delete_network(net)
    print(json.dumps({"s": took}))
elif mode == "ports":
    sub = conn.network.find_subnet("private-sub")
    ports = [conn.network.create_port(name=f"bench-{i}", network_id=sub.network_id, binding_host_id=arg["host"],
                                      device_owner="stacklab:bench") for i in range(arg["n"])]
    print(json.dumps({"s": time.monotonic() - t0, "ports": [[p.id, p.mac_address] for p in ports]}))
elif mode == "active":
    ports = list(conn.network.ports(device_owner="stacklab:bench"))
    print(json.dumps({"active": sum(p.status == "ACTIVE" for p in ports), "all": len(ports)}))
elif mode == "delete-ports":
    for p in list(conn.network.ports(device_owner="stacklab:bench")):
        conn.network.delete_port(p)
    print(json.dumps({"s": time.monotonic() - t0}))
elif mode == "quota":  # as an operator would: room for the bench's rules in its project
    pid = conn.current_project_id
    used = len(list(conn.network.security_group_rules(project_id=pid)))
    before = conn.network.get_quota(pid).security_group_rules
    if 0 <= before < used + arg["n"] + 10:
        conn.network.update_quota(pid, security_group_rules=used + arg["n"] + 10)
    print(json.dumps({"before": before, "after": conn.network.get_quota(pid).security_group_rules, "used": used}))
elif mode == "rules":  # n rules into group 'web' (on the instances), the last one for port 8080
    sg = conn.network.find_security_group("web", project_id=conn.current_project_id)
    ids = [conn.network.create_security_group_rule(
        security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="tcp", remote_ip_prefix="0.0.0.0/0",
        port_range_min=p, port_range_max=p).id for p in [*range(10000, 10000 + arg["n"] - 1), 8080]]
    print(json.dumps({"s": time.monotonic() - t0, "ids": ids}))
elif mode == "delete-rules":
    for rid in arg["ids"]:
        conn.network.delete_security_group_rule(rid)
    print(json.dumps({"s": time.monotonic() - t0}))
'''


def api(lab: str, mode: str, **arg: object) -> dict:
    done = engine.run(lab, "cli1", ["/usr/bin/python3", "-c", API, mode, json.dumps(arg)], timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"{mode}: {done.stderr.strip()[-600:]}")
    result: dict = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def sh(lab: str, node: str, script: str, timeout: float = 300) -> str:
    done = engine.run(lab, node, ["/bin/sh", "-ec", script], timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{node}: {done.stderr.strip()[-600:]}")
    return done.stdout


def ports_active(lab: str, n: int = 50) -> None:
    """Create ``n`` ports bound to cmp1, plug a tap veth for each, wait until all ACTIVE."""
    t0 = time.monotonic()
    made = api(lab, "ports", n=n, host="cmp1")
    row(f"API: create {n} ports bound to cmp1", made["s"], "s")
    plug = "\n".join(f"ip link add tap{pid[:11]} type veth peer name bp{i}; ip link set bp{i} address {mac} up; "
                     f"ip link set tap{pid[:11]} up" for i, (pid, mac) in enumerate(made["ports"]))
    sh(lab, "cmp1", plug)
    try:
        while api(lab, "active")["active"] < n and time.monotonic() - t0 < 600:
            time.sleep(1)
        row(f"{n} ports: API call to all wired and ACTIVE", time.monotonic() - t0, "s")
    finally:
        sh(lab, "cmp1", "\n".join(f"ip link del bp{i} 2>/dev/null || true" for i in range(n)))
        api(lab, "delete-ports")


def client_reaches(lab: str, url: str, t0: float, limit: float = 180) -> float:
    """Seconds from ``t0`` until the client's HTTP to ``url`` gets an answer (``limit`` if never)."""
    while engine.run(lab, "cli1", ["curl", "-sf", "--connect-timeout", "1", url]).returncode:
        if time.monotonic() - t0 > limit:
            return limit
    return time.monotonic() - t0


def rules_enforced(lab: str, n: int = 100) -> None:
    """``n`` rules into group 'web' through the API (the last opens port 8080): the API time,
    and the time from the first call until the client's HTTP to FIP:8080 gets through (the
    agent has applied them all to the instances' ports). Then one rule alone, the same way."""
    fip = next(i["fip"] for i in instances(open_lab(lab)).values() if i["fip"])
    quota = api(lab, "quota", n=n)
    print(f"security group rule quota of the bench project: {quota['before']} -> {quota['after']} "
          f"({quota['used']} in use)")
    enforced = {}
    for count in (n, 1):
        t0 = time.monotonic()
        made = api(lab, "rules", n=count)
        try:
            row(f"API: create {count} SG rules in group 'web'", made["s"], "s")
            enforced[count] = client_reaches(lab, f"http://{fip}:8080/", t0)
            row(f"{count} SG rules: API call to enforced (client -> FIP:8080)", enforced[count], "s")
        finally:
            api(lab, "delete-rules", ids=made["ids"])
    row(f"ratio {n} rules / 1 rule, API call to enforced", enforced[n] / enforced[1], "x")


def throughput(lab: str) -> None:
    """iperf3 5 s: vm1 (cmp1) -> vm2 (cmp2) over VXLAN, then cmp1 -> cmp2 on the overlay network itself."""
    found = instances(open_lab(lab))
    vm1, vm2 = found["vm1"], found["vm2"]
    st = engine.open_lab(lab).state
    underlay = st.nodes["cmp2"]["addresses"]["overlay"].split("/")[0]

    def gbit(server: str, client: str, dst: str) -> float:
        sh(lab, "cmp2", f"{server} iperf3 -s -1 -D -p 5201")
        time.sleep(0.5)
        out = json.loads(sh(lab, "cmp1", f"{client} iperf3 -c {dst} -p 5201 -t 5 -J"))
        return float(out["end"]["sum_received"]["bits_per_second"]) / 1e9

    over = gbit(f"ip netns exec {namespace('vm2')}", f"ip netns exec {namespace('vm1')}", vm2["ip"])
    under = gbit("", "", underlay)
    row("TCP vm1 -> vm2 over VXLAN (instances on cmp1, cmp2)", over, "Gbit/s")
    row("TCP cmp1 -> cmp2 on the underlay", under, "Gbit/s")
    row("ratio VXLAN / underlay", over / under if under else 0.0, "x")
    assert vm1["compute"] != vm2["compute"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reuse", metavar="LAB", help="a running, deployed neutron lab (default: a new one)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("bench needs root (it brings a lab up)")
    result = validate_file(ROOT / "scenarios/labs/neutron.yaml")
    assert result.topology is not None and result.cloud is not None, result.messages
    # STACKLAB_TEST_PREFIX tells engineers' labs apart on a shared host, as in the tests
    name = args.reuse or f"{os.environ.get('STACKLAB_TEST_PREFIX', 'bench')[:5]}n{os.getpid() % 1000}"
    if not args.reuse:
        t0 = time.monotonic()
        engine.up(name, result.topology, packages=image_packages(), source="bench", progress=lambda _: None)
        row("up: neutron lab", time.monotonic() - t0, "s")
    try:
        if not args.reuse:
            report = deploy(name, result.cloud, say=lambda _: None)
            for component, seconds in report.timings.items():
                row(f"deploy: {component}", seconds, "s")
            neutron = sum(s for c, s in report.timings.items() if c in NEUTRON_PARTS)
            row("deploy: Neutron components (sum)", neutron, "s")
            row("deploy: everything", report.seconds, "s")
            row("ratio Neutron / everything", neutron / report.seconds, "x")
            path, seconds = critical_path(report.timings)
            row("deploy: critical path (after links, stages in turn)", seconds, "s")
            row("ratio critical path / sum of components", seconds / sum(report.timings.values()), "x")
            print("critical path:", " -> ".join(path))
        mem = {n: engine.get_backend(engine.DEFAULT).memory_bytes(name, n) or 0 for n in result.topology.node_names()}
        row("RAM of the deployed lab (memory cgroups)", sum(mem.values()) / 2**20, "MiB")
        for node, used in mem.items():
            row(f"RAM: {node}", used / 2**20, "MiB")
        row("API: create 20 networks", api(name, "networks", n=20)["s"], "s")
        ports_active(name)
        rules_enforced(name)
        throughput(name)
    finally:
        if not args.reuse:
            engine.down(name, progress=lambda _: None)


if __name__ == "__main__":
    main()
