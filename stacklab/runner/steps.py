"""The steps a scenario runs, in order, with the implicit opening and closing ones:
every scenario starts healthy and, unless its fault is permanent, ends with heal +
healthy (Tobiko's health -> disrupt -> health).

>>> from stacklab.scenario import Scenario
>>> s = Scenario.model_validate({"name": "x", "lab": "ha", "steps": [{"fault": {"action": "power_off",
...     "node": "ctl1"}}]})
>>> [p.label for p in plan(s)]
['check healthy', 'fault power_off ctl1', 'heal all', 'check healthy']
>>> s.steps.insert(0, Scenario.model_validate({"name": "x", "lab": "ha", "steps": [{"load": {
...     "target": "keystone", "background": True}}]}).steps[0])
>>> [p.label for p in plan(s)][-1]
'load end keystone: gates'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stacklab.scenario import CheckStep, ExpectStep, FaultStep, HealStep, LoadStep, Scenario, WaitStep


class ExpectationFailed(AssertionError):
    """An expectation did not hold: the scenario's verdict for that step."""


@dataclass(frozen=True)
class LoadEnd:
    """Implicit, after the closing heal: stop the background loads and judge their gates."""

    targets: tuple[str, ...]


@dataclass(frozen=True)
class Planned:
    index: int  # position in the scenario file; -1 for implicit steps
    step: Any
    implicit: bool = False

    @property
    def kind(self) -> str:
        return type(self.step).__name__.removesuffix("Step").lower()

    @property
    def label(self) -> str:
        return describe(self.step)


def describe(step: Any) -> str:
    """One line a person can read: ``fault power_off @vip_holder``."""
    if isinstance(step, CheckStep):
        return f"check {step.check}"
    if isinstance(step, FaultStep):
        f = step.fault
        target = getattr(f, "node", None) or " | ".join(",".join(g) for g in getattr(f, "groups", []))
        extra = "".join(f" {k}={v}" for k, v in f.model_dump(exclude={"action", "node", "groups", "id"},
                                                             exclude_none=True).items())
        return f"fault {getattr(f, 'action', '?')} {target}{extra}"
    if isinstance(step, LoadStep):
        return f"load {step.load.target} users={step.load.users} run_time={step.load.run_time:g}s" + (
            " (background)" if step.load.background else "")
    if isinstance(step, WaitStep):
        return f"wait {step.wait:g}s"
    if isinstance(step, ExpectStep):
        e = step.expect
        if e.check:
            return f"expect check {e.check} {e.outcome}" + (f" naming {e.names}" if e.names else "")
        bounds = " ".join(f"{k} {v:g}" for k, v in (("min", e.min), ("max", e.max)) if v is not None)
        return f"expect {e.metric} {bounds}"
    if isinstance(step, HealStep):
        return "heal " + (step.heal if step.heal == "all" else ",".join(step.heal))
    if isinstance(step, LoadEnd):
        return f"load end {','.join(step.targets)}: gates"
    return type(step).__name__


def plan(scn: Scenario) -> list[Planned]:
    steps = [Planned(i, s) for i, s in enumerate(scn.steps)]
    first = scn.steps[0]
    if not (isinstance(first, CheckStep) and first.check == "healthy"):
        steps.insert(0, Planned(-1, CheckStep(check="healthy"), implicit=True))
    tail = scn.steps[-2:]
    ends_healed = (len(tail) == 2 and isinstance(tail[0], HealStep) and tail[0].heal == "all"
                   and isinstance(tail[1], CheckStep) and tail[1].check == "healthy")
    if not (scn.permanent or ends_healed):
        steps.append(Planned(-1, HealStep(heal="all"), implicit=True))
        steps.append(Planned(-1, CheckStep(check="healthy"), implicit=True))
    background = tuple(s.load.target for s in scn.steps if isinstance(s, LoadStep) and s.load.background)
    if background:  # a background load ends after the closing heal (and its healthy check)
        steps.append(Planned(-1, LoadEnd(background), implicit=True))
    return steps
