"""Carry out lab faults on a running lab, and heal them.

Each verb of ``lab.faultspec`` has one function here, registered with ``@verb`` together
with its undo (os-faults' paired verbs): another verb's name (``power_off`` is undone by
``power_on``), a function, or ``permanent=`` with the reason it has none (``power_on``
is itself an undo). Service faults register their verbs here too, from
``deployer.service_faults`` (they need the deployer's unit names): one registry of
every action, used by the scenario runner, ``stacklab fault`` and heal. Active faults
are recorded in the lab's state file, so ``heal`` works from another process
(``stacklab fault heal``) and after a crash.

Nodes are concrete here: the callers resolve a step's selector (``role:NAME``,
``@vip_holder``, ...) first with ``checks.cluster.select`` (the @-selectors need the
deployed cloud, which this layer does not know).

Example::

    apply("ha", PowerOff(action="power_off", node="ctl1"))
    heal("ha")
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab import engine, linkfaults
from lab import state as labstate
from lab.backends.base import Backend
from lab.clock import let_pass
from lab.errors import LabError
from lab.faultspec import FaultSpec, Freeze, LinkLoss, LinkRate, Partition, SetMtu

Act = Callable[[labstate.LabState, Backend, Any, str], None]
# Undo a fault from its record in the lab state (heal in another process has no spec):
# what went wrong, or ''.
Restore = Callable[[labstate.LabState, Backend, dict[str, Any]], str]


@dataclass(frozen=True)
class Verb:
    apply: Act
    undo: str | Act | None  # a verb name, a function, or None with ``permanent`` saying why
    permanent: str = ""
    restore: Restore | None = None  # heal's undo from the record, for verbs whose record needs more than a unit start


VERBS: dict[str, Verb] = {}


def verb(name: str, *, undo: str | Act | None = None, permanent: str = "",
         restore: Restore | None = None) -> Callable[[Act], Act]:
    """Register ``fn`` as the verb ``name``, paired with its undo (or the reason it has none)."""
    if (undo is None) == (not permanent):
        raise ValueError(f"fault verb '{name}': give its undo or, for none, permanent='why'")

    def register(fn: Act) -> Act:
        VERBS[name] = Verb(fn, undo, permanent, restore)
        return fn

    return register


def known(st: labstate.LabState, node: str) -> str:
    """``node`` if the lab has it; LabError naming the nodes it has otherwise."""
    if node in st.nodes:
        return node
    raise LabError(f"lab '{st.lab}' has no node '{node}'; nodes: {', '.join(st.nodes)}")


def apply(lab: str, spec: FaultSpec) -> list[str]:
    """Apply one fault (to every node its selector names) and record it for heal. Returns
    the notes its records carry (how it was emulated on this backend, when it was)."""
    action = getattr(spec, "action", None)
    if action not in VERBS:
        raise LabError(f"unknown fault action {action!r}; allowed: {', '.join(sorted(VERBS))}")
    with labstate.locked(lab):
        st = engine.require(lab)
        be = engine.get_backend(st.backend)
        targets = [""] if isinstance(spec, Partition) else [known(st, spec.node)]  # type: ignore[attr-defined]
        before = len(st.faults)
        for node in targets:
            VERBS[action].apply(st, be, spec, node)
        labstate.save(st)
        return [f["note"] for f in st.faults[before:] if f.get("note")]


def record(st: labstate.LabState, kind: str, node: str, **extra: Any) -> None:
    """Note a fault in the lab state (for heal, status and other processes)."""
    entry = {"kind": kind, "node": node, **extra}
    if entry not in st.faults:
        st.faults.append(entry)


def _forget(st: labstate.LabState, kind: str, node: str) -> None:
    st.faults = [f for f in st.faults if not (f["kind"] == kind and f["node"] == node)]


def _networks(st: labstate.LabState, node: str) -> list[str]:
    """Every network the node is attached to, unaddressed attachments included."""
    group = st.nodes[node].get("group")
    nets = st.topology.get("nodes", {}).get(group, {}).get("networks") if group else None
    return list(nets or st.nodes[node]["addresses"])


@verb("power_off", undo="power_on")
def power_off(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    """Links down first (the plug is pulled: nothing more leaves the node), then kill."""
    for net in _networks(st, node):
        linkfaults.link_down(st.lab, node, net)
    be.power(st.lab, node, "off")
    record(st, "power_off", node)


@verb("power_on", permanent="it is the undo of power_off")
def power_on(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    """Interfaces as a fresh boot has them, links plugged back in, then boot. Where the
    node's network namespace outlived it, it still holds any VIP keepalived had added:
    its interfaces are reset to the planned addresses first."""
    if be.capabilities.netns_survives_power_off:
        linkfaults.restore_node(st.lab, node)
    else:
        for net in _networks(st, node):
            linkfaults.link_up(st.lab, node, net)
    for fault in st.faults:  # a separate link_down on this node stays in force
        if fault["kind"] == "link_down" and fault["node"] == node:
            linkfaults.link_down(st.lab, node, fault["network"])
    be.power(st.lab, node, "on")
    _forget(st, "power_off", node)


@verb("reboot", permanent="the node is back when it ends")
def reboot(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    """A hard reset: power off and on again."""
    power_off(st, be, spec, node)
    power_on(st, be, spec, node)


@verb("freeze", undo="thaw")
def freeze(st: labstate.LabState, be: Backend, spec: Freeze, node: str) -> None:
    """Hung, not dead: every process stops, the netns keeps answering ARP and ICMP."""
    be.power(st.lab, node, "freeze")
    record(st, "freeze", node)
    if spec.duration:
        let_pass(spec.duration)  # the fault's own length
        thaw(st, be, spec, node)


@verb("thaw", permanent="it is the undo of freeze")
def thaw(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    be.power(st.lab, node, "thaw")
    _forget(st, "freeze", node)


@verb("link_down", undo="link_up")
def link_down(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    linkfaults.link_down(st.lab, node, spec.network)
    record(st, "link_down", node, network=spec.network)


@verb("link_up", permanent="it is the undo of link_down")
def link_up(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    linkfaults.link_up(st.lab, node, spec.network)
    st.faults = [f for f in st.faults if f != {"kind": "link_down", "node": node, "network": spec.network}]


@verb("link_loss", undo=lambda st, be, spec, node: linkfaults.link_loss(st.lab, node, spec.network, 0))
def link_loss(st: labstate.LabState, be: Backend, spec: LinkLoss, node: str) -> None:
    linkfaults.link_loss(st.lab, node, spec.network, spec.percent)
    record(st, "link_loss", node, network=spec.network, percent=spec.percent)


@verb("link_rate", undo=lambda st, be, spec, node: linkfaults.link_rate(st.lab, node, spec.network, None))
def link_rate(st: labstate.LabState, be: Backend, spec: LinkRate, node: str) -> None:
    linkfaults.link_rate(st.lab, node, spec.network, spec.mbit)
    record(st, "link_rate", node, network=spec.network, mbit=spec.mbit)


@verb("set_mtu", undo=lambda st, be, spec, node: linkfaults.set_mtu(
    st.lab, node, spec.network, linkfaults.find_port(st.lab, node, spec.network).mtu))
def set_mtu(st: labstate.LabState, be: Backend, spec: SetMtu, node: str) -> None:
    linkfaults.set_mtu(st.lab, node, spec.network, spec.mtu)
    record(st, "set_mtu", node, network=spec.network, mtu=spec.mtu)


@verb("partition", undo=lambda st, be, spec, node: linkfaults.partition(st.lab, []))
def partition(st: labstate.LabState, be: Backend, spec: Partition, node: str) -> None:
    groups = [sorted({known(st, n) for n in group}) for group in spec.groups]
    linkfaults.partition(st.lab, groups)
    record(st, "partition", "", groups=groups)


def heal(lab: str) -> list[dict[str, Any]]:
    """Undo every fault: thaw, link faults off, powered-off nodes back on. Returns what was undone."""
    with labstate.locked(lab):
        st = engine.require(lab)
        be = engine.get_backend(st.backend)
        undone = list(st.faults)
        off = sorted({f["node"] for f in st.faults if f["kind"] == "power_off"})
        for node in sorted({f["node"] for f in st.faults if f["kind"] == "freeze"}):
            with contextlib.suppress(LabError):  # a frozen node that was also powered off
                be.power(lab, node, "thaw")
        linkfaults.heal(lab, keep_down=off)
        st.faults = [f for f in st.faults if f["kind"] == "power_off"]
        for node in off:
            power_on(st, be, None, node)
        failed = [start_unit(st, be, f["node"], f["unit"]) for f in undone  # service faults: units run again
                  if f.get("unit") and f["node"] not in off]  # a powered-on node starts its own units
        failed += [restore(st, be, f) for f in undone if (restore := _restorer(f["kind"]))]
        st.faults = []
        labstate.save(st)
    if problems := [p for p in failed if p]:
        raise LabError("heal: " + "; ".join(problems))
    return undone


def _restorer(kind: str) -> Restore | None:
    return VERBS[kind].restore if kind in VERBS else None


def start_unit(st: labstate.LabState, be: Backend, node: str, unit: str) -> str:
    """``systemctl start UNIT`` in the node (a no-op when it runs); what went wrong, or ''."""
    done = be.run(st.lab, node, ["systemctl", "start", unit], timeout=180)
    return "" if done.ok else f"{node}: systemctl start {unit}: {(done.stderr or done.stdout).strip()[-300:]}"


def undo(lab: str, spec: FaultSpec, node: str) -> None:
    """Undo one fault on one node (``heal: [id]``), leaving every other fault in force."""
    action = getattr(spec, "action", "")
    with labstate.locked(lab):
        st = engine.require(lab)
        be = engine.get_backend(st.backend)
        net = getattr(spec, "network", "")
        if action not in VERBS:
            raise LabError(f"unknown fault action {action!r}; allowed: {', '.join(sorted(VERBS))}")
        how = VERBS[action].undo
        if how is not None:
            (VERBS[how].apply if isinstance(how, str) else how)(st, be, spec, node)
        svc = getattr(spec, "service", "")
        st.faults = [f for f in st.faults if not (f["kind"] == action and f["node"] == node
                                                  and f.get("network", net) == net and f.get("service", svc) == svc)]
        labstate.save(st)
