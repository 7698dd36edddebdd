"""Service faults: stop, kill or restart one service's systemd unit on a node, and undo;
and ``clock_skew``, a node's clock as its services see it, moved by an offset.

Each action is one row of ``ACTIONS`` (its systemctl verb and how long it may take),
registered as a verb of ``lab.faults`` with its undo (start the unit again; a no-op
when it runs): the scenario runner, ``stacklab fault`` and heal carry service faults
exactly as lab faults, and the schema's service-fault actions come from this table. A
killed service is a crash (SIGKILL, no clean shutdown); a stopped one is an orderly stop.

>>> unit_of("keystone"), sorted(ACTIONS)
('keystone.service', ['kill_service', 'restart_service', 'stop_service'])

A clock skew on a backend whose nodes share the host's kernel clock (LXC) cannot move
the node's clock: it moves the clock the named services see, by a systemd drop-in that
preloads libfaketime into their units (in ``/run``: a reboot of the node drops it, as
it would any runtime setting), and restarts them; heal removes it and restarts them
again. Its record in the lab state says so (``note``). libfaketime moves the services'
monotonic clock by the same offset (consistently: their timers and sleeps still work).

>>> ClockSkew.model_validate({"action": "clock_skew", "node": "ctl1", "offset": "-2h",
...     "services": ["keystone"]}).offset
-7200.0
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field

from deployer.catalog import SERVICES
from deployer.tenant_faults import MODELS as TENANT_MODELS
from lab import faults
from lab import state as labstate
from lab.backends.base import Backend
from lab.errors import LabError
from lab.faultspec import NodeFault
from lab.modelbase import parse_duration


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


MAX_SKEW_S = 366 * 86400.0
SKEW_DROPIN = "stacklab-clock-skew.conf"
# libfaketime's path differs per architecture; the node's shell finds it (package faketime).
FAKETIME_GLOB = "/usr/lib/*/faketime/libfaketime.so.1"


def parse_offset(value: Any) -> float:
    """Signed seconds from ``-2h``, ``+90s``, ``-7200`` (a duration with an optional sign).

    >>> parse_offset("-1h30m"), parse_offset("+45s"), parse_offset(-10)
    (-5400.0, 45.0, -10.0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and value.strip()[:1] in "+-":
        text = value.strip()
        seconds = (-1 if text[0] == "-" else 1) * parse_duration(text[1:])
    else:
        seconds = parse_duration(value)
    if seconds == 0 or abs(seconds) > MAX_SKEW_S:
        raise ValueError(f"a clock offset is non-zero and at most a year either way (e.g. -2h, +90s), got {value}")
    return seconds


class ClockSkew(NodeFault):
    """The node's clock as the named services see it, moved by ``offset`` (ahead with +,
    behind with -). On containers (one kernel clock) only those services see it."""

    action: Literal["clock_skew"]
    KIND: ClassVar[str] = "the clock services see (`offset:`, `services:` NAMES; libfaketime on containers)"
    UNDO: ClassVar[str] = "heal takes the skew off and restarts them"
    offset: Annotated[float, BeforeValidator(parse_offset)] = Field(description="e.g. -2h (behind), +10m (ahead)")
    services: list[Literal[tuple(sorted(SERVICES))]] = Field(  # type: ignore[valid-type]
        min_length=1, description="the services whose clock moves (libfaketime on containers)")


def _dropin(unit: str) -> str:
    return f"/run/systemd/system/{unit}.d/{SKEW_DROPIN}"


def _skew(st: labstate.LabState, be: Backend, spec: ClockSkew, node: str) -> None:
    if be.capabilities.own_wall_clock:
        raise LabError(f"clock_skew on backend {be.name}: moving a node's own clock is not implemented yet")
    units = [unit_of(s) for s in spec.services]
    # libfaketime moves CLOCK_MONOTONIC too: its option not to (FAKETIME_DONT_FAKE_MONOTONIC)
    # breaks Python 3.11's time.sleep (EINVAL from clock_nanosleep, libfaketime#426), so a
    # clock set back further than the node's uptime would read a negative monotonic time.
    guard = f"[ $(cut -d. -f1 /proc/uptime) -gt {-spec.offset + 60:.0f} ] || {{ echo 'the node is up for less " \
            f"than the offset: set back this far, its services would read a negative monotonic clock' >&2; " \
            "exit 3; }; " if spec.offset < 0 else ""
    body = f"[Service]\nEnvironment=LD_PRELOAD=$lib\nEnvironment=FAKETIME={spec.offset:+.0f}\n"
    script = f"set -e; {guard}lib=$(ls {FAKETIME_GLOB} | head -n1); [ -n \"$lib\" ]; " + "; ".join(
        f"mkdir -p {shlex.quote(_dropin(u).rsplit('/', 1)[0])}; printf '%s' \"{body}\" > {shlex.quote(_dropin(u))}"
        for u in units) + f"; systemctl daemon-reload; systemctl restart {shlex.join(units)}"
    done = be.run(st.lab, node, ["/bin/sh", "-c", script], timeout=240)
    if not done.ok:
        _restore_units(st, be, node, units)
        raise LabError(f"{node}: clock_skew {spec.offset:+.0f}s on {', '.join(units)}: "
                       f"{(done.stderr or done.stdout).strip()[-300:]}")
    faults.record(st, "clock_skew", node, offset=spec.offset, units=units,
                  note=f"{node}: {', '.join(units)} see the clock {spec.offset:+.0f} s off (libfaketime: "
                       + (f"nodes on backend {be.name} share the host's kernel clock" if be.capabilities.shared_clock
                          else f"moving a {be.name} node's own clock is not implemented yet")
                       + "; the node's own clock is unchanged)")


def _restore_units(st: labstate.LabState, be: Backend, node: str, units: list[str]) -> str:
    """Drop-ins gone and the units restarted on the real clock (only where a drop-in was)."""
    script = "; ".join(f"if [ -e {shlex.quote(_dropin(u))} ]; then rm -f {shlex.quote(_dropin(u))}; "
                       f"todo=\"$todo {u}\"; fi" for u in units)
    script = f"todo=''; {script}; [ -z \"$todo\" ] || {{ systemctl daemon-reload && systemctl restart $todo; }}"
    done = be.run(st.lab, node, ["/bin/sh", "-c", script], timeout=240)
    return "" if done.ok else f"{node}: clock_skew undo: {(done.stderr or done.stdout).strip()[-300:]}"


def _unskew(st: labstate.LabState, be: Backend, spec: ClockSkew, node: str) -> None:
    if problem := _restore_units(st, be, node, [unit_of(s) for s in spec.services]):
        raise LabError(problem)


faults.verb("clock_skew", undo=_unskew,
            restore=lambda st, be, entry: _restore_units(st, be, entry["node"], entry["units"]))(_skew)

# Every action this module registers, with its parameter model (the scenario schema's).
MODELS: dict[str, type[NodeFault]] = {**{name: ServiceFault for name in ACTIONS}, "clock_skew": ClockSkew,
                                      **TENANT_MODELS}
