"""Names that scenario steps may use: checks, metrics and load targets, as derived views.

Nothing is declared here: checks come from ``@check`` (``checks.registry``), metrics
from the probe families that produce them (``checks.metrics``), load targets from the
locustfiles' table (``checks.load.TARGETS``). The scenario schema's enums are built
from these views, so a name is valid in a file exactly when code stands behind it.

>>> METRICS["vip_failover_s"].unit
's'
>>> CHECKS["healthy"].summary
'every health check of every deployed role'
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.load import TARGETS
from checks.metrics import METRICS, Metric
from checks.registry import SUITE, checks


@dataclass(frozen=True)
class CheckInfo:
    summary: str
    roles: tuple[str, ...] = ()
    once: bool = False


# The healthy suite is a name in scenario files, not a check of its own.
CHECKS: dict[str, CheckInfo] = {SUITE: CheckInfo("every health check of every deployed role")} | {
    name: CheckInfo(spec.summary, spec.roles, spec.once) for name, spec in checks().items()}

# A load step's targets are its locustfiles (checks/load); their gates are the load's `sla`, not metrics.
LOAD_TARGETS: dict[str, str] = {name: target.summary for name, target in TARGETS.items()}

__all__ = ["CHECKS", "LOAD_TARGETS", "METRICS", "CheckInfo", "Metric"]
