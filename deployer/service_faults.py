"""Service faults: stop, kill or restart one service's systemd unit on a node, and undo.

Each action is one row of ``ACTIONS`` (its systemctl verb and how long it may take);
the scenario schema's service-fault actions and ``stacklab fault`` are built from it.
A killed service is a crash (SIGKILL, no clean shutdown); a stopped one is an orderly
stop. The undo of every action is the same: start the unit again (a no-op when it runs).

>>> unit_of("keystone"), sorted(ACTIONS)
('keystone.service', ['kill_service', 'restart_service', 'stop_service'])
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from deployer.catalog import SERVICES
from lab.faultspec import NodeFault

if TYPE_CHECKING:
    from deployer.transport import LabTransport


@dataclass(frozen=True)
class Action:
    argv: tuple[str, ...]  # systemctl arguments before the unit
    timeout: float


ACTIONS: dict[str, Action] = {
    "stop_service": Action(("systemctl", "stop"), 120),
    "kill_service": Action(("systemctl", "kill", "--signal=SIGKILL"), 120),
    "restart_service": Action(("systemctl", "restart"), 180),
}
UNDO = Action(("systemctl", "start"), 180)


class ServiceFault(NodeFault):
    """Stop, kill or restart one service's systemd unit on a node."""

    action: Literal[tuple(sorted(ACTIONS))]  # type: ignore[valid-type]
    service: Literal[tuple(sorted(SERVICES))]  # type: ignore[valid-type]


def unit_of(service: str) -> str:
    return SERVICES[service].unit


def _transport(lab: str) -> LabTransport:
    from deployer.transport import LabTransport  # here: the schema imports this module, keep it light

    return LabTransport(lab)


def apply(lab: str, node: str, action: str, service: str) -> None:
    if action not in ACTIONS:
        raise ValueError(f"unknown service fault {action!r}; allowed: {', '.join(sorted(ACTIONS))}")
    todo = ACTIONS[action]
    _transport(lab).run(node, [*todo.argv, unit_of(service)], step=f"{action} {service}", timeout=todo.timeout)


def heal(lab: str, node: str, service: str) -> None:
    """Start the unit again (a no-op when it runs)."""
    _transport(lab).run(node, [*UNDO.argv, unit_of(service)], step=f"heal {service}", timeout=UNDO.timeout)
