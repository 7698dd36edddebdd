"""Tenant faults: the two mistakes of the Liberty load balancer, each with its undo.

- ``lb_vip_mtu``: the VIP interface inside ``qlbaas-NAME`` set to ``mtu`` (1500 is what
  neutron-lbaas v1 left it at); heal gives it the MTU its node-side tap carries (the
  network's, as the linuxbridge agent set it): "the MTU fixed".
- ``port_groups``: a port (a load balancer's VIP port or an instance's) put in exactly
  ``security_groups`` through the Neutron API (``[default]`` is where v1 left VIP ports); heal
  gives it back the groups it had.

``node`` is where the port is plugged: the load balancer's network node, or the
instance's compute (``port_groups`` re-plugs the tap there, see ``_regroup``); so
``names: "@fault:ID"`` matches the node the checks blame.

>>> PortGroups.model_validate({"action": "port_groups", "node": "ctl1", "load_balancer": "lb1"}).security_groups
['default']
"""

from __future__ import annotations

import json
import shlex
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from lab import faults
from lab import state as labstate
from lab.backends.base import Backend
from lab.errors import LabError
from lab.faultspec import NodeFault

REPLUG_AWAY_S = 5  # the linuxbridge agent polls its taps every 2 s: away for two polls and more
REPLUG_ACTIVE_S = 60  # the agent sets the port up again (ACTIVE) within a few polls


class LbVipMtu(NodeFault):
    """The MTU of a load balancer's VIP interface (in its qlbaas namespace)."""

    action: Literal["lb_vip_mtu"]
    KIND: ClassVar[str] = "tenant: a load balancer's VIP interface MTU (`load_balancer:`, `mtu:`)"
    UNDO: ClassVar[str] = "heal sets the MTU its node-side tap carries (the network's)"
    load_balancer: str
    mtu: int = Field(1500, ge=576, le=9000, description="1500: as neutron-lbaas v1 left it")


class PortGroups(NodeFault):
    """The security groups of a load balancer's VIP port or of an instance's port."""

    action: Literal["port_groups"]
    KIND: ClassVar[str] = "tenant: a port's security groups (`load_balancer:` or `instance:`, `security_groups:`)"
    UNDO: ClassVar[str] = "heal gives the port back the groups it had"
    load_balancer: str | None = None
    instance: str | None = None
    # not 'groups': a fault's 'groups' are node groups (partition), resolved as node selectors
    security_groups: list[str] = Field(default_factory=lambda: ["default"], min_length=1)

    @model_validator(mode="after")
    def _one_port(self) -> PortGroups:
        if (self.load_balancer is None) == (self.instance is None):
            raise ValueError("give exactly one of 'load_balancer' or 'instance'")
        return self

    def port_name(self) -> str:
        return f"lbaas-{self.load_balancer}" if self.load_balancer else f"inst-{self.instance}"


def _run(st: labstate.LabState, be: Backend, node: str, script: str, what: str) -> str:
    done = be.run(st.lab, node, ["/bin/sh", "-c", script], timeout=120)
    if not done.ok:
        raise LabError(f"{node}: {what}: {(done.stderr or done.stdout).strip()[-300:]}")
    return str(done.stdout)


def _vip_dev(name: str) -> str:
    """Shell: the namespace side of the VIP veth (``ns-...``) into $DEV, its tap into $TAP."""
    ns = shlex.quote(f"qlbaas-{name}")
    return (f"NS={ns}; DEV=$(ip -n $NS -o link show | sed -n 's/^[0-9]*: \\(ns-[^@:]*\\).*/\\1/p' | head -n1); "
            f"[ -n \"$DEV\" ] || {{ echo \"no VIP interface in $NS (is load balancer '{name}' here?)\" >&2; "
            "exit 3; }; "
            "TAP=tap${DEV#ns-}; ")


def _set_mtu(st: labstate.LabState, be: Backend, spec: LbVipMtu, node: str) -> None:
    _run(st, be, node, _vip_dev(spec.load_balancer) + f"ip -n $NS link set dev $DEV mtu {spec.mtu}",
         f"lb_vip_mtu {spec.load_balancer} {spec.mtu}")
    faults.record(st, "lb_vip_mtu", node, load_balancer=spec.load_balancer, mtu=spec.mtu)


def _mtu_fixed(st: labstate.LabState, be: Backend, node: str, name: str) -> str:
    try:
        _run(st, be, node, _vip_dev(name) + "ip -n $NS link set dev $DEV mtu $(cat /sys/class/net/$TAP/mtu)",
             f"lb_vip_mtu undo on {name}")
    except LabError as err:
        return str(err)
    return ""


def _openstack(*args: str) -> str:
    return shlex.join(["openstack", "--os-cloud", "stacklab", *args])


def _set_groups(st: labstate.LabState, be: Backend, spec: PortGroups, node: str) -> None:
    port = spec.port_name()
    shown = json.loads(_run(st, be, node, _openstack("port", "show", port, "-c", "id", "-c", "security_group_ids",
                                                     "-c", "project_id", "-f", "json"), f"port_groups: read {port}"))
    before = sorted(shown["security_group_ids"])
    # by id: every project has a group named 'default', and the admin sees them all
    listed = json.loads(_run(st, be, node, _openstack("security", "group", "list", "--project", shown["project_id"],
                                                      "-f", "json"), "port_groups: list the port's project's groups"))
    ids = {g["Name"]: g["ID"] for g in listed}
    if missing := [g for g in spec.security_groups if g not in ids]:
        raise LabError(f"{node}: port_groups: no group {', '.join(missing)} in {port}'s project; "
                       f"allowed: {', '.join(sorted(ids))}")
    _regroup(st, be, node, port, [ids[g] for g in spec.security_groups], shown["id"])
    faults.record(st, "port_groups", node, port=port, port_id=shown["id"], groups_before=before)


def _regroup(st: labstate.LabState, be: Backend, node: str, port: str, group_ids: list[str], port_id: str) -> None:
    """The port's tap taken away on ``node``, its groups set through the API, the tap given
    back: the agent tears the port down and sets it up afresh with the new groups. Why: on
    this platform the linuxbridge agent cannot apply a group change to a port it has set up
    (its ARP-spoofing refresh deletes an ebtables ``--among-src`` rule, which ebtables-nft
    1.8.9 refuses; the port stays BUILD, drops everything, and the agent retries with a
    growing back-off); a port plugged afresh is set up from nothing, as neutron-lbaas v1
    plugged its VIP port."""
    tap, away = f"tap{port_id[:11]}", f"slaway{port_id[:9]}"
    _run(st, be, node, f"ip link show dev {tap} >/dev/null || {{ echo 'no {tap} here: {port} is plugged on "
         f"another node' >&2; exit 3; }}; ip link set dev {tap} down name {away}; sleep {REPLUG_AWAY_S}",
         f"port_groups: unplug {tap}")
    try:
        group_args = [a for g in group_ids for a in ("--security-group", g)]
        _run(st, be, node, _openstack("port", "set", "--no-security-group", *group_args, port),
             f"port_groups: set {port}'s groups")
    finally:
        _run(st, be, node, f"ip link set dev {away} name {tap} up", f"port_groups: plug {tap} back")
    status = _openstack("port", "show", port, "-c", "status", "-f", "value")
    _run(st, be, node, f"for i in $(seq {REPLUG_ACTIVE_S}); do [ \"$({status})\" = ACTIVE ] && exit 0; sleep 1; done; "
         f"echo '{port} not ACTIVE {REPLUG_ACTIVE_S} s after its re-plug' >&2; exit 3",
         f"port_groups: {port} set up again")


def _groups_back(st: labstate.LabState, be: Backend, entry: dict[str, Any]) -> str:
    try:
        _regroup(st, be, entry["node"], entry["port"], entry["groups_before"], entry["port_id"])
    except LabError as err:
        return str(err)
    return ""


def _entry(st: labstate.LabState, kind: str, node: str) -> dict[str, Any]:
    found = [f for f in st.faults if f["kind"] == kind and f["node"] == node]
    if not found:
        raise LabError(f"{node}: no {kind} fault recorded to undo")
    return found[-1]


def _undo_mtu(st: labstate.LabState, be: Backend, spec: LbVipMtu, node: str) -> None:
    if problem := _mtu_fixed(st, be, node, spec.load_balancer):
        raise LabError(problem)


def _undo_groups(st: labstate.LabState, be: Backend, spec: PortGroups, node: str) -> None:
    if problem := _groups_back(st, be, _entry(st, "port_groups", node)):
        raise LabError(problem)


faults.verb("lb_vip_mtu", undo=_undo_mtu,
            restore=lambda st, be, entry: _mtu_fixed(st, be, entry["node"], entry["load_balancer"]))(_set_mtu)
faults.verb("port_groups", undo=_undo_groups, restore=_groups_back)(_set_groups)

MODELS: dict[str, type[NodeFault]] = {"lb_vip_mtu": LbVipMtu, "port_groups": PortGroups}
