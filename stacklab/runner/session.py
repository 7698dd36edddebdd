"""One scenario run: lab (new or reused), deploy, probes, steps, closing heal, results.

The pytest plugin drives it step by step; ``stacklab run`` drives it through pytest.
Every fault applied is recorded for heal; every figure measured ends up in the
run's result.json with the step that produced it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.cluster import select
from checks.infra.base import Lab, Verdict, run_checks, suite
from checks.metrics import ProbeContext, producer
from deployer.deploy import deploy
from deployer.inventory import from_state
from deployer.model import Cloud
from lab import engine, faults
from lab import state as labstate
from lab.backends import DEFAULT
from lab.clock import let_pass
from lab.faultspec import FaultSpec
from lab.model import Topology
from stacklab.runner.loads import Loads
from stacklab.runner.probes import ProbeSet
from stacklab.runner.steps import ExpectationFailed, LoadEnd, Planned
from stacklab.scenario import CheckStep, ExpectStep, FaultStep, HealStep, LoadStep, Scenario, WaitStep

CHECK_TIMEOUT = 180.0  # a healing cluster: Galera IST rejoin, haproxy rise, RabbitMQ restart
CHECK_INTERVAL = 1.0  # between polls; a poll of the healthy suite itself takes 2-4 s
FAIL_TIMEOUT = 60.0  # a fault's effect shows within seconds; a minute is generous
PROGRESS_EVERY = 15.0  # seconds between "still waiting" lines of a polled check
# The run-once checks (slow, they write to the cloud) are retried this long after the polled
# suite converged: a Keystone process retries a returning controller's memcached only after
# memcache_dead_retry, and until then its reads can differ (docs/keystone-cache.md).
SETTLE_TIMEOUT = 60.0


def known_broken(v: Verdict) -> Verdict:
    """A check the scenario declares broken on its cloud: in the healthy suite it must fail
    (the breakage is what the scenario shows), and passing is the surprise."""
    if v.ok:
        return Verdict(v.name, False, ["passed, but the scenario declares it known_broken on this cloud"],
                       v.figures, v.seconds)
    return Verdict(v.name, True, [], {**v.figures, "known_broken": v.problems}, v.seconds)


@dataclass
class StepResult:
    label: str
    index: int
    status: str = "passed"  # passed | failed | error | skipped
    seconds: float = 0.0
    at: float = 0.0  # CLOCK_MONOTONIC when the step started (nodes share the host's kernel clock)
    detail: str = ""
    figures: dict[str, Any] = field(default_factory=dict)
    bound: dict[str, float] = field(default_factory=dict)


@dataclass
class Options:
    backend: str = DEFAULT
    keep: bool = False
    reuse: bool = False
    runs_dir: Path = Path("runs")
    lab_name: str | None = None
    run_dir: str | None = None


class ScenarioRun:
    def __init__(self, path: Path, scn: Scenario, topo: Topology, cloud: Cloud, opts: Options,
                 say: Callable[[str], None] = print) -> None:
        self.path, self.scn, self.topo, self.cloud, self.opts, self.say = path, scn, topo, cloud, opts, say
        self.seed = scn.seed if scn.seed is not None else random.SystemRandom().randrange(2**32)
        self.rng = random.Random(self.seed)
        self.lab = ""
        self.created = False
        self.ready = False  # lab up, cloud deployed, probes started
        self.prepare_error = ""
        self.results: list[StepResult] = []
        self.active: list[tuple[str | None, str, Any]] = []  # (fault id, node, spec) for heal
        self.fault_at: float | None = None
        self.fault_nodes: dict[str, list[str]] = {}  # fault id -> nodes it hit (for @fault:ID)
        self.probes = ProbeSet()
        self.loads = Loads(self)
        self.started = time.time()
        self.steps_started = self.started
        self.prepared_seconds = 0.0

    def run_dir(self) -> Path:
        """Where this run's results go (result.json, junit.xml, logs/, load/)."""
        if self.opts.run_dir:
            return Path(self.opts.run_dir)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.started))
        return self.opts.runs_dir / f"{stamp}-{self.scn.name}"

    # ------------------------------------------------------------------ lab
    def prepare(self) -> None:
        """Find (--reuse) or build the lab, deploy the cloud, start the probes."""
        t0 = time.monotonic()
        want = engine.topology_hash(self.topo)
        reusable = [name for name in sorted(labstate.labs_with_state())
                    if (st := labstate.load(name)) and st.phase == "up" and st.topology_hash == want]
        if self.opts.lab_name:  # a named lab: that one, reused if it fits, else built
            reusable = [n for n in reusable if n == self.opts.lab_name]
        if self.opts.reuse and reusable:
            self.lab = reusable[0]
            self.say(f"reusing lab {self.lab} (same topology, hash {want})")
        else:
            self.lab = self.opts.lab_name or f"{(self.scn.lab or self.scn.name)[:10]}-{self.seed % 10000:04d}"
            from deployer.catalog import image_packages

            engine.up(self.lab, self.topo, packages=image_packages(), backend=self.opts.backend,
                      source=str(self.path), progress=self.say)
            self.created = True
        opened = engine.open_lab(self.lab)  # once: deploy, checks and probes go through it
        report = deploy(opened, self.cloud, say=self.say)
        # The lab as checks see it, from what this run holds: not read back from the disk.
        self.inv = from_state(opened.state, self.topo, self.cloud)
        self.checks_lab = Lab(self.lab, self.inv, set(report.timings), self.cloud, opened)
        expected = [s.expect.metric for s in self.scn.steps if isinstance(s, ExpectStep) and s.expect.metric]
        self.probes.start(ProbeContext(opened, self.inv), expected)
        self.prepared_seconds = round(time.monotonic() - t0, 2)
        self.steps_started = time.time()  # journal errors count from here: deploy noise is not the fault's
        self.ready = True

    def finish(self) -> None:
        self.probes.stop()
        self.loads.stop()
        if self.created and not self.opts.keep:
            engine.down(self.lab, progress=self.say)
        elif self.lab:
            self.say(f"lab {self.lab} kept: stacklab shell --lab {self.lab} NODE; stacklab down {self.lab}")

    # ---------------------------------------------------------------- steps
    def run(self, planned: Planned) -> StepResult:
        res = StepResult(planned.label, planned.index, at=time.monotonic())
        self.results.append(res)
        try:
            handlers: dict[type, Callable[[Any, StepResult], None]] = {
                CheckStep: self._check, FaultStep: self._fault, LoadStep: self._load, WaitStep: self._wait,
                ExpectStep: self._expect, HealStep: self._heal, LoadEnd: self._load_end}
            handler = handlers[type(planned.step)]
            handler(planned.step, res)
        except ExpectationFailed as e:
            res.status, res.detail = "failed", str(e)
            raise
        except Exception as e:
            res.status, res.detail = "error", f"{type(e).__name__}: {e}"
            raise
        finally:
            res.seconds = round(time.monotonic() - res.at, 2)
        return res

    def _check(self, step: CheckStep, res: StepResult) -> None:
        """Poll until the check passes (a healing cluster converges), bounded by CHECK_TIMEOUT."""
        verdicts, waited = self.poll_check(step.check, want_pass=True)
        failed = [f"{v.name}: {p}" for v in verdicts for p in v.problems]
        once: list[Verdict] = []
        settled = 0.0
        if step.check == "healthy" and not failed:  # the slow ones, after convergence, until they settle
            once, settled = self.poll_check("healthy", want_pass=True, once=True, timeout=SETTLE_TIMEOUT)
        res.figures = {v.name: v.figures for v in verdicts + once if v.figures} | {
            "converged_after_s": waited, "settled_after_s": settled}
        if failed:
            raise ExpectationFailed(f"not healthy after {CHECK_TIMEOUT:.0f} s: " + "; ".join(failed))
        if problems := [f"{v.name}: {p}" for v in once for p in v.problems]:
            raise ExpectationFailed(f"converged after {waited:.0f} s, but {SETTLE_TIMEOUT:.0f} s later: "
                                    + "; ".join(problems))

    def poll_check(self, name: str, *, want_pass: bool, once: bool = False,
                   timeout: float | None = None) -> tuple[list[Verdict], float]:
        """Run the check (for ``healthy`` with ``once``: its run-once part) until its outcome is the
        wanted one or ``timeout`` passes (default CHECK_TIMEOUT, or FAIL_TIMEOUT waiting for a failure)."""
        limit = timeout if timeout is not None else CHECK_TIMEOUT if want_pass else FAIL_TIMEOUT
        start = time.monotonic()
        told = start
        while True:
            verdicts = self.verdicts(name, once=once)
            passed = all(v.ok for v in verdicts)
            waited = round(time.monotonic() - start, 1)
            if passed == want_pass or waited > limit:
                return verdicts, waited
            # A long convergence says what it waits for; a run-once check at every failed attempt.
            if once or time.monotonic() - told >= PROGRESS_EVERY:
                told = time.monotonic()
                problems = [f"{v.name}: {p}" for v in verdicts for p in v.problems]
                still = f"; still: {problems[0]}" if problems else ""
                more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
                outcome = "pass" if want_pass else "fail"
                self.say(f"check {name}: waiting for it to {outcome} ({waited:.0f} s){still}{more}")
            time.sleep(CHECK_INTERVAL)

    def verdicts(self, name: str, *, once: bool = False) -> list[Verdict]:
        """One run of the check; for ``healthy``, its polled checks (or with ``once``, the others)."""
        names = suite(once=once) if name == "healthy" else [name]
        found = [v for v in run_checks(names, self.checks_lab) if not v.skipped]
        return [known_broken(v) if name == "healthy" and v.name in self.scn.known_broken else v for v in found]

    def _fault(self, step: FaultStep, res: StepResult) -> None:
        spec: FaultSpec = step.fault
        nodes = [] if not hasattr(spec, "node") else select(spec.node, self.inv, self.rng,  # type: ignore[attr-defined]
                                                            self.fault_nodes)
        if spec.id:
            self.fault_nodes[spec.id] = nodes
        res.figures["nodes"] = nodes
        self.fault_at = time.monotonic()
        if hasattr(spec, "groups"):
            groups = [[n for sel in g for n in select(sel, self.inv, self.rng, self.fault_nodes)]
                      for g in spec.groups]  # type: ignore[attr-defined]
            spec = spec.model_copy(update={"groups": groups})
            res.figures["groups"] = groups
            faults.apply(self.lab, spec)
            self.active.append((spec.id, "", spec))
        for node in nodes:
            if notes := faults.apply(self.lab, spec.model_copy(update={"node": node})):
                res.figures.setdefault("notes", []).extend(notes)  # how the fault was emulated here
            self.active.append((spec.id, node, spec))
        self.probes.on_fault(self.fault_at, nodes, spec.action, getattr(spec, "service", None))  # type: ignore[attr-defined]

    def _heal(self, step: HealStep, res: StepResult) -> None:
        todo = self.active if step.heal == "all" else [a for a in self.active if a[0] in step.heal]
        self.probes.on_heal(time.monotonic())
        if step.heal == "all":  # everything the lab state records, whoever applied it
            res.figures["lab_faults_undone"] = len(faults.heal(self.lab))
        else:
            for _, node, spec in todo:
                faults.undo(self.lab, spec, node)
        self.active = [a for a in self.active if a not in todo]

    def _wait(self, step: WaitStep, res: StepResult) -> None:
        let_pass(step.wait)  # the scenario asks for time to pass (under load, after a fault)

    def _load(self, step: LoadStep, res: StepResult) -> None:
        self.loads.start(step.load, res)

    def _named(self, check: str, selector: str, verdicts: list[Verdict], res: StepResult) -> None:
        """The failed check named exactly the nodes ``selector`` picks (where the fault is)."""
        want = sorted(select(selector, self.inv, self.rng, self.fault_nodes))
        named = sorted({n for v in verdicts for n in v.blamed})
        res.figures["named"] = named
        if named != want:
            raise ExpectationFailed(f"check {check} failed but named {', '.join(named) or 'no node'}; "
                                    f"expected {', '.join(want)} ({selector})")

    def _load_end(self, step: LoadEnd, res: StepResult) -> None:
        self.loads.end(res)

    def _expect(self, step: ExpectStep, res: StepResult) -> None:
        e = step.expect
        if e.check is not None:
            verdicts, waited = self.poll_check(e.check, want_pass=e.outcome == "pass")
            passed = all(v.ok for v in verdicts)
            res.figures.update(passed=passed, waited_s=waited, problems=[p for v in verdicts for p in v.problems])
            if passed != (e.outcome == "pass"):
                problems = "; ".join(p for v in verdicts for p in v.problems) or "no problem found"
                limit = CHECK_TIMEOUT if e.outcome == "pass" else FAIL_TIMEOUT
                raise ExpectationFailed(f"check {e.check} was expected to {e.outcome} within {limit:.0f} s "
                                        f"but {'passed' if passed else 'failed'} ({problems})")
            if e.names is not None:
                self._named(e.check, e.names, verdicts, res)
            return
        assert e.metric is not None
        if e.metric not in self.probes.metrics:  # the first expect of a family stops and judges it
            self.say(f"{e.metric}: judging the {producer(e.metric).name} probe (it waits, bounded, for the "
                     "outage to end, or verifies the data on every node)")
        value = self.probes.metric(e.metric)
        res.figures[e.metric] = value
        res.bound = {k: v for k, v in (("min", e.min), ("max", e.max)) if v is not None}
        if value is None:
            raise ExpectationFailed(f"{e.metric}: nothing measured it in this run")
        if e.max is not None and value > e.max:
            raise ExpectationFailed(f"{e.metric} = {value:g} > max {e.max:g}")
        if e.min is not None and value < e.min:
            raise ExpectationFailed(f"{e.metric} = {value:g} < min {e.min:g}")
