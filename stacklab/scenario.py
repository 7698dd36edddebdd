"""Scenario and lab files: the topology + cloud pair, and the steps run against it.

A step is a one-key mapping whose key is its kind (``check``, ``fault``, ``load``,
``wait``, ``expect``, ``heal``); a fault is tagged by ``action``. Both unions are
built from the registries in ``lab.faultspec``, ``deployer.catalog`` and
``checks.catalog``, so the schema's enums always match the code.

>>> s = Scenario.model_validate({"name": "x", "lab": "ha",
...     "steps": [{"check": "healthy"}, {"wait": "2s"}, {"heal": "all"}]})
>>> [type(st).__name__ for st in s.steps], s.steps[1].wait
(['CheckStep', 'WaitStep', 'HealStep'], 2.0)
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias, Union

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from checks.catalog import CHECKS, LOAD_TARGETS, METRICS
from checks.load.gates import GATES
from deployer.model import Cloud
from deployer.service_faults import MODELS, ServiceFault
from lab.faultspec import LAB_FAULTS, FaultSpec
from lab.model import Topology
from lab.modelbase import Duration, Name, StrictModel

FAULT_ID = re.compile(r"^[a-z][a-z0-9-]*$")
STEP_KINDS = ("check", "expect", "fault", "heal", "load", "wait")
__all__ = ["SERVICE_FAULTS", "ServiceFault"]


def _literal(names: Any) -> Any:
    """A Literal type of registry names: the schema enum comes from the code."""
    return Literal[tuple(sorted(names))]


if TYPE_CHECKING:  # the enums are built at run time from the registries
    CheckName: TypeAlias = str
    MetricName: TypeAlias = str
    LoadTarget: TypeAlias = str
    GateName: TypeAlias = str
else:
    CheckName = _literal(CHECKS)
    MetricName = _literal(METRICS)
    LoadTarget = _literal(LOAD_TARGETS)
    GateName = _literal(GATES)


SERVICE_FAULTS = tuple(sorted(MODELS))  # declared with their code in deployer.service_faults
FAULT_ACTIONS = tuple(sorted((*LAB_FAULTS, *SERVICE_FAULTS)))


def _fault_tag(value: Any) -> str | None:
    action = value.get("action") if isinstance(value, dict) else getattr(value, "action", None)
    if action in SERVICE_FAULTS:
        return f"<{MODELS[action].__name__}>"
    return f"<{action}>" if action in LAB_FAULTS else None


# Tags are wrapped in <> so the error formatter can drop them from YAML paths.
if TYPE_CHECKING:
    Fault: TypeAlias = FaultSpec
else:
    _FAULT_MEMBERS = tuple(Annotated[cls, Tag(f"<{name}>")] for name, cls in LAB_FAULTS.items())
    Fault = Annotated[
        Union[(*_FAULT_MEMBERS, *(Annotated[cls, Tag(f"<{cls.__name__}>")] for cls in dict.fromkeys(MODELS.values())))],
        Discriminator(_fault_tag, custom_error_type="fault_action", custom_error_message="fault action"),
    ]


class CheckStep(StrictModel):
    check: CheckName


class FaultStep(StrictModel):
    fault: Fault


class LoadSpec(StrictModel):
    """Locust, headless in a lab node, bounded by users, spawn rate and run time; its SLA
    gates (``checks.load.gates.GATES``) are judged from its per-request event log when it
    ends: at the step itself, or for a background load after the scenario's closing heal."""

    target: LoadTarget
    users: int = Field(10, ge=1, le=200)
    spawn_rate: float = Field(10.0, gt=0, le=100, description="users started per second")
    run_time: Duration = Field(60.0, gt=0, le=1800, description="upper bound; a background load is stopped "
                               "earlier, after the closing heal")
    background: bool = False
    node: str | None = Field(None, description="lab node that generates the load; a client node when unset")
    sla: dict[GateName, float] = Field(default_factory=dict, description="gate name -> bound, e.g. max_p95_s: 2")


class LoadStep(StrictModel):
    load: LoadSpec


class WaitStep(StrictModel):
    wait: Duration


class ExpectSpec(StrictModel):
    metric: MetricName | None = None
    check: CheckName | None = None
    min: float | None = None
    max: float | None = None
    outcome: Literal["pass", "fail"] | None = None
    names: str | None = Field(None, description="with outcome: fail, the node(s) the check must name as "
                              "where the problem is (a node selector, e.g. '@fault:lossy'), no more, no fewer")

    @model_validator(mode="after")
    def _one_subject(self) -> ExpectSpec:
        if (self.metric is None) == (self.check is None):
            raise ValueError("give exactly one of 'metric' (with min/max) or 'check' (with outcome)")
        if self.metric is not None and ((self.min is None and self.max is None) or self.outcome is not None):
            raise ValueError(f"metric '{self.metric}' needs min and/or max (and no outcome)")
        if self.check is not None and (self.outcome is None or self.min is not None or self.max is not None):
            raise ValueError(f"check '{self.check}' needs outcome: pass or fail (and no min/max)")
        if self.names is not None and self.outcome != "fail":
            raise ValueError("'names' goes with a check expected to fail (outcome: fail)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is larger than max {self.max}")
        return self


class ExpectStep(StrictModel):
    expect: ExpectSpec


def _heal_target(value: Any) -> Any:
    """'all' or a non-empty list of fault ids (checked here: one clear message, not one per union member)."""
    if value == "all":
        return value
    if not (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        raise ValueError(f"expected 'all' or a list of fault ids, got {value!r}")
    bad = [v for v in value if not FAULT_ID.match(v)]
    if bad:
        raise ValueError(f"{bad[0]!r} is not a fault id: lower-case letters, digits and '-', starting with a letter")
    return value


class HealStep(StrictModel):
    heal: Annotated[Literal["all"] | list[str], BeforeValidator(_heal_target)] = Field(
        description="'all', or the ids of fault steps to undo")


def _step_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in value if k in STEP_KINDS]
        return f"<{kinds[0]}>" if len(kinds) == 1 else None
    for kind in STEP_KINDS:
        if hasattr(value, kind):
            return f"<{kind}>"
    return None


_STEP_MODELS = {"check": CheckStep, "expect": ExpectStep, "fault": FaultStep, "heal": HealStep,
                "load": LoadStep, "wait": WaitStep}
if TYPE_CHECKING:
    Step: TypeAlias = CheckStep | ExpectStep | FaultStep | HealStep | LoadStep | WaitStep
else:
    Step = Annotated[
        Union[tuple(Annotated[cls, Tag(f"<{k}>")] for k, cls in _STEP_MODELS.items())],
        Discriminator(_step_tag, custom_error_type="step_kind", custom_error_message="step kind"),
    ]


class LabFile(StrictModel):
    """``scenarios/labs/NAME.yaml``: a reusable topology and the cloud deployed on it."""

    name: Name
    summary: str = ""
    source: str | None = None
    topology: Topology
    cloud: Cloud = Cloud()


class Scenario(StrictModel):
    """A failure mode to reproduce: a lab (by name or inline) and the steps to run."""

    name: Name
    summary: str = ""
    source: str | None = Field(None, description="the field report this failure mode comes from")
    lab: Name | None = None
    topology: Topology | None = None
    cloud: Cloud | None = Field(None, description="with 'lab': a variant, only the keys given replace the lab's "
                                "(e.g. keystone: {cache: local}); with an inline 'topology': the whole cloud")
    permanent: bool = Field(False, description="the fault is meant to stay: no closing heal + healthy")
    known_broken: list[CheckName] = Field(default_factory=list, description="checks this cloud (variant) fails "
                                          "even when nothing is faulted, e.g. keystone_coherent with cache: local: "
                                          "every healthy step requires them to fail, and says so")
    seed: int | None = Field(None, description="seed for @random selectors; recorded when unset")
    steps: list[Step] = Field(min_length=1)

    @field_validator("known_broken")
    @classmethod
    def _known_broken_are_checks(cls, names: list[str]) -> list[str]:
        if "healthy" in names:
            raise ValueError("'healthy' is the whole suite: name the checks the cloud is known to break")
        return names
