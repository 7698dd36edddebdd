"""A scenario's ``load`` steps: locust in a lab node (``checks.load``), judged by SLA gates.

A foreground load runs for its ``run_time`` and is judged at its own step. A background
load starts (and has a baseline: a few good requests) before the step returns, keeps
running through the faults, and is stopped and judged at the implicit ``load end`` step
after the scenario's closing heal; ``run_time`` bounds it in any case. Each load's
event log, locust CSVs (stats, full history, failures) and log are copied to
``RUN_DIR/load/NN-TARGET/``. Phases come from the scenario's own steps: the first
``fault`` step after the load started, and the first ``heal`` step after it.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from checks.cluster import select
from checks.ha_run import prober
from checks.load.gates import LoadFigures, judge
from checks.load.node import LocustRun
from checks.panels import Panel
from lab.clock import let_pass
from stacklab.runner.steps import ExpectationFailed
from stacklab.scenario import LoadSpec

if TYPE_CHECKING:
    from stacklab.runner.session import ScenarioRun, StepResult

BASELINE_REQUESTS = 20  # good requests before a background load step returns
END_GRACE = 60.0  # a foreground load may end this long after its run time (stop timeout, stats)
# How a load's event log (t, type, lat, ok, err per request) is drawn in the report ({target}: its folder)
LOAD_PANELS = (Panel("load {target}: requests and failures per second", "", "rate"),
               Panel("load {target}: request latency", "", "outcome"))


class Loads:
    def __init__(self, run: ScenarioRun) -> None:
        self.run = run
        self.live: list[tuple[LoadSpec, LocustRun]] = []
        self.count = 0

    def start(self, spec: LoadSpec, res: StepResult) -> None:
        """Start locust; a foreground load is waited for and judged here."""
        run = self.run
        lab = run.checks_lab.opened or run.lab  # the lab the run opened once
        node = select(spec.node, run.inv, run.rng)[0] if spec.node else prober(lab)
        locust = LocustRun(lab, node, spec.target, users=spec.users, spawn_rate=spec.spawn_rate,
                           run_time=spec.run_time).start()
        res.figures.update(node=node, unit=locust.unit)
        self.live.append((spec, locust))  # until judged: stop() ends it should the run fail first
        if spec.background:
            locust.wait_requests(BASELINE_REQUESTS)
            return
        let_pass(spec.run_time, until=locust.started + spec.run_time)  # the load's own duration
        deadline = time.monotonic() + END_GRACE
        while locust.active() and time.monotonic() < deadline:
            time.sleep(0.5)
        self.live.remove((spec, locust))
        self.judge(spec, locust, res)

    def end(self, res: StepResult) -> None:
        """The implicit step after the closing heal: stop and judge every background load."""
        failed: list[str] = []
        while self.live:
            spec, locust = self.live.pop(0)
            try:
                self.judge(spec, locust, res)
            except AssertionError as e:  # judge every load before failing the step
                failed.append(str(e))
        if failed:
            raise ExpectationFailed("; ".join(failed))

    def judge(self, spec: LoadSpec, locust: LocustRun, res: StepResult) -> None:
        """Stop, copy results back, compute figures and gates; ExpectationFailed on a failed gate."""
        self.count += 1
        dest = self.run.run_dir() / "load" / f"{self.count:02d}-{spec.target}"
        events = locust.finish(dest)
        fault, heal = self.phase_times(locust.started)
        figures = LoadFigures(events, fault=fault, heal=heal)
        gates = judge(figures, spec.sla)
        key = spec.target if spec.target not in res.figures else f"{spec.target}-{self.count}"
        res.figures[key] = {"node": locust.node, "users": spec.users, "run_time_s": spec.run_time,
                            "results": str(dest), "ended_cleanly": locust.ended_cleanly(),
                            "fault_after_s": _after(fault, locust.started),
                            "heal_after_s": _after(heal, locust.started),
                            **figures.summary(), "gates": [asdict(g) for g in gates]}
        problems = [f"{spec.target} {g.line()}" for g in gates if not g.ok]
        last = max((e.end for e in events), default=None)
        if spec.background and heal is not None and (last is None or last < heal):
            problems.append(f"{spec.target}: the load ended before the heal (run_time {spec.run_time:g} s too short)")
        if not events:
            problems.append(f"{spec.target}: no request was logged ({dest}/locust.log)")
        if problems:
            raise ExpectationFailed("; ".join(problems))

    def phase_times(self, started: float) -> tuple[float | None, float | None]:
        """The first fault step after ``started``, and the first heal step after that fault."""
        faults = [r.at for r in self.run.results if r.label.startswith("fault ") and r.at >= started]
        fault = min(faults, default=None)
        heals = [r.at for r in self.run.results if r.label.startswith("heal ") and fault is not None and r.at > fault]
        return fault, min(heals, default=None)

    def stop(self) -> None:
        """A failed run: stop every load still running (no process stays in a node), unjudged."""
        while self.live:
            self.live.pop(0)[1].finish()


def _after(t: float | None, start: float) -> float | None:
    return None if t is None else round(t - start, 2)


def gate_lines(figures: dict[str, Any]) -> list[str]:
    """For the verdict printout: per load, one line of figures per phase, then its gates."""
    from checks.load.gates import GateResult

    lines = []
    for name, value in figures.items():
        if not (isinstance(value, dict) and "gates" in value):
            continue
        whole, phases = value["whole"], value["phases"]
        p95 = ", ".join(f"{p} {phases[p]['p95_s']:.3g}" for p in phases if phases[p]["p95_s"] is not None)
        lines.append(f"{name}: {whole['requests']} requests, {whole['failures']} failed, {whole['rps']} RPS; "
                     f"p95 s {p95}")
        lines += [f"{name} {GateResult(**g).line()}" for g in value["gates"]]
    return lines
