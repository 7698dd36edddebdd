"""Node selectors of scenario steps, resolved against the running lab at the moment the
step runs: a node name, ``role:NAME``, ``@vip_holder``, ``@galera_primary``, ``@random``.

``@random`` draws from a ``random.Random`` seeded per run; the seed is in result.json so
a run can be repeated exactly (``seed:`` in the scenario).
"""

from __future__ import annotations

import random

from checks.cluster import galera_primary, vip_holder
from deployer.inventory import Inventory
from lab.errors import LabError


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
