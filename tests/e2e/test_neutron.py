"""Real Neutron on the `neutron` lab: agents, tenant network, HA router, floating IP,
security groups, and instances (network namespaces on real ports) talking across
computes over VXLAN. Root only. CI runs the health suite on the deployed lab (one
deploy for the module); the fault tests are nightly.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from checks.infra.base import open_lab, run_check, run_checks
from checks.infra.neutron import instances
from checks.registry import checks, suite
from deployer.deploy import deploy
from lab import engine
from lab import faults as labfaults
from lab.faultspec import PowerOff
from stacklab.validate import validate_file
from tests.e2e.conftest import NEUTRON, ROOT
from tests.e2e.test_scenarios import run as run_scenario

NEUTRON_CHECKS = [n for n in suite(once=False) if checks()[n].needs in ("neutron-server", "tenant")]


def openstack(lab: str, *args: str) -> object:
    done = engine.run(lab, "cli1", ["openstack", "--os-cloud", "stacklab", *args, "-f", "json"], timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_neutron_lab_is_healthy(neutron_lab: str) -> None:
    """Every health check that applies passes, the Neutron ones included (agents alive,
    ports ACTIVE, instance ping + HTTP across computes, SNAT, floating IP, a dropped port)."""
    lab = open_lab(neutron_lab)
    names = [n for n in suite(once=False) if checks()[n].needs not in ("ceph-mon", "ceph-osd", "dhcp_client")]
    assert set(NEUTRON_CHECKS) <= set(names) and len(NEUTRON_CHECKS) == 6
    deadline, failed = time.monotonic() + 90, {"not run": []}
    while failed and time.monotonic() < deadline:  # polled like a healthy step: the deploy just ended
        failed = {v.name: v.problems for v in run_checks(names, lab) if not v.ok or v.skipped}
    assert failed == {}
    # then, once, the security-group matrix: vm1 <-> vm2 (echo, tcp 79/80/81/8080: all let in by
    # 'default'), both instances to lb1's VIP (echo, tcp 79/80/81: 'default'), the client to vm1's
    # and lb1's floating IPs (echo and tcp/80 through 'web'; 79, 81 and vm1's 8080 dropped)
    matrix = run_check("security_group_matrix", lab)
    assert matrix.ok and matrix.figures == {"probes": 27, "allowed": 22, "mismatches": 0}, \
        (matrix.problems, matrix.figures)


def test_openstack_cli_lists_through_the_vip(neutron_lab: str) -> None:
    nets = {n["Name"] for n in openstack(neutron_lab, "network", "list")}  # type: ignore[union-attr]
    assert {"ext", "private"} <= nets
    routers = openstack(neutron_lab, "router", "list", "--long")
    assert [r["HA"] for r in routers] == [True]  # type: ignore[index, union-attr]
    agents = openstack(neutron_lab, "network", "agent", "list")
    assert len(agents) == 3 * 3 + 2  # type: ignore[arg-type]  # LB+L3+DHCP on 3 network nodes, LB on 2 computes


@pytest.mark.nightly
def test_redeploy_changes_nothing(neutron_lab: str) -> None:
    result = validate_file(NEUTRON)
    assert result.cloud is not None
    assert deploy(neutron_lab, result.cloud, say=lambda _: None).changes == []


@pytest.mark.nightly
def test_removing_the_security_group_rule_blocks_http(neutron_lab: str) -> None:
    """Port 80 is allowed by group 'web': delete that rule through the API and the client's
    HTTP to the floating IP times out; the deploy puts the rule back and it passes again."""
    rules = openstack(neutron_lab, "security", "group", "rule", "list", "web", "--protocol", "tcp", "--long")
    rule = next(r for r in rules if r["Port Range"] == "80:80")  # type: ignore[union-attr]
    engine.run(neutron_lab, "cli1", ["openstack", "--os-cloud", "stacklab", "security", "group", "rule", "delete",
                                     rule["ID"]])
    fip = next(i["fip"] for i in instances(open_lab(neutron_lab)).values() if i["fip"])
    try:
        deadline, code = time.monotonic() + 30, 0
        while time.monotonic() < deadline and code != 28:  # the agent applies the change in a few seconds
            code = engine.run(neutron_lab, "cli1", ["curl", "-s", "--connect-timeout", "3", f"http://{fip}/"]).returncode
        assert code == 28
        matrix = run_check("security_group_matrix", open_lab(neutron_lab))  # names it, and nothing else
        assert [p.split(" (")[0] for p in matrix.problems] == ["cli1 -> lb1", "cli1 -> vm1"], matrix.problems
        assert all("tcp/80: declared allowed, got silent (other sources get through" in p for p in matrix.problems)
    finally:
        result = validate_file(NEUTRON)
        assert result.cloud is not None
        deploy(neutron_lab, result.cloud, say=lambda _: None, only={"tenant"})
    verdict = run_check("floating_ip_reachable", open_lab(neutron_lab))
    assert verdict.ok, verdict.problems


@pytest.mark.nightly
def test_l3_agent_restart_keeps_the_router(neutron_lab: str) -> None:
    """KillMode=process: restarting every L3 agent leaves keepalived and the router's
    dataplane running; the floating IP answers throughout."""
    for node in ("ctl1", "ctl2", "ctl3"):
        assert engine.run(neutron_lab, node, ["systemctl", "restart", "neutron-l3-agent"]).returncode == 0
    assert engine.run(neutron_lab, "ctl1", ["pgrep", "-f", "keepalived.*ha_confs"]).returncode == 0
    verdict = run_check("floating_ip_reachable", open_lab(neutron_lab))
    assert verdict.ok, verdict.problems


@pytest.mark.nightly
def test_power_off_the_active_router_node(neutron_lab: str) -> None:
    """The network node holding the active HA router loses power: keepalived in the
    surviving qrouter namespaces takes over and the floating IP answers again."""
    hosts = openstack(neutron_lab, "network", "agent", "list", "--router", "r1", "--long")
    active = next(a["Host"] for a in hosts if a["HA State"] == "active")  # type: ignore[union-attr]
    labfaults.apply(neutron_lab, PowerOff(action="power_off", node=active))
    try:
        start, ok = time.monotonic(), False
        while time.monotonic() - start < 90 and not ok:
            ok = run_check("floating_ip_reachable", open_lab(neutron_lab)).ok
        print(f"floating IP back {time.monotonic() - start:.1f} s after powering off {active}")
        assert ok
    finally:
        labfaults.heal(neutron_lab)


@pytest.mark.nightly
def test_l3_agent_down_scenario(neutron_lab: str, tmp_path: Path) -> None:
    """scenarios/l3-agent-down.yaml on the session's lab: the agents are reported dead and
    the routers keep forwarding."""
    code, result = run_scenario(ROOT / "scenarios" / "l3-agent-down.yaml", tmp_path, neutron_lab)
    failed = [(s["label"], s["detail"]) for s in result["steps"] if s["status"] != "passed"]
    assert (code, failed) == (0, []), failed
