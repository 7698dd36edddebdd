"""Node selectors of scenario steps, resolved against the running lab at the moment the
step runs: a node name, ``role:NAME``, ``@vip_holder``, ``@galera_primary``, ``@random``.

``@random`` draws from a ``random.Random`` seeded per run; the seed is in result.json so
a run can be repeated exactly (``seed:`` in the scenario).
"""

from __future__ import annotations

import csv
import io
import random

from deployer.inventory import Inventory
from lab import engine
from lab.errors import LabError


def vip_holder(inv: Inventory) -> str:
    holders = [n for n in inv.names("controller")
               if f" {inv.vip}/" in engine.run(inv.lab, n, ["ip", "-4", "-o", "addr", "show"], timeout=20).stdout]
    if len(holders) != 1:
        raise LabError(f"@vip_holder: VIP {inv.vip} is on {len(holders)} controllers ({', '.join(holders) or 'none'})")
    return holders[0]


def galera_primary(inv: Inventory) -> str:
    """The controller whose database takes the writes sent through the VIP: haproxy's
    active (non-backup) MariaDB server on the VIP holder."""
    holder = vip_holder(inv)
    stat = engine.run(inv.lab, holder, ["/bin/sh", "-c",
                                        "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock"],
                      timeout=20).stdout
    for row in csv.DictReader(io.StringIO(stat.lstrip("# "))):
        if row["pxname"] == "mariadb" and row["svname"] in inv.hosts and row["bck"] == "0" \
                and row["status"].startswith("UP"):
            return row["svname"]
    raise LabError(f"@galera_primary: no active MariaDB server UP in haproxy on {holder}")


def resolve(selector: str, inv: Inventory, rng: random.Random,
            fault_nodes: dict[str, list[str]] | None = None) -> list[str]:
    """Concrete node names for a selector (``role:`` and ``@fault:ID`` may give several)."""
    if selector.startswith("@fault:") and fault_nodes is not None and selector[7:] in fault_nodes:
        return fault_nodes[selector[7:]]
    if selector in inv.hosts:
        return [selector]
    if selector.startswith("role:"):
        nodes = inv.names(selector[5:])
        if not nodes:
            raise LabError(f"no node has role '{selector[5:]}'")
        return nodes
    if selector == "@vip_holder":
        return [vip_holder(inv)]
    if selector == "@galera_primary":
        return [galera_primary(inv)]
    if selector == "@random":
        return [rng.choice(sorted(inv.hosts))]
    raise LabError(f"unknown node selector '{selector}'")
