"""Checks that apply to every node: services of deployed components, clock sync."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

MAX_OFFSET_S = 0.1


def expected_units(lab: Lab) -> list[tuple[str, str]]:
    """(node, unit) for every unit the deployed components run, as each component declares."""
    from deployer.plan import COMPONENTS  # here: check modules stay cheap to import (validate)

    return [u for name in sorted(lab.deployed) if name in COMPONENTS
            for u in COMPONENTS[name]().units(lab.inv, lab.cloud)]


@check("services_active", "every role's systemd units active")
def services_active(lab: Lab, v: Verdict) -> None:
    """Every unit of every deployed component is active on every node that should run it."""
    units = expected_units(lab)
    nodes = sorted({node for node, _ in units})
    up = lab.up(nodes)
    for node in (n for n in nodes if n not in up):
        v.fail(f"{node}: the node does not answer (powered off?): none of its units can run")
    for node, unit in units:
        if node in up and not lab.host(node).service(unit).is_running:
            v.fail(f"{node}: {unit} is not running")
    v.figures["units_checked"] = len(units)


@check("chrony_synced", "every node within 100 ms of the controllers' clock", needs="chrony")
def chrony_synced(lab: Lab, v: Verdict) -> None:
    """Every node has a selected time source and is within 100 ms of it."""
    worst = 0.0
    for node in lab.inv.names():
        out = lab.host(node).run("chronyc -n tracking")
        ref = re.search(r"Reference ID\s*:\s*(\S+)", out.stdout)
        offset = re.search(r"Last offset\s*:\s*([-+]?[0-9.]+) seconds", out.stdout)
        if out.rc != 0 or not ref or not offset:
            v.fail(f"{node}: chronyc tracking failed: {(out.stderr or out.stdout).strip()[:200]}")
            continue
        is_server = "controller" in lab.inv.hosts[node].roles
        if ref.group(1) == "00000000" and not is_server:
            v.fail(f"{node}: no time source selected yet")
        worst = max(worst, abs(float(offset.group(1))))
        if abs(float(offset.group(1))) > MAX_OFFSET_S:
            v.fail(f"{node}: clock offset {float(offset.group(1)) * 1000:.1f} ms > {MAX_OFFSET_S * 1000:.0f} ms")
    v.figures["max_offset_ms"] = round(worst * 1000, 3)
