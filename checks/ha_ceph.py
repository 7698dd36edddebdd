"""The Ceph probe's host side: start the in-node watcher (``checks/probes/ceph_watch.py``)
on a Ceph client node, tell it the faults and heals, and after heal verify every object
it had acknowledged (the last acknowledged version of each writer object and every seed
object) by checksum.

- ``ceph_objects_lost``: acknowledged objects unreadable after recovery;
- ``ceph_objects_mismatched``: objects read back (after recovery, or by the reader while
  the fault was in force) with a checksum other than the acknowledged one.

A writer object whose last write was not acknowledged (timed out while the pool was
blocked) may hold either version: it is counted apart (``uncertain``), not judged.

Example::

    watch = CephWatch(lab).start()
    watch.wait_ready()
    ...                                # fault, heal (mark_fault / mark_heal)
    report = watch.stop_and_verify()
    report.metrics()                   # {'ceph_degraded_s': 9.1, 'ceph_recovery_s': 12.0, ...}
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from checks import ceph
from checks.ceph_timeline import Timeline
from checks.ha_run import NodeProbe, ProbeClient, events, node_states, samples, wait_until
from lab import engine
from lab.errors import LabError

OP_TIMEOUT = 20.0  # a write not acknowledged in 20 s is blocked, not re-peering (≈ 8-15 s here)
RECOVER_TIMEOUT = 300.0  # the weak lab recovers at 100 Mbit on half a core


@dataclass
class CephReport:
    timeline: Timeline
    lost: list[str]
    mismatched: list[str]  # after recovery
    bad_reads: int  # reads during the run that returned other bytes than were written
    uncertain: int
    checked: int
    problems: list[str] = field(default_factory=list)

    def metrics(self) -> dict[str, float | None]:
        tl = self.timeline
        return {"ceph_degraded_s": tl.degraded_s(), "ceph_recovery_s": tl.recovery_s(),
                "ceph_degraded_pgs": tl.most_degraded_pgs(), "ceph_writes_blocked_s": tl.blocked_s(),
                "ceph_objects_lost": len(self.lost), "ceph_objects_mismatched": len(self.mismatched) + self.bad_reads,
                "rados_write_mbps": tl.mbps("write"), "rados_read_mbps": tl.mbps("read")}

    def figures(self) -> dict[str, Any]:
        return {**self.timeline.figures(), "objects_checked": self.checked, "objects_uncertain": self.uncertain,
                "lost": self.lost[:20], "mismatched": self.mismatched[:20], "bad_reads": self.bad_reads,
                "problems": self.problems}


def manifest(lines: list[dict[str, Any]]) -> tuple[dict[str, str], int]:
    """({object: sha256} of every acknowledged object's last version, uncertain count).

    >>> manifest([{"ev": "seeds", "objects": {"s0": "a"}}, {"k": "w", "t": 1, "seq": 1, "name": "w1", "ok": True,
    ...           "sha": "b"}, {"k": "w", "t": 2, "seq": 2, "name": "w2", "ok": False}])
    ({'s0': 'a', 'w1': 'b'}, 1)
    """
    objects: dict[str, str] = {}
    for seeds in events(lines, "seeds"):
        objects.update(seeds["objects"])
    last: dict[str, dict[str, Any]] = {}
    for w in samples(lines, "w"):
        if w["name"] not in last or w["seq"] > last[w["name"]]["seq"]:
            last[w["name"]] = w
    uncertain = 0
    for name, w in last.items():
        if w["ok"]:
            objects[name] = w["sha"]
        else:
            uncertain += 1
    return objects, uncertain


class CephWatch(ProbeClient):
    """The in-node watcher plus what the runner tells it (fault and heal times)."""

    def __init__(self, lab: engine.LabRef, node: str | None = None, *, seconds: float = 1800, size: int = 2**20,
                 ring: int = 32, seeds: int = 8, status_interval: float = 1.0) -> None:
        self.lab = lab
        self.clab = ceph.as_lab(lab)  # the deployed lab as checks see it: once, not per call
        self.node = node or self.client_node()
        config = {"pool": ceph.POOL, "prefix": f"stacklab-watch-{int(time.time())}", "size": size, "ring": ring,
                  "seeds": seeds, "op_timeout": OP_TIMEOUT, "mon_timeout": 5, "status_interval": status_interval,
                  "write_interval": 0, "read_interval": 0, "max_samples": 400_000}
        self.probe = NodeProbe(lab, self.node, "ceph_watch", config, seconds)
        self.faults: list[float] = []
        self.heals: list[float] = []
        self.lines: list[dict[str, Any]] | None = None

    def client_node(self) -> str:
        """The first running node with the admin keyring (a controller, else a mon)."""
        states = node_states(self.lab)
        nodes = [n for n in ceph.client_nodes(self.clab) if states.get(n) == "running"]
        if not nodes:
            raise LabError(f"lab '{self.lab}' has no running Ceph client node for the probe")
        return nodes[0]

    def mark_fault(self, t: float | None = None) -> None:
        super().mark_fault(t)
        self.faults.append(self.fault_t or time.monotonic())

    def mark_heal(self, t: float | None = None) -> None:
        self.heals.append(time.monotonic() if t is None else t)

    def wait_ready(self, timeout: float = 120) -> None:
        """Until the seeds are written and writes, reads and status samples flow."""
        def flowing() -> bool:
            lines = self.probe.read()
            return all(any(x.get("k") == k and x.get("ok") for x in lines) for k in ("st", "w", "r"))
        wait_until(f"the Ceph probe on {self.node} writing, reading and watching", flowing, timeout, 0.5)

    def stop(self) -> list[dict[str, Any]]:
        if self.lines is None:
            self.lines = self.probe.stop()
        return self.lines

    def stop_and_verify(self, timeout: float = RECOVER_TIMEOUT) -> CephReport:
        """Let Ceph recover (bounded: a timeout is a problem in the report), stop, read every
        acknowledged object back, then remove the probe's objects."""
        problems: list[str] = []
        try:
            ceph.wait_for_health(self.clab, lambda h: h.recovered, timeout=timeout, what="recovery before verify")
        except TimeoutError as exc:
            problems.append(str(exc))
        lines = self.stop()
        objects, uncertain = manifest(lines)
        back = ceph.read_back(self.clab, {"objects": objects}, op_timeout=OP_TIMEOUT)
        ceph.remove_objects(self.clab, sorted({x["name"] for x in samples(lines, "w")} | set(objects)))
        bad = sum(1 for r in samples(lines, "r") if r.get("bad"))
        return CephReport(Timeline(lines, self.faults, self.heals), back.missing, back.mismatched, bad, uncertain,
                          back.checked, problems + self.probe.problems("ceph probe"))
