"""Model behaviour beyond error messages: address plan, durations, registries, doctests."""

from __future__ import annotations

import doctest
import importlib
import ipaddress

import pytest

from lab.faultspec import LAB_FAULTS
from lab.model import Topology, address_plan, check_topology
from lab.modelbase import parse_duration
from stacklab.scenario import FAULT_ACTIONS, Scenario

DOCTESTED = ["lab.model", "lab.modelbase", "lab.problems", "lab.faultspec", "deployer.catalog",
             "deployer.model", "checks.catalog", "stacklab.scenario", "stacklab.yamlsrc", "stacklab.validate",
             "stacklab.runner.steps", "checks.ha_metrics", "lab.clock", "checks.registry", "checks.metrics",
             "checks.cluster", "stacklab.runner.probes", "lab.backends", "lab.backends.lxc.config",
             "stacklab.cli_fault", "deployer.plan", "deployer.roles.neutron_common", "deployer.scripts",
             "checks.ceph_timeline", "checks.ha_ceph"]


@pytest.mark.parametrize("module", DOCTESTED)
def test_docstring_examples(module: str) -> None:
    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0


def topo(**extra: object) -> Topology:
    data = {
        "networks": {"mgmt": {"cidr": "10.0.0.0/24"}, "overlay": {"cidr": "10.0.1.0/24", "first_host": 100}},
        "nodes": {"ctl": {"count": 2, "networks": ["mgmt"]}, "cmp": {"count": 2, "networks": ["mgmt", "overlay"]}},
    }
    data.update(extra)
    return Topology.model_validate(data)


def test_address_plan_counts_up_from_first_host_skipping_vips_and_statics() -> None:
    t = topo(vips={"api": {"network": "mgmt", "address": "10.0.0.11"}},
             links=[{"node": "cmp2", "network": "mgmt", "address": "10.0.0.12"}])
    plan = address_plan(t)
    assert str(plan["ctl1"]["mgmt"]) == "10.0.0.10/24"
    assert str(plan["ctl2"]["mgmt"]) == "10.0.0.13/24"  # .11 is the VIP, .12 cmp2's static address
    assert str(plan["cmp1"]["mgmt"]) == "10.0.0.14/24"
    assert str(plan["cmp2"]["mgmt"]) == "10.0.0.12/24"
    assert str(plan["cmp1"]["overlay"]) == "10.0.1.100/24"
    assert "overlay" not in plan["ctl1"]
    assert check_topology(t) == []


def test_address_plan_addresses_are_unique_and_inside_cidr() -> None:
    t = topo()
    plan = address_plan(t)
    for net_name, net in t.networks.items():
        addrs = [ifs[net_name] for ifs in plan.values() if net_name in ifs]
        assert len(set(addrs)) == len(addrs)
        assert all(ipaddress.IPv4Address(a.ip) in net.cidr for a in addrs)


@pytest.mark.parametrize(("text", "seconds"), [(10, 10.0), (2.5, 2.5), ("10s", 10.0), ("500ms", 0.5),
                                               ("1m30s", 90.0), ("2m", 120.0), ("1h", 3600.0), ("1m500ms", 60.5)])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10 s", "s", "1ms1s", "-1s", True, None, "10x"])
def test_bad_durations(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def schema_actions() -> set[str]:
    """The fault actions the scenario JSON schema accepts, read from the schema itself."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            action = node.get("properties", {}).get("action") if isinstance(node.get("properties"), dict) else None
            if isinstance(action, dict):
                found.update([action["const"]] if "const" in action else action.get("enum", []))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(Scenario.model_json_schema())
    return found


def test_every_fault_action_in_the_schema_is_carried_out() -> None:
    """An action a file may name has code behind it: a lab verb or a service fault, and no more."""
    from deployer import service_faults
    from lab import faults

    assert schema_actions() == set(faults.VERBS) | set(service_faults.MODELS)
    assert set(FAULT_ACTIONS) == schema_actions()
    with pytest.raises(ValueError, match="power_of"):
        Scenario.model_validate({"name": "x", "lab": "ha", "steps": [{"fault": {"action": "power_of",
                                                                                "node": "ctl1"}}]})


def test_every_fault_verb_parses_in_a_scenario() -> None:
    samples = {
        "power_off": {"node": "ctl1"}, "power_on": {"node": "ctl1"}, "reboot": {"node": "ctl1"},
        "freeze": {"node": "ctl1", "duration": "30s"}, "thaw": {"node": "ctl1"},
        "link_down": {"node": "ctl1", "network": "mgmt"}, "link_up": {"node": "ctl1", "network": "mgmt"},
        "link_loss": {"node": "ctl1", "network": "mgmt", "percent": 30},
        "link_rate": {"node": "ctl1", "network": "mgmt", "mbit": 10},
        "set_mtu": {"node": "ctl1", "network": "mgmt", "mtu": 1400},
        "partition": {"groups": [["ctl1"], ["ctl2", "ctl3"]]},
    }
    assert set(samples) == set(LAB_FAULTS), "add a sample for the new fault verb"
    steps = [{"fault": {"action": a, **p}} for a, p in samples.items()]
    scn = Scenario.model_validate({"name": "all", "lab": "ha", "steps": steps})
    assert [s.fault.action for s in scn.steps] == list(samples)  # type: ignore[union-attr]


@pytest.mark.parametrize("fault", ["power_off", "keystone_stop", "freeze"])
def test_bench_ha_trials_are_valid_scenarios(fault: str) -> None:
    """The HA bench builds its trials as scenarios: they must stay valid as the schema moves."""
    from stacklab.runner.steps import plan
    from tests.bench.bench_ha import METRICS, trial_scenario

    labels = [p.label for p in plan(trial_scenario(fault))]
    assert labels[0] == "check healthy" and labels[-2:] == ["heal all", "check healthy"]
    assert [m for m in METRICS if f"expect {m} max 1e+06" in labels] == list(METRICS)


def test_weak_nodes_cpu_cap_and_standing_rates() -> None:
    t = topo(nodes={"pi": {"count": 2, "networks": ["mgmt", "overlay"], "cpus": 0.5, "memory_mib": 1024,
                           "rate_mbit": 100}},
             links=[{"node": "pi2", "network": "overlay", "rate_mbit": 1000}])
    assert [(n.cpus, n.memory_mib) for n in t.expand()] == [(0.5, 1024), (0.5, 1024)]
    assert t.rates() == {("pi1", "mgmt"): 100.0, ("pi1", "overlay"): 100.0, ("pi2", "mgmt"): 100.0,
                         ("pi2", "overlay"): 1000.0}
    assert topo().rates() == {}


@pytest.mark.parametrize("group", [{"cpus": 0.01}, {"cpus": 65}, {"rate_mbit": 0}, {"rate_mbit": -1}])
def test_weak_nodes_out_of_range_are_refused(group: dict) -> None:
    with pytest.raises(ValueError):
        topo(nodes={"pi": {"networks": ["mgmt"], **group}})


def test_lxc_config_caps_cpu_and_memory(tmp_path: object) -> None:
    from pathlib import Path

    from lab.backends.base import NodeSpec
    from lab.backends.lxc.config import render_config
    from lab.image import Image

    image = Image("h", Path("/img"), Path("/img/rootfs"), {})
    text = render_config(NodeSpec("pi1", "pi1", "/run/netns/x", 1024, 0.5), image, Path("/n"))
    assert "cpu.cfs_quota_us = 50000" in text or "cpu.max = 50000 100000" in text
    assert str(1024 * 2**20) in text
    plain = render_config(NodeSpec("ctl1", "ctl1", "/run/netns/x"), image, Path("/n"))
    assert "cpu" not in plain.replace("lxc.arch", "")
