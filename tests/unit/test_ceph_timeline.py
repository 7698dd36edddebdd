"""The Ceph probe's arithmetic on synthetic samples: phases, time to degraded and to
recovered, throughput per phase, blocked writes, and which objects are judged after heal."""

from __future__ import annotations

from typing import Any

from checks.ceph_timeline import Timeline, phase_table
from checks.ha_ceph import CephReport, manifest

CLEAN = {"active+clean": 32}
DEGRADED = {"active+undersized+degraded": 20, "active+clean": 12}


def status(t: float, pgs: dict[str, int], up: int = 3) -> dict[str, Any]:
    return {"k": "st", "t": t, "ok": True, "health": "HEALTH_OK" if pgs == CLEAN else "HEALTH_WARN", "pgs": pgs,
            "num_pgs": 32, "osds": 3, "up": up, "degraded": 40 if pgs != CLEAN else 0, "rec_bps": 0}


def run_lines() -> list[dict[str, Any]]:
    """Healthy 0-10 s, fault at 10 (degraded from 18), heal at 40, clean again at 55."""
    lines = [status(t, CLEAN if t < 18 or t >= 55 else DEGRADED, 3 if t < 18 or t >= 50 else 2)
             for t in range(0, 70)]
    for i in range(140):  # a 1 MB write every 0.5 s taking 0.25 s; 0.5 s each while degraded
        t = i * 0.5
        slow = 10 <= t < 40
        lines.append({"k": "w", "t": t, "seq": i + 1, "name": f"w{i % 8}", "ok": True, "lat": 0.5 if slow else 0.25,
                      "bytes": 1_000_000, "sha": f"s{i}"})
        lines.append({"k": "r", "t": t, "ok": True, "lat": 0.1, "bytes": 1_000_000, "name": "seed", "bad": False})
    return lines


def test_time_to_degraded_and_to_recovered() -> None:
    tl = Timeline(run_lines(), faults=[10.0], heals=[40.0])
    assert tl.degraded_s() == 8.0 and tl.recovery_s() == 15.0
    assert tl.most_degraded_pgs() == 20
    assert [(p.name, p.start, p.end) for p in tl.phases()] == [("healthy", 0, 10.0), ("down", 10.0, 40.0),
                                                               ("recovering", 40.0, 55)]


def test_throughput_per_phase_counts_what_ended_in_it() -> None:
    tl = Timeline(run_lines(), faults=[10.0], heals=[40.0])
    healthy, down, _ = (tl.io(p) for p in tl.phases())
    assert healthy["write"]["mbps"] == 2.0 and healthy["write"]["p50_s"] == 0.25
    # 59 writes ended in the 30 s down phase (the one sent at 39.5 s ended at the heal: recovering)
    assert down["write"]["mbps"] == 1.967 and down["write"]["p95_s"] == 0.5
    assert tl.mbps("write") == 1.967 and tl.mbps("read") == 2.0
    assert "healthy" in "\n".join(phase_table(tl.figures()))


def test_no_fault_measures_nothing_fault_relative() -> None:
    tl = Timeline(run_lines(), faults=[], heals=[])
    assert (tl.degraded_s(), tl.recovery_s(), tl.blocked_s(), tl.mbps("write")) == (None, None, None, None)


def test_blocked_writes_are_timed_from_the_latest_fault_before_them() -> None:
    lines = run_lines() + [{"k": "w", "t": 61.0, "seq": 999, "name": "w1", "ok": False, "lat": 20.0, "bytes": 10}]
    assert Timeline(lines, faults=[10.0, 60.0], heals=[40.0, 90.0]).blocked_s() == 21.0


def test_manifest_judges_last_acknowledged_versions_only() -> None:
    lines = [{"ev": "seeds", "objects": {"s0": "x"}},
             {"k": "w", "t": 1, "seq": 1, "name": "w1", "ok": True, "sha": "a"},
             {"k": "w", "t": 2, "seq": 2, "name": "w1", "ok": True, "sha": "b"},
             {"k": "w", "t": 3, "seq": 3, "name": "w2", "ok": True, "sha": "c"},
             {"k": "w", "t": 4, "seq": 4, "name": "w2", "ok": False}]
    assert manifest(lines) == ({"s0": "x", "w1": "b"}, 1)


def test_report_counts_bad_reads_as_mismatches() -> None:
    report = CephReport(Timeline(run_lines(), [10.0], [40.0]), lost=[], mismatched=["w3"], bad_reads=2,
                        uncertain=0, checked=9)
    assert report.metrics()["ceph_objects_mismatched"] == 3 and report.metrics()["ceph_objects_lost"] == 0
