"""The probes a scenario needs, started before its faults and read by its ``expect`` steps.

Which probe families run follows from the metrics the scenario expects
(``checks.metrics``: each family declares the metrics it produces). All of them run
inside a lab node. A family is stopped and judged at the first ``expect`` that needs
one of its metrics, after waiting (bounded) for the outage to end, and its figures are
kept for the report. ``load`` steps are locust runs with their own gates
(``stacklab.runner.loads``).

The set knows the lab, its inventory and the fault times it is told about, not the
run that owns it.
"""

from __future__ import annotations

from typing import Any

from checks.metrics import FAMILIES, Family, ProbeContext, producer


def wanted(expected: list[str]) -> list[str]:
    """The families that produce the expected metrics, in registry order.

    >>> wanted(["api_mttr_s", "vip_failover_s", "api_error_rate"])
    ['vip', 'api']
    """
    names = {producer(m).name for m in expected}
    return [name for name in FAMILIES if name in names]


class ProbeSet:
    def __init__(self) -> None:
        self.live: dict[str, Family] = {}
        self.done: dict[str, Family] = {}  # judged or stopped: their samples are the run's evidence
        self.metrics: dict[str, float | None] = {}
        self.figures: dict[str, Any] = {}

    def start(self, ctx: ProbeContext, expected: list[str]) -> None:
        """Start every family an expected metric needs, then wait for their baselines."""
        for name in wanted(expected):
            self.live[name] = FAMILIES[name](ctx)
            self.live[name].start()
        for fam in self.live.values():
            fam.baseline()

    def on_fault(self, at: float, nodes: list[str], action: str, service: str | None = None) -> None:
        for fam in self.live.values():
            fam.on_fault(at, nodes, action, service)

    def on_heal(self, at: float) -> None:
        for fam in self.live.values():
            fam.on_heal(at)

    def metric(self, name: str) -> float | None:
        """The metric's value, judging its family the first time it is asked for."""
        if name not in self.metrics:
            fam = self.live.pop(producer(name).name, None)
            if fam is None:
                return None
            self.done[fam.name] = fam
            metrics, figures = fam.judge()
            self.metrics.update(metrics)
            self.figures.update(figures)
        return self.metrics.get(name)

    def stop(self) -> None:
        """Stop whatever still runs (a failed run): no process may stay behind in a node."""
        for fam in list(self.live.values()):
            self.done[fam.name] = fam
            fam.stop()
        self.live.clear()

    def evidence(self) -> dict[str, tuple[Family, list[dict[str, Any]]]]:
        """Each family that ran, with the raw lines its in-node probe wrote (empty when it
        has no NodeProbe, or one never stopped: a run that failed before it)."""
        out = {}
        for name, fam in self.done.items():
            probe = getattr(fam.live, "probe", None)
            out[name] = (fam, list(getattr(probe, "lines", None) or []))
        return out

    def all_metrics(self) -> dict[str, Any]:
        return {"values": self.metrics, "figures": self.figures}
