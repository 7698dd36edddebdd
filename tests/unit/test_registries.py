"""Invariants of the registries: what scenario files may name is backed by code.

Each name a scenario can use (check, metric, load target, fault action) is declared
once next to its code; these tests prove that the declarations and the code agree, so
a declaration without code (or code without a declaration) fails here, not in a lab.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from checks import metrics, registry
from checks.ceph_timeline import Timeline
from checks.ha_api import ApiResult, token_refusals
from checks.ha_ceph import CephReport
from checks.ha_galera import GaleraReport
from checks.ha_rabbit import RabbitReport
from checks.ha_vip import VipResult
from checks.infra.base import Lab
from checks.load import TARGETS, TOOLS, source
from checks.load.node import CONFIGS
from deployer.catalog import ROLES, SERVICES
from lab.model import Topology
from stacklab.refs import check_steps
from stacklab.scenario import Scenario

# What each family's result object says it measured, from an empty run.
RESULTS = {
    "vip": VipResult("cli1", "10.0.0.5", 5000, 0.02, [], ["ctl1"], ["ctl1"]).metrics(),
    "api": ApiResult("cli1", []).metrics(),
    "token": token_refusals([], None)[0],
    "galera": GaleraReport([], {}, "t").metrics(),
    "rabbit": RabbitReport([], [], "ctl1").metrics(),
    "ceph": CephReport(Timeline([], [], []), [], [], 0, 0, 0).metrics(),
}


@pytest.mark.parametrize("name", sorted(metrics.FAMILIES))
def test_every_declared_metric_is_what_its_probe_reports(name: str) -> None:
    fam = metrics.FAMILIES[name]
    if name == "haproxy":  # judged from its watches: the family computes the metric itself
        probe = metrics.FAMILIES[name](metrics.ProbeContext("demo", None))
        probe.start()
        assert set(probe.judge()[0]) == set(fam.metrics)
    else:
        assert set(RESULTS[name]) == set(fam.metrics)


def test_every_family_measures_a_service_some_role_runs() -> None:
    for fam in metrics.FAMILIES.values():
        assert fam.service in SERVICES, fam.name
        assert any(fam.service in role.services for role in ROLES.values()), fam.name


def test_the_schema_allows_exactly_the_produced_metrics() -> None:
    schema = str(Scenario.model_json_schema())
    for metric in metrics.METRICS:
        assert f"'{metric}'" in schema
    with pytest.raises(ValueError, match="rados_bench_iops"):
        Scenario.model_validate({"name": "x", "lab": "ha", "steps": [{"expect": {"metric": "rados_bench_iops",
                                                                                 "min": 1}}]})


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_load_target_is_honoured(target: str) -> None:
    """A target names a locustfile that exists, a config the runner ships, and a service."""
    spec = TARGETS[target]
    assert "User)" in source(spec.locustfile)  # a locust User class
    assert target in CONFIGS
    assert spec.service in SERVICES and any(spec.service in r.services for r in ROLES.values())
    assert target not in TOOLS


def test_every_check_is_one_declared_function() -> None:
    for name, spec in registry.checks().items():
        assert spec.fn.__name__ == name, f"check '{name}' is declared on {spec.fn.__name__}"
        assert list(inspect.signature(spec.fn).parameters) == ["lab", "v"], name
        assert all(r in ROLES for r in spec.roles), name
        assert spec.summary, name


def test_check_needs_name_deployable_components() -> None:
    from deployer.plan import COMPONENTS

    for name, spec in registry.checks().items():
        assert not spec.needs or spec.needs in COMPONENTS, f"{name} needs unknown component {spec.needs}"


def test_check_modules_are_found_not_listed() -> None:
    """Every module of checks/infra that declares a check is loaded by the registry."""
    infra = Path(registry.__file__).parent / "infra"
    declaring = {p.stem for p in infra.glob("*.py") if "@check(" in p.read_text()}
    loaded = {spec.fn.__module__.rsplit(".", 1)[1] for spec in registry.checks().values()}
    assert declaring == loaded


def bare(roles: list[str]) -> Topology:
    return Topology.model_validate({"networks": {"mgmt": {"cidr": "10.9.0.0/24"}},
                                    "nodes": {"n": {"count": 1, "roles": roles, "networks": ["mgmt"]}}})


def test_a_metric_nothing_in_the_lab_produces_is_rejected() -> None:
    scn = Scenario.model_validate({"name": "x", "lab": "none", "steps": [
        {"fault": {"action": "power_off", "node": "n1"}}, {"expect": {"metric": "vip_failover_s", "max": 5}}]})
    assert [(p.dotted(), p.message) for p in check_steps(scn, bare(["ceph-mon"]))] == [
        ("steps[1].expect.metric", "metric 'vip_failover_s' is measured on keepalived, which no node of this lab "
         "runs; this lab produces no metric")]
    assert check_steps(scn, bare(["controller"])) == []


def test_stacklab_fault_offers_every_fault_action() -> None:
    """The command line takes the scenario's actions (lab and service faults), plus heal."""
    from stacklab.cli import build_parser
    from stacklab.scenario import FAULT_ACTIONS

    parser = build_parser()
    fault = next(a for a in parser._subparsers._group_actions[0].choices["fault"]._actions  # type: ignore[union-attr]
                 if a.dest == "action")
    assert set(fault.choices) == {*FAULT_ACTIONS, "heal"}
    args = parser.parse_args(["fault", "--lab", "x", "stop_service", "ctl2", "service=keystone"])
    assert (args.action, args.params) == ("stop_service", ["ctl2", "service=keystone"])


def lab_of_every_role() -> Lab:
    from deployer.inventory import Host, Inventory
    from deployer.model import Cloud
    from deployer.plan import COMPONENTS

    hosts = {f"n{i}": Host(f"n{i}", (role,), {"mgmt": f"10.9.0.{10 + i}/24"}) for i, role in enumerate(sorted(ROLES))}
    inv = Inventory("demo", hosts, vip="10.9.0.5", vip_prefix=24)
    return Lab("demo", inv, set(COMPONENTS), Cloud.model_validate({"ceph": {"mons": 1}}))


def test_services_active_looks_at_every_unit_of_every_component() -> None:
    from checks.infra.common import expected_units
    from deployer.plan import COMPONENTS

    lab = lab_of_every_role()
    units = expected_units(lab)
    node_of = {h.roles[0]: name for name, h in lab.inv.hosts.items()}
    assert (node_of["controller"], "keystone") in units and (node_of["controller"], "mariadb") in units
    assert (node_of["galera-arbitrator"], "garb") in units
    assert (node_of["ceph-mon"], f"ceph-mon@{node_of['ceph-mon']}") in units
    assert (node_of["ceph-osd"], "ceph-osd@0") in units
    assert {(n, "chrony") for n in lab.inv.hosts} <= set(units)
    for name, cls in COMPONENTS.items():  # every component with a service has its unit looked at
        svc = cls().service_name()
        if svc is not None:
            assert any(u.startswith(SERVICES[svc].unit.removesuffix(".service").split("@")[0]) for _, u in units), name


def test_every_component_service_is_in_the_image() -> None:
    from deployer.catalog import image_packages
    from deployer.plan import COMPONENTS, STAGES

    for name, cls in COMPONENTS.items():
        svc = cls().service_name()
        assert svc is None or set(SERVICES[svc].packages) <= set(image_packages()), name
    assert sorted(c for s in STAGES for c in s.components) == sorted(COMPONENTS)


def test_every_lab_fault_has_an_undo_or_says_why_not() -> None:
    from deployer.service_faults import MODELS
    from lab import faults
    from lab.faultspec import LAB_FAULTS

    # a model for each verb, a verb for each model: lab faults and service faults in one registry
    assert set(faults.VERBS) == set(LAB_FAULTS) | set(MODELS)
    for name, verb in faults.VERBS.items():
        assert (verb.undo is None) == bool(verb.permanent), name
        if isinstance(verb.undo, str):  # undone by another verb, which needs no undo itself
            assert verb.undo in faults.VERBS and faults.VERBS[verb.undo].permanent, name
    with pytest.raises(ValueError, match="give its undo"):
        faults.verb("half_done")  # neither an undo nor a reason
