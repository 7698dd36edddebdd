"""Service faults: stop, kill or restart one service's systemd unit on a node, and undo.

A killed service is a crash (SIGKILL, no clean shutdown); a stopped one is an orderly
stop. Heal starts every unit a fault left down.

>>> unit_of("keystone")
'keystone.service'
"""

from __future__ import annotations

from deployer.catalog import SERVICES
from deployer.transport import LabTransport


def unit_of(service: str) -> str:
    return SERVICES[service].unit


def apply(lab: str, node: str, action: str, service: str) -> None:
    t = LabTransport(lab)
    unit = unit_of(service)
    step = f"{action} {service}"
    if action == "stop_service":
        t.run(node, ["systemctl", "stop", unit], step=step, timeout=120)
    elif action == "kill_service":
        t.run(node, ["systemctl", "kill", "--signal=SIGKILL", unit], step=step)
    elif action == "restart_service":
        t.run(node, ["systemctl", "restart", unit], step=step, timeout=180)
    else:
        raise ValueError(f"unknown service fault {action!r}")


def heal(lab: str, node: str, service: str) -> None:
    """Start the unit again (a no-op when it runs)."""
    LabTransport(lab).run(node, ["systemctl", "start", unit_of(service)], step=f"heal {service}", timeout=180)
