"""Checks that apply to every node: services of deployed components, clock sync."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from checks.registry import Verdict, check

if TYPE_CHECKING:
    from checks.infra.base import Lab

# component -> (systemd unit, roles whose nodes run it; empty = every node)
UNITS: dict[str, tuple[str, tuple[str, ...]]] = {
    "chrony": ("chrony", ()),
    "memcached": ("memcached", ("controller",)),
    "galera": ("mariadb", ("controller",)),
    "garbd": ("garb", ("galera-arbitrator",)),
    "rabbitmq": ("rabbitmq-server", ("controller",)),
    "haproxy": ("haproxy", ("controller",)),
    "keepalived": ("keepalived", ("controller",)),
    "keystone": ("keystone", ("controller",)),
}
MAX_OFFSET_S = 0.1


def expected_units(lab: Lab) -> list[tuple[str, str]]:
    """(node, unit) for every unit the deployed components run, Ceph's instances included."""
    from deployer.roles.ceph_common import mons_of  # here: check modules stay cheap to import (validate)
    from deployer.roles.ceph_osd import osd_layout

    units = [(node, unit) for component, (unit, roles) in UNITS.items() if component in lab.deployed
             for node, h in lab.inv.hosts.items() if not roles or set(roles) & set(h.roles)]
    if "ceph-mon" in lab.deployed:  # the deployer's own placement of mons and OSD ids
        units += [(h.name, f"ceph-{d}@{h.name}") for h in mons_of(lab.inv, lab.cloud) for d in ("mon", "mgr")]
    if "ceph-osd" in lab.deployed:
        units += [(n, f"ceph-osd@{i}") for n, ids in osd_layout(lab.inv, lab.cloud).items() for i in ids]
    return units


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
