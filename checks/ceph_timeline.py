"""Pure arithmetic on the Ceph probe's lines (``checks/probes/ceph_watch.py``): phases,
time to degraded and to recovered, throughput per phase, blocked writes.

Times are CLOCK_MONOTONIC seconds (the host's and the nodes', see ``checks.ha_run``).
The faults and heals the runner reports cut the run into phases; for fault *i*:

- ``healthy``: from the first sample (or the previous phase's end) to the fault;
- ``down``: fault → the next heal (the fault in force);
- ``recovering``: heal → the first status sample with every PG active+clean after it;
- the time after that belongs to the next fault's ``healthy``.

Definitions:

- time to degraded (``ceph_degraded_s``): first fault → first status sample with a
  degraded, undersized or inactive PG, or fewer OSDs up than in (the mons' view).
- time to recovered (``ceph_recovery_s``): the first heal after the first fault → the
  first status sample after it with every PG active+clean and every OSD up.
- blocked writes (``ceph_writes_blocked_s``): a fault → the moment the first write
  after it gave up (its op timeout); the earliest over the run's faults.
- throughput (``rados_write_mbps``, ``rados_read_mbps``): acknowledged bytes of writes
  (reads) that ENDED in the first fault's ``down`` phase / its length, in MB/s (10^6).

>>> st = [{"k": "st", "t": t, "ok": True, "pgs": {"active+clean": 8} if t < 5 or t > 12 else
...        {"active+undersized+degraded": 8}, "num_pgs": 8, "osds": 3, "up": 3 if t < 5 or t > 12 else 2}
...       for t in range(20)]
>>> tl = Timeline(st, faults=[2.0], heals=[10.0])
>>> tl.degraded_s(), tl.recovery_s()
(3.0, 3.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from checks.ha_metrics import percentile, rounded

MB = 1e6


def clean(s: dict[str, Any]) -> bool:
    """A status sample with every PG active+clean and every OSD up."""
    return (s.get("ok", False) and s.get("num_pgs", 0) > 0 and s["pgs"].get("active+clean", 0) == s["num_pgs"]
            and s.get("up") == s.get("osds"))


def degraded(s: dict[str, Any]) -> bool:
    """A status sample showing the fault: a degraded/undersized/inactive PG or an OSD down."""
    if not s.get("ok"):
        return False
    bad = any(any(w in state for w in ("degraded", "undersized", "down", "peering")) or "active" not in state
              for state in s.get("pgs", {}))
    return bad or s.get("up", 0) < s.get("osds", 0)


@dataclass(frozen=True)
class Phase:
    name: str
    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)


class Timeline:
    """The probe's samples with the run's fault and heal times."""

    def __init__(self, lines: Sequence[dict[str, Any]], faults: Sequence[float], heals: Sequence[float]) -> None:
        self.status = sorted((x for x in lines if x.get("k") == "st"), key=lambda x: x["t"])
        self.writes = sorted((x for x in lines if x.get("k") == "w"), key=lambda x: x["t"])
        self.reads = sorted((x for x in lines if x.get("k") == "r"), key=lambda x: x["t"])
        self.faults, self.heals = sorted(faults), sorted(heals)
        every = [x["t"] for x in (*self.status, *self.writes, *self.reads)]
        self.first = min(every, default=0.0)
        self.last = max(every, default=0.0)

    def _first_status(self, after: float, want: Any) -> float | None:
        return next((s["t"] for s in self.status if s["t"] >= after and want(s)), None)

    def _heal_after(self, t: float) -> float | None:
        return next((h for h in self.heals if h >= t), None)

    def degraded_s(self) -> float | None:
        if not self.faults:
            return None
        seen = self._first_status(self.faults[0], degraded)
        return rounded(seen - self.faults[0]) if seen is not None else None

    def recovery_s(self) -> float | None:
        heal = self._heal_after(self.faults[0]) if self.faults else None
        if heal is None:
            return None
        back = self._first_status(heal, clean)
        return rounded(back - heal) if back is not None else None

    def blocked_s(self) -> float | None:
        """Fault → the first write after it that gave up; the earliest over the faults."""
        found = []
        for fault in self.faults:
            ended = [w["t"] + w["lat"] for w in self.writes if not w["ok"] and w["t"] + w["lat"] >= fault]
            if ended:
                found.append(min(ended) - fault)
        return rounded(min(found)) if found else None

    def phases(self, fault_index: int = 0) -> list[Phase]:
        """healthy / down / recovering around one fault (see the module doc)."""
        if fault_index >= len(self.faults):
            return [Phase("healthy", self.first, self.last)]
        fault = self.faults[fault_index]
        before = self.faults[fault_index - 1] if fault_index else None
        start = self.first
        if before is not None:
            heal = self._heal_after(before)
            start = (self._first_status(heal, clean) or fault) if heal is not None else fault
        heal = self._heal_after(fault)
        out = [Phase("healthy", start, fault), Phase("down", fault, heal if heal is not None else self.last)]
        if heal is not None:
            back = self._first_status(heal, clean)
            out.append(Phase("recovering", heal, back if back is not None else self.last))
        return out

    def io(self, phase: Phase) -> dict[str, Any]:
        """Write and read figures of the samples that ended in ``phase``."""
        out: dict[str, Any] = {"seconds": rounded(phase.seconds, 2)}
        for kind, xs in (("write", self.writes), ("read", self.reads)):
            inside = [x for x in xs if phase.start <= x["t"] + x["lat"] < phase.end]
            good = [x for x in inside if x["ok"]]
            lat = [x["lat"] for x in good]
            mbps = sum(x["bytes"] for x in good) / MB / phase.seconds if phase.seconds > 0 else None
            out[kind] = {"mbps": rounded(mbps), "ops": len(good), "errors": len(inside) - len(good),
                         "p50_s": rounded(percentile(lat, 50)), "p95_s": rounded(percentile(lat, 95))}
        return out

    def mbps(self, kind: str) -> float | None:
        """MB/s of ``write`` or ``read`` in the first fault's down phase."""
        if not self.faults:
            return None
        down = self.phases(0)[1]
        return self.io(down)[kind]["mbps"] if down.seconds > 0 else None

    def most_degraded_pgs(self) -> int:
        return max((sum(n for st, n in s["pgs"].items() if "degraded" in st) for s in self.status if s.get("ok")),
                   default=0)

    def figures(self) -> dict[str, Any]:
        ok = [s for s in self.status if s.get("ok")]
        return {
            "phases": [{p.name: self.io(p) for p in self.phases(i)} for i in range(max(1, len(self.faults)))],
            "status_samples": len(self.status), "status_unanswered": len(self.status) - len(ok),
            "degraded_objects_max": max((s.get("degraded", 0) for s in ok), default=0),
            "recovery_mbps_max": rounded(max((s.get("rec_bps", 0) for s in ok), default=0) / MB),
            "health_changes": self.changes(),
        }

    def changes(self) -> list[list[Any]]:
        """[seconds after the first fault (or start), health, PG states] at each change, at most 40."""
        zero, out, last = (self.faults[0] if self.faults else self.first), [], None
        for s in self.status:
            seen = (s["health"], tuple(sorted(s["pgs"]))) if s.get("ok") else ("no answer", ())
            if seen != last:
                out.append([rounded(s["t"] - zero, 1), seen[0], ",".join(seen[1])])
                last = seen
        return out[:40]


def phase_table(figures: dict[str, Any]) -> list[str]:
    """The verdict's table of ``figures["phases"]``: per fault, each phase's write and read
    MB/s, p50/p95 latency and errors."""
    head = (f"{'phase':<16}{'s':>6}  {'write MB/s':>10}{'p50 s':>7}{'p95 s':>7}{'err':>5}  "
            f"{'read MB/s':>10}{'p50 s':>7}{'p95 s':>7}{'err':>5}")
    lines = [head]
    phases = figures.get("phases", [])
    for i, around in enumerate(phases):
        for name, io in around.items():
            label = f"{name} ({i + 1})" if len(phases) > 1 else name
            cells = "".join(f"  {_num(io[k]['mbps'], 10)}{_num(io[k]['p50_s'], 7)}{_num(io[k]['p95_s'], 7)}"
                            f"{io[k]['errors']:>5}" for k in ("write", "read"))
            lines.append(f"{label:<16}{_num(io['seconds'], 6)}{cells}")
    return lines


def _num(value: float | None, width: int) -> str:
    return f"{'-' if value is None else format(value, '.3g'):>{width}}"
