"""Questions about the running cluster, asked in one place: who holds the VIP, what
haproxy thinks of its backends, which controller is Galera's write primary, and which
node(s) a step's node selector names.

Checks, probes and the scenario runner's node selectors all ask here, so a question
has one answer (e.g. a frozen controller is never asked: running a command in it
would hang until it thaws).

A selector is parsed once (:func:`parse_selector`) against ``{node: roles}`` of
whatever is at hand: the lab file's topology when a scenario is validated, the running
lab's state for ``stacklab fault``, the deployed inventory when the runner resolves it
at the moment its step runs (:func:`select`; only then can ``@vip_holder`` be asked).

>>> nodes = {"ctl1": ("controller",), "ctl2": ("controller",), "cli1": ("client",)}
>>> parse_selector("role:controller", nodes), parse_selector("@vip_holder", nodes)
(Selector(kind='role', arg='controller'), Selector(kind='dynamic', arg='@vip_holder'))
>>> expand(parse_selector("role:controller", nodes), nodes)
['ctl1', 'ctl2']
>>> parse_selector("@galera_primary", {"cli1": ("client",)})
Traceback (most recent call last):
lab.errors.LabError: @galera_primary needs controller nodes; this lab has none
"""

from __future__ import annotations

import random
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple

from deployer.roles.haproxy_stat import STAT, parse_stat
from lab.errors import LabError

if TYPE_CHECKING:
    from deployer.inventory import Inventory
    from lab.backends.base import Completed
    from lab.engine import LabRef



def _run(lab: LabRef, node: str, argv: list[str], timeout: float) -> Completed:
    from lab import engine  # here: the check modules that parse with this one stay cheap to import

    return engine.run(lab, node, argv, timeout=timeout)


def haproxy_stat(lab: LabRef, node: str, timeout: float = 10) -> list[dict[str, str]]:
    """The server rows of ``node``'s haproxy."""
    return parse_stat(_run(lab, node, ["/bin/sh", "-c", STAT], timeout).stdout)


def server_status(lab: LabRef, holder: str, backend: str) -> dict[str, str]:
    """server name -> status (UP, DOWN, MAINT, 'UP 1/2', ...) in one haproxy backend."""
    return {r["svname"]: r["status"] for r in haproxy_stat(lab, holder) if r["pxname"] == backend}


def answering(lab: LabRef, nodes: list[str]) -> list[str]:
    """The nodes that run (not frozen, not powered off): the ones a command can be sent to."""
    from lab import engine

    states = engine.open_lab(lab).node_states()
    return [n for n in nodes if states.get(n) == "running"]


def vip_holders(inv: Inventory, lab: LabRef | None = None) -> list[str]:
    """The running controllers with the API VIP on an interface (``lab``: the open lab, if at hand)."""
    lab = lab or inv.lab
    return [n for n in answering(lab, inv.names("controller"))
            if f" {inv.vip}/" in _run(lab, n, ["ip", "-4", "-o", "addr", "show"], 20).stdout]


def vip_macs(inv: Inventory, lab: LabRef | None = None) -> dict[str, str]:
    """``{MAC: node}`` of the running controllers' interfaces on the VIP's network: the VIP
    prober's ARP samples name with it the node its traffic reaches (the report's holder panel)."""
    lab = lab or inv.lab
    out = {}
    for node in answering(lab, inv.names("controller")):
        done = _run(lab, node, ["cat", f"/sys/class/net/{inv.hosts[node].ifname(inv.vip_network)}/address"], 20)
        if done.ok and done.stdout.strip():
            out[done.stdout.strip()] = node
    return out


def vip_holder(inv: Inventory, lab: LabRef | None = None) -> str:
    """The one VIP holder; LabError when there is none or more than one."""
    holders = vip_holders(inv, lab)
    if len(holders) != 1:
        raise LabError(f"@vip_holder: VIP {inv.vip} is on {len(holders)} controllers ({', '.join(holders) or 'none'})")
    return holders[0]


def galera_primary(inv: Inventory) -> str:
    """The controller whose database takes the writes sent through the VIP: haproxy's
    active (non-backup) MariaDB server on the VIP holder."""
    holder = vip_holder(inv)
    for row in haproxy_stat(inv.lab, holder, timeout=20):
        if row["pxname"] == "mariadb" and row["svname"] in inv.hosts and row["bck"] == "0" \
                and row["status"].startswith("UP"):
            return row["svname"]
    raise LabError(f"@galera_primary: no active MariaDB server UP in haproxy on {holder}")


class Selector(NamedTuple):
    kind: str  # node | role | fault (the nodes an earlier fault step hit) | dynamic
    arg: str   # the node name, role, fault id, or the dynamic selector itself


Nodes = Mapping[str, Sequence[str]]  # node name -> its roles

#: The selectors answered by asking the running cloud, with the role their node always
#: has (None: any node) and the question. ``@random`` draws from the run's seeded RNG.
DYNAMIC: dict[str, tuple[str | None, Callable[[Inventory, random.Random], str]]] = {
    "@vip_holder": ("controller", lambda inv, rng: vip_holder(inv)),
    "@galera_primary": ("controller", lambda inv, rng: galera_primary(inv)),
    "@random": (None, lambda inv, rng: rng.choice(sorted(inv.hosts))),
}


def parse_selector(text: str, nodes: Nodes, fault_ids: Collection[str] = ()) -> Selector:
    """What ``text`` selects among ``nodes``; LabError naming what is allowed if nothing."""
    if text in nodes:
        return Selector("node", text)
    if text.startswith("@fault:"):
        if text[7:] in fault_ids:
            return Selector("fault", text[7:])
        known = "allowed: " + ", ".join(sorted(fault_ids)) if fault_ids else "no earlier fault step has an id"
        raise LabError(f"'{text}' names no earlier fault step; {known}")
    if text.startswith("role:"):
        roles = sorted({r for rs in nodes.values() for r in rs})
        if text[5:] in roles:
            return Selector("role", text[5:])
        raise LabError(f"no node has role '{text[5:]}'; roles in this lab: {', '.join(roles)}")
    if text in DYNAMIC:
        need = DYNAMIC[text][0]
        if need is not None and not any(need in rs for rs in nodes.values()):
            raise LabError(f"{text} needs {need} nodes; this lab has none")
        return Selector("dynamic", text)
    raise LabError(f"unknown node '{text}'; nodes: {', '.join(nodes)}; or role:NAME, {', '.join(DYNAMIC)}")


def selected_roles(sel: Selector, nodes: Nodes) -> tuple[str, ...]:
    """The roles the selected node(s) can have: what a service fault may target there."""
    if sel.kind == "node":
        return tuple(nodes[sel.arg])
    if sel.kind == "role":
        return (sel.arg,)
    need = DYNAMIC[sel.arg][0] if sel.kind == "dynamic" else None
    return (need,) if need else tuple(sorted({r for rs in nodes.values() for r in rs}))


def expand(sel: Selector, nodes: Nodes, fault_nodes: Mapping[str, list[str]] | None = None,
           ask: Callable[[str], str] | None = None) -> list[str]:
    """The concrete nodes; a dynamic selector needs ``ask`` (the running cloud)."""
    if sel.kind == "node":
        return [sel.arg]
    if sel.kind == "role":
        return [n for n, roles in nodes.items() if sel.arg in roles]
    if sel.kind == "fault" and fault_nodes is not None:
        return list(fault_nodes[sel.arg])
    if ask is None:
        raise LabError(f"{sel.arg} needs a deployed cloud; a scenario step can use it, `stacklab fault` cannot")
    return [ask(sel.arg)]


def select(text: str, inv: Inventory, rng: random.Random,
           fault_nodes: Mapping[str, list[str]] | None = None) -> list[str]:
    """The node(s) a step's selector names in the running cloud, at the moment it is asked."""
    nodes = {name: host.roles for name, host in inv.hosts.items()}
    sel = parse_selector(text, nodes, fault_nodes or {})
    return expand(sel, nodes, fault_nodes, lambda name: DYNAMIC[name][1](inv, rng))
