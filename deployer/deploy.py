"""Deploy a cloud onto a running lab: stage by stage, component by component, with
per-component timings and a count of what changed (0 on a re-deploy).

Example::

    report = deploy("ha", cloud, say=print)
    report.changes      # [] on the second run
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from deployer.context import Context
from deployer.inventory import from_state
from deployer.model import Cloud
from deployer.pki import CA, Secrets
from deployer.plan import PENDING_ROLES, STAGES, component, critical_path
from deployer.transport import LabTransport
from lab import engine
from lab import state as labstate
from lab.model import Topology


@dataclass
class DeployReport:
    lab: str
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    pending: dict[str, list[str]] = field(default_factory=dict)  # role -> nodes not deployed yet


def context(lab: engine.LabRef, cloud: Cloud, say: Callable[[str], None] = print) -> Context:
    """The deploy context of a running lab (also used by checks that need secrets or the CA)."""
    opened = engine.open_lab(lab)
    inv = from_state(opened.state, Topology.model_validate(opened.state.topology), cloud)
    secret_dir = labstate.lab_run_dir(opened.name) / "secrets"
    secret_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    secret_dir.chmod(0o700)  # mkdir's mode is masked by the umask
    return Context(inv, cloud, LabTransport(opened), Secrets(secret_dir), CA(secret_dir / "pki", opened.name), say)


def deploy(lab: engine.LabRef, cloud: Cloud, say: Callable[[str], None] = print,
           only: set[str] | None = None) -> DeployReport:
    """Deploy every component (or ``only`` those named) in plan order."""
    opened = engine.open_lab(lab)
    ctx = context(opened, cloud, say)
    report = DeployReport(opened.name)
    start = time.monotonic()
    for stage in STAGES:
        for name in stage.components:
            if only is not None and name not in only:
                continue
            comp = component(name)
            hosts = comp.hosts(ctx)
            if not hosts:
                continue
            ctx.component, before, t0 = name, len(ctx.changes), time.monotonic()
            comp.deploy(ctx)
            comp.ready(ctx)
            report.timings[name] = round(time.monotonic() - t0, 2)
            n = len(ctx.changes) - before
            say(f"{name:<11} {','.join(h.name for h in hosts):<24} {report.timings[name]:6.1f} s  "
                f"{n} change{'s' if n != 1 else ''}")
    for role, what in PENDING_ROLES.items():
        nodes = ctx.inv.names(role)
        if nodes and only is None:
            report.pending[role] = nodes
            say(f"{role:<11} {','.join(nodes):<24} not deployed: the deployer has no {what} yet")
    report.seconds = round(time.monotonic() - start, 2)
    report.changes = ctx.changes
    if report.timings:
        path, seconds = critical_path(report.timings)
        spent = sum(report.timings.values())
        say(f"critical path {seconds:.1f} s of {spent:.1f} s in components ({seconds / spent:.2f}): "
            + " -> ".join(path))
    say(f"deploy of {opened.name}: {report.seconds:.1f} s, " +
        (f"{len(report.changes)} change(s)" if report.changes else "nothing changed"))
    components = set(report.timings) | (deployed_components(opened.name) if only is not None else set())
    (labstate.lab_run_dir(opened.name) / "deploy.json").write_text(json.dumps(
        {"cloud": cloud.model_dump(mode="json"), "components": sorted(components), **asdict(report)}, indent=2))
    return report


def deployed_cloud(lab: str) -> Cloud | None:
    """The cloud last deployed on ``lab`` (None if never deployed)."""
    path = labstate.lab_run_dir(lab) / "deploy.json"
    if not path.exists():
        return None
    return Cloud.model_validate(json.loads(path.read_text())["cloud"])


def deployed_components(lab: str) -> set[str]:
    """Components the last deploy of ``lab`` installed (empty if never deployed)."""
    path = labstate.lab_run_dir(lab) / "deploy.json"
    return set(json.loads(path.read_text())["components"]) if path.exists() else set()
