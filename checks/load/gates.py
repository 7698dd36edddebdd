"""The figures of a load run and its SLA gates, from the per-request event log alone.

Locust's CSVs are kept for people; the judgement uses the event log the locustfile
writes (``load_common.py``): one line per request with its send time on the host's
CLOCK_MONOTONIC, so requests line up with the runner's fault and heal times.

Phases: ``baseline`` = requests answered before the fault (untouched by it), ``fault``
= the rest sent before heal, ``recovery`` = sent after heal. Without a fault, all is
baseline. Latency percentiles are over successful requests (a failure's latency is
its timeout, not a service time); RPS counts successful requests.

Definitions (the OpenStack performance-docs reliability metrics, made precise):

- outage: first failed request sent → last failed request answered, among the requests
  of the fault phase when there is a fault (a timeout in the baseline is not the fault's,
  and the heal's own blips, a node rejoining, are ``recovery_outage_s``); 0 without failures.
- MTTR: fault → the first of ``HOLD`` consecutive requests (by send time, among those
  answered after the fault) that all succeeded with a p95 within ``FACTOR`` × the
  baseline p95; 0 when the first ``HOLD`` already are; None when never (or no baseline).
- degradation: p95 of the fault phase / baseline p95.

>>> ev = [Event(t / 10, "x", 0.05, t not in (30, 31)) for t in range(100)]
>>> f = LoadFigures(ev, fault=2.95)
>>> f.whole["failures"], round(f.outage_s, 2), round(f.mttr_s, 2)
(2, 0.15, 0.25)
>>> [r.line() for r in judge(f, {"max_failure_rate": 0.01})]
['max_failure_rate: measured 0.02 (max 0.01) FAIL']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from checks.ha_metrics import percentile, rounded

HOLD = 20  # MTTR: this many good requests in a row ...
FACTOR = 1.5  # ... within this multiple of the baseline p95 (2-core lab latency is noisy)
PHASES = ("baseline", "fault", "recovery")


@dataclass(frozen=True)
class Event:
    """One request: sent at ``t`` (monotonic s), answered ``lat`` s later."""

    t: float
    kind: str
    lat: float
    ok: bool
    err: str | None = None

    @property
    def end(self) -> float:
        return self.t + self.lat


def to_events(lines: Sequence[dict[str, Any]]) -> list[Event]:
    """Request lines of an event log (not its ``ev`` lines), in send order."""
    return sorted((Event(float(x["t"]), str(x["type"]), float(x["lat"]), bool(x["ok"]), x.get("err"))
                   for x in lines if "type" in x), key=lambda e: e.t)


def stats(events: Sequence[Event]) -> dict[str, Any]:
    """Requests, failures, failure rate, RPS (successful) and p50/p95/p99 (s) of some requests."""
    good = [e.lat for e in events if e.ok]
    span = (max(e.end for e in events) - min(e.t for e in events)) if events else 0.0
    return {"requests": len(events), "failures": len(events) - len(good),
            "failure_rate": rounded((len(events) - len(good)) / len(events), 4) if events else None,
            "rps": rounded(len(good) / span, 2) if span > 0 else None,
            **{f"p{q}_s": rounded(percentile(good, q), 4) for q in (50, 95, 99)}}


class LoadFigures:
    """Everything measured about one load run (see the module doc)."""

    def __init__(self, events: Sequence[Event], fault: float | None = None, heal: float | None = None) -> None:
        self.events = sorted(events, key=lambda e: e.t)
        self.fault, self.heal = fault, heal
        self.whole = stats(self.events)
        self.phases = {p: stats([e for e in self.events if self.phase(e) == p]) for p in PHASES}
        self.by_type = {k: stats([e for e in self.events if e.kind == k])
                        for k in sorted({e.kind for e in self.events})}

    def phase(self, e: Event) -> str:
        if self.fault is None or e.end <= self.fault:
            return "baseline"
        return "fault" if self.heal is None or e.t < self.heal else "recovery"

    @property
    def baseline_p95(self) -> float | None:
        return self.phases["baseline"]["p95_s"]

    @property
    def outage_s(self) -> float:
        return _span([e for e in self.events if not e.ok and self.phase(e) == ("fault" if self.fault else "baseline")])

    @property
    def recovery_outage_s(self) -> float:
        return _span([e for e in self.events if not e.ok and self.phase(e) == "recovery"])

    @property
    def mttr_s(self) -> float | None:
        if self.fault is None or not self.baseline_p95:
            return None
        limit = FACTOR * self.baseline_p95
        after = [e for e in self.events if e.end > self.fault]

        def good(i: int) -> bool:
            run = after[i:i + HOLD]
            return len(run) == HOLD and all(e.ok for e in run) and (percentile([e.lat for e in run], 95) or 0) <= limit

        if good(0):
            return 0.0
        back = next((i for i in range(1, len(after)) if good(i)), None)
        return None if back is None else max(0.0, after[back].t - self.fault)

    @property
    def degradation(self) -> float | None:
        during = self.phases["fault"]["p95_s"]
        return None if during is None or not self.baseline_p95 else during / self.baseline_p95

    def summary(self) -> dict[str, Any]:
        """For result.json: the whole run, per phase, per request type, and the derived figures."""
        return {"whole": self.whole, "phases": self.phases, "by_type": self.by_type,
                "outage_s": rounded(self.outage_s), "recovery_outage_s": rounded(self.recovery_outage_s),
                "mttr_s": rounded(self.mttr_s),
                "degradation": rounded(self.degradation), "error_kinds": self.error_kinds()}

    def error_kinds(self, top: int = 5) -> dict[str, int]:
        kinds = [(e.err or "?").split(":")[0] for e in self.events if not e.ok]
        return {k: kinds.count(k) for k in sorted(set(kinds), key=kinds.count, reverse=True)[:top]}


def _span(failed: Sequence[Event]) -> float:
    """First failure sent → last failure answered; 0.0 without failures."""
    return max(e.end for e in failed) - min(e.t for e in failed) if failed else 0.0


@dataclass(frozen=True)
class Gate:
    bound: Literal["max", "min"]
    unit: str
    summary: str
    measure: Callable[[LoadFigures], float | None]
    needs_fault: bool = False


GATES: dict[str, Gate] = {
    "max_failure_rate": Gate("max", "ratio", "failed requests / all requests", lambda f: f.whole["failure_rate"]),
    "max_p50_s": Gate("max", "s", "median latency of successful requests", lambda f: f.whole["p50_s"]),
    "max_p95_s": Gate("max", "s", "95th percentile latency of successful requests", lambda f: f.whole["p95_s"]),
    "max_p99_s": Gate("max", "s", "99th percentile latency of successful requests", lambda f: f.whole["p99_s"]),
    "min_rps": Gate("min", "1/s", "successful requests per second over the run", lambda f: f.whole["rps"]),
    "max_outage_s": Gate("max", "s", "first failed request sent to last failed request answered (fault phase)",
                         lambda f: f.outage_s),
    "max_mttr_s": Gate("max", "s", "fault to latency back within 1.5 x the baseline p95", lambda f: f.mttr_s, True),
    "max_degradation": Gate("max", "ratio", "p95 during the fault / baseline p95", lambda f: f.degradation, True),
}


@dataclass(frozen=True)
class GateResult:
    name: str
    measured: float | None
    bound: float
    ok: bool

    def line(self) -> str:
        """``max_p95_s: measured 0.412 (max 2) ok``."""
        kind = GATES[self.name].bound
        shown = "not measured" if self.measured is None else f"measured {self.measured:.3g}"
        return f"{self.name}: {shown} ({kind} {self.bound:g}) {'ok' if self.ok else 'FAIL'}"


def judge(figures: LoadFigures, sla: dict[str, float]) -> list[GateResult]:
    """Each gate of ``sla`` against the figures; a gate nothing measured fails."""
    out = []
    for name, bound in sla.items():
        gate = GATES[name]
        value = gate.measure(figures)
        value = None if value is None else round(value, 4)
        ok = value is not None and (value <= bound if gate.bound == "max" else value >= bound)
        out.append(GateResult(name, value, bound, ok))
    return out

