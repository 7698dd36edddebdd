"""The security-group intent (checks.net.sg) on the neutron lab's own tenant: what each
source should get through to each instance, and which outcomes are mismatches."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from checks.net import sg
from deployer.model import Cloud, Tenant

ROOT = Path(__file__).resolve().parents[2]
CLOUD = yaml.safe_load((ROOT / "scenarios/labs/neutron.yaml").read_text())["cloud"]
TENANT = Cloud.model_validate(CLOUD).tenant
INSTANCES = {"vm1": {"ip": "192.168.10.11", "fip": "10.50.2.150", "compute": "cmp1"},
             "vm2": {"ip": "192.168.10.12", "compute": "cmp2"}}
VIPS = {"lb1": {"ip": "192.168.10.50", "fip": "10.50.2.151", "host": "ctl1"}}
SOURCES = [sg.Endpoint("vm1", "cmp1", "inst-vm1", "192.168.10.11", ("default", "web")),
           sg.Endpoint("vm2", "cmp2", "inst-vm2", "192.168.10.12", ("default", "web")),
           sg.Endpoint("cli1", "cli1", "", "10.50.2.1", ())]


def changed(edit: Callable[[dict[str, Any]], None]) -> Tenant:
    cloud = copy.deepcopy(CLOUD)
    edit(cloud["tenant"])
    return Cloud.model_validate(cloud).tenant


def intent() -> dict[tuple[str, str, str, int], bool]:
    return {(p.source, p.target, p.proto, p.port): p.allowed
            for p in sg.matrix(TENANT, SOURCES, sg.targets(TENANT, INSTANCES, VIPS, (80, 8080)))}


def test_instances_in_default_reach_each_other_on_every_port() -> None:
    want = {("vm1", "vm2", "icmp", 0), ("vm1", "vm2", "tcp", 79), ("vm1", "vm2", "tcp", 80),
            ("vm1", "vm2", "tcp", 81), ("vm1", "vm2", "tcp", 8080)}
    got = intent()
    assert {k for k in got if k[:2] == ("vm1", "vm2")} == want
    assert all(got[k] for k in want)


def test_the_client_gets_only_what_web_allows_and_only_to_floating_ips() -> None:
    got = {k: v for k, v in intent().items() if k[:2] == ("cli1", "vm1")}
    assert got == {("cli1", "vm1", "icmp", 0): True, ("cli1", "vm1", "tcp", 79): False,
                   ("cli1", "vm1", "tcp", 80): True, ("cli1", "vm1", "tcp", 81): False,
                   ("cli1", "vm1", "tcp", 8080): False}


def test_a_remote_cidr_excludes_sources_outside_it() -> None:
    tenant = changed(lambda t: t["security_groups"][0]["rules"][1].update(remote_cidr="192.168.10.0/24"))
    got = {(p.source, p.target, p.proto, p.port): p.allowed
           for p in sg.matrix(tenant, SOURCES, sg.targets(tenant, INSTANCES, {}, (80,)))}
    assert got[("cli1", "vm1", "tcp", 80)] is False and got[("vm2", "vm1", "tcp", 80)] is True


def test_a_group_without_default_admits_only_its_rules() -> None:
    tenant = changed(lambda t: t["instances"][1].update(security_groups=["web"]))  # vm2 without 'default'
    got = {(p.source, p.target, p.proto, p.port): p.allowed
           for p in sg.matrix(tenant, SOURCES, sg.targets(tenant, INSTANCES, {}, (80, 8080)))}
    assert [k[2:] for k, v in got.items() if k[:2] == ("vm1", "vm2") and v] == [("icmp", 0), ("tcp", 80)]


def test_mismatches_both_ways_and_the_some_but_not_all_hint() -> None:
    probes = {p: ("open" if p.allowed else "silent", 0)
              for p in sg.matrix(TENANT, SOURCES, sg.targets(TENANT, INSTANCES, {}, (80, 8080)))}
    assert sg.mismatches(probes) == []
    dropped = next(p for p in probes if (p.source, p.target, p.port) == ("cli1", "vm1", 80))
    leaked = next(p for p in probes if (p.source, p.target, p.port) == ("cli1", "vm1", 8080))
    probes[dropped], probes[leaked] = ("silent", 0), ("closed", 0)
    found = sg.mismatches(probes)
    assert sorted(p.port for p, _ in found) == [80, 8080]
    text = sg.describe(dropped, "silent", probes)
    assert "declared allowed, got silent" in text and "open to some, not to this one" in text
    assert sg.describe(leaked, "closed", probes).endswith("declared dropped, got closed")


def test_the_load_balancer_vip_is_a_target_with_its_own_groups_and_port() -> None:
    got = {k: v for k, v in intent().items() if k[1] == "lb1"}
    assert got[("cli1", "lb1", "tcp", 80)] is True and got[("cli1", "lb1", "tcp", 81)] is False
    assert got[("vm1", "lb1", "tcp", 80)] is True  # 'default' on the VIP port admits the members
    default_only = changed(lambda t: t["load_balancers"][0].update(security_groups=["default"]))
    vip = {(p.source, p.port): p.allowed for p in sg.matrix(default_only, SOURCES, sg.targets(default_only, INSTANCES,
                                                                                                 VIPS, (80,)))
           if p.target == "lb1" and p.proto == "tcp"}
    assert vip[("cli1", 80)] is False and vip[("vm1", 80)] is True  # the Liberty VIP: members in, clients out
