"""The Liberty load balancer's two failure modes (scenarios vxlan-mtu-blackhole and
sg-vip-default) on the session's `neutron` lab, whose lb1 is the Liberty-style load
balancer (deployer/roles/lbaas.py). CI runs vxlan-mtu-blackhole, the network family's CI
scenario, on the neutron lab it deploys anyway; sg-vip-default and both mutation checks
(without the fault only the detectors fail) are nightly. Root only.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT
from tests.e2e.test_scenarios import only_detectors_fail, run

# scenario -> (the expect step that must catch the fault, words its problem must say)
EVIDENCE = {
    "vxlan-mtu-blackhole": ("expect check load_balancer_serves fail naming @fault:v1-mtu",
                            ["small responses pass", "claims MTU 1500", "carries 1450", "tx_dropped",
                             "path MTU to 10.50.2.1: 1450 of the 1500 claimed", "no frag-needed: a silent drop"]),
    "sg-vip-default": ("expect check load_balancer_serves fail naming @fault:vip-default",
                       ["every member UP", "[default] do not admit", "open to health checks, not to clients"]),
}
# the mutant's labels: without the fault, an expectation naming it loses its 'names'
DETECTORS = {
    "vxlan-mtu-blackhole": {"expect check load_balancer_serves fail"},
    "sg-vip-default": {"expect check load_balancer_serves fail", "expect check security_group_matrix fail"},
}


@pytest.mark.parametrize("name", ["vxlan-mtu-blackhole", pytest.param("sg-vip-default", marks=pytest.mark.nightly)])
def test_the_scenario_passes_and_says_why(neutron_lab: str, name: str, tmp_path: Path) -> None:
    code, result = run(ROOT / "scenarios" / f"{name}.yaml", tmp_path, neutron_lab)
    failed = [(s["label"], s["detail"]) for s in result["steps"] if s["status"] != "passed"]
    assert (code, failed) == (0, []), failed
    label, words = EVIDENCE[name]
    problems = " ".join(next(s for s in result["steps"] if s["label"] == label)["figures"]["problems"])
    assert all(w in problems for w in words), problems


@pytest.mark.nightly
@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_without_the_fault_only_the_detectors_fail(neutron_lab: str, name: str, tmp_path: Path) -> None:
    only_detectors_fail(name, DETECTORS[name], tmp_path, neutron_lab)
