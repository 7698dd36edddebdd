"""Service faults: stop, kill or restart one service's systemd unit on a node, and undo.

Each action is one row of ``ACTIONS`` (its systemctl verb and how long it may take),
registered as a verb of ``lab.faults`` with its undo (start the unit again; a no-op
when it runs): the scenario runner, ``stacklab fault`` and heal carry service faults
exactly as lab faults, and the schema's service-fault actions come from this table. A
killed service is a crash (SIGKILL, no clean shutdown); a stopped one is an orderly stop.

>>> unit_of("keystone"), sorted(ACTIONS)
('keystone.service', ['kill_service', 'restart_service', 'stop_service'])
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Any, Literal

from deployer.catalog import SERVICES
from lab import faults
from lab import state as labstate
from lab.backends.base import Backend
from lab.errors import LabError
from lab.faultspec import NodeFault


@dataclass(frozen=True)
class Action:
    argv: tuple[str, ...]  # systemctl arguments before the unit
    timeout: float


ACTIONS: dict[str, Action] = {
    "stop_service": Action(("systemctl", "stop"), 120),
    "kill_service": Action(("systemctl", "kill", "--signal=SIGKILL"), 120),
    "restart_service": Action(("systemctl", "restart"), 180),
}


class ServiceFault(NodeFault):
    """Stop, kill or restart one service's systemd unit on a node."""

    action: Literal[tuple(sorted(ACTIONS))]  # type: ignore[valid-type]
    service: Literal[tuple(sorted(SERVICES))]  # type: ignore[valid-type]


def unit_of(service: str) -> str:
    return SERVICES[service].unit


def _apply(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    unit, todo = unit_of(spec.service), ACTIONS[spec.action]
    argv = [*todo.argv, unit]
    done = be.run(st.lab, node, argv, timeout=todo.timeout)
    if not done.ok:
        raise LabError(f"{node}: {spec.action} {spec.service}: `{shlex.join(argv)}` exited {done.returncode}: "
                       f"{(done.stderr or done.stdout).strip()[-300:]}")
    faults.record(st, spec.action, node, service=spec.service, unit=unit)


def _undo(st: labstate.LabState, be: Backend, spec: Any, node: str) -> None:
    if problem := faults.start_unit(st, be, node, unit_of(spec.service)):
        raise LabError(problem)


for _name in ACTIONS:
    faults.verb(_name, undo=_undo)(_apply)
