"""Semantic checks of scenario steps: every node, network, service, check and fault id
a step names must exist in the lab it runs on."""

from __future__ import annotations

from checks.catalog import CHECKS
from checks.cluster import Selector, parse_selector, selected_roles
from checks.load import TARGETS
from checks.load.gates import GATES
from checks.metrics import METRICS, producer
from deployer.catalog import ROLES, SERVICES
from deployer.service_faults import ClockSkew
from deployer.validate import nodes_with_role
from lab.errors import LabError
from lab.faultspec import FaultSpec, LinkFault, NodeFault, Partition
from lab.model import Topology
from lab.problems import Path, Problem, allowed
from stacklab.scenario import (
    CheckStep,
    ExpectStep,
    FaultStep,
    HealStep,
    LoadSpec,
    LoadStep,
    Scenario,
    ServiceFault,
)


def check_steps(scn: Scenario, topo: Topology, known_ids: set[str] | None = None) -> list[Problem]:
    """Every reference problem of the steps; ``known_ids`` are fault ids taken as defined
    (those of steps that failed the schema)."""
    problems: list[Problem] = []
    fault_ids: set[str] = set(known_ids or ())
    for i, step in enumerate(scn.steps):
        path: Path = ("steps", i)
        if isinstance(step, FaultStep):
            problems += _check_fault(step.fault, topo, path + ("fault",), fault_ids)
        elif isinstance(step, HealStep) and step.heal != "all":
            for j, fid in enumerate(step.heal):
                if fid not in fault_ids:
                    known = allowed(fault_ids) if fault_ids else "no earlier fault step has an id"
                    problems.append(Problem(path + ("heal", j), f"unknown fault id '{fid}'; {known}"))
        elif isinstance(step, CheckStep):
            problems += _check_applies(step.check, topo, path + ("check",))
        elif isinstance(step, ExpectStep) and step.expect.check is not None:
            problems += _check_applies(step.expect.check, topo, path + ("expect", "check"))
            if step.expect.names is not None:
                problems += _selector(step.expect.names, topo, path + ("expect", "names"), fault_ids)
        elif isinstance(step, ExpectStep) and step.expect.metric is not None:
            earlier = [s.fault for s in scn.steps[:i] if isinstance(s, FaultStep)]
            problems += _check_metric(step.expect.metric, topo, earlier, path + ("expect", "metric"))
        elif isinstance(step, LoadStep):
            later_fault = any(isinstance(s, FaultStep) for s in scn.steps[i + 1:])
            problems += _check_load(step.load, topo, path + ("load",), later_fault)
    return problems


def _check_load(load: LoadSpec, topo: Topology, path: Path, later_fault: bool) -> list[Problem]:
    """The lab honours the target (its roles are there), the node exists, and a gate that
    compares with a pre-fault baseline belongs to a background load with a fault after it."""
    problems = [] if load.node is None else _selector(load.node, topo, path + ("node",))
    service = TARGETS[load.target].service
    if service not in lab_services(topo):
        honoured = [t for t, spec in TARGETS.items() if spec.service in lab_services(topo)]
        problems.append(Problem(path + ("target",), f"load target '{load.target}' loads {service}, which no node "
                                f"of this lab runs; {allowed(honoured) if honoured else 'this lab honours none'}"))
    for gate in load.sla:
        if GATES[gate].needs_fault and not (load.background and later_fault):
            problems.append(Problem(path + ("sla", gate), f"gate '{gate}' compares with the time before a fault: "
                                    "it needs 'background: true' and a fault step after this load step"))
    return problems


def _check_metric(metric: str, topo: Topology, earlier: list[FaultSpec], path: Path) -> list[Problem]:
    """Something in this lab, with the steps before, can produce the metric: a node runs the
    service its probe measures, and a metric measured from a fault has a fault before it."""
    fam = producer(metric)
    if fam.service not in lab_services(topo):
        return [Problem(path, f"metric '{metric}' is measured on {fam.service}, which no node of this lab runs; "
                        f"{allowed(here) if (here := producible(topo)) else 'this lab produces no metric'}")]
    if not _fed(metric, earlier):
        here = [m for m in producible(topo) if _fed(m, earlier)]
        return [Problem(path, f"metric '{metric}' is measured from a fault: it needs {fam.fed_by_text} "
                        f"before this step; {allowed(here) if here else 'no metric can be expected here'}")]
    return []


def _fed(metric: str, earlier: list[FaultSpec]) -> bool:
    """A metric measured from a fault has a fault step before it that its family takes."""
    fam = producer(metric)
    return not METRICS[metric].after_fault or any(
        fam.fed_by(f.action, getattr(f, "service", None)) for f in earlier)  # type: ignore[attr-defined]


def producible(topo: Topology) -> list[str]:
    """The metrics something in this lab can produce (the allowed values of ``expect.metric``)."""
    return [m for m in METRICS if producer(m).service in lab_services(topo)]


def lab_services(topo: Topology) -> set[str]:
    """The services (deployer.catalog.SERVICES) some node of the lab runs, from its roles."""
    return {svc for r in topo.roles() if r in ROLES for svc in ROLES[r].services}


def _check_applies(name: str, topo: Topology, path: Path) -> list[Problem]:
    roles = CHECKS[name].roles
    if roles and not roles_present(topo, roles):
        return [Problem(path, f"check '{name}' needs a node with role {' or '.join(roles)}; this lab has none")]
    return []


def roles_present(topo: Topology, roles: tuple[str, ...]) -> bool:
    return any(nodes_with_role(topo, r) for r in roles)


def _check_fault(fault: FaultSpec, topo: Topology, path: Path, ids: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    known = set(ids)  # a fault's own id is not yet an earlier one
    if fault.id is not None:
        if fault.id in ids:
            problems.append(Problem(path + ("id",), f"fault id '{fault.id}' is used twice"))
        ids.add(fault.id)
    ids = known
    if isinstance(fault, Partition):
        return problems + _check_partition(fault, topo, path, ids)
    assert isinstance(fault, NodeFault)  # every other fault targets one node selector
    sel, bad = _parsed(fault.node, topo, path + ("node",), ids)
    problems += bad
    node = next((n for n in topo.expand() if n.name == fault.node), None)
    if isinstance(fault, LinkFault):
        nets = node.networks if node else tuple(topo.networks)
        if fault.network not in nets:
            where = f"{node.name} is not on" if node else "no"
            problems.append(Problem(path + ("network",), f"{where} network '{fault.network}'; {allowed(nets)}"))
    if isinstance(fault, ServiceFault) and sel is not None:
        problems += _check_service(fault.service, selected_roles(sel, topo_nodes(topo)), path)
    if isinstance(fault, ClockSkew) and sel is not None:
        roles = selected_roles(sel, topo_nodes(topo))
        for i, service in enumerate(fault.services):
            problems += [Problem(p.path[:-1] + ("services", i), p.message)
                         for p in _check_service(service, roles, path)]
    return problems


def _check_service(service: str, roles: tuple[str, ...], path: Path) -> list[Problem]:
    if any(service in ROLES[r].services for r in roles if r in ROLES):
        return []
    runs = sorted(r for r, spec in ROLES.items() if service in spec.services)
    return [Problem(path + ("service",), f"no targeted node runs '{service}' ({SERVICES[service].unit}); "
                    f"it comes with role {' or '.join(runs)}")]


def _check_partition(fault: Partition, topo: Topology, path: Path, ids: set[str]) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for g, group in enumerate(fault.groups):
        for j, sel in enumerate(group):
            here = path + ("groups", g, j)
            problems += _selector(sel, topo, here, ids)
            if sel in seen and seen[sel] != g:
                problems.append(Problem(here, f"'{sel}' is in partition groups {seen[sel]} and {g}"))
            seen.setdefault(sel, g)
    return problems


def _selector(sel: str, topo: Topology, path: Path, ids: set[str] | None = None) -> list[Problem]:
    """Valid: a node name, ``role:NAME`` of a role some node has, an @ selector, or
    ``@fault:ID`` (the nodes an earlier fault step with that id hit)."""
    return _parsed(sel, topo, path, ids)[1]


def _parsed(sel: str, topo: Topology, path: Path, ids: set[str] | None) -> tuple[Selector | None, list[Problem]]:
    try:
        return parse_selector(sel, topo_nodes(topo), ids or ()), []
    except LabError as e:
        return None, [Problem(path, str(e))]


def topo_nodes(topo: Topology) -> dict[str, tuple[str, ...]]:
    """``{node: roles}`` of the lab file, what selectors are parsed against."""
    return {n.name: tuple(n.roles) for n in topo.expand()}
