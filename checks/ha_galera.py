"""Galera acknowledged-writes checker (Jepsen-style).

During the fault a writer in a lab node (``checks/probes/galera_writer.py``) inserts
sequence numbers through the VIP (haproxy → one Galera node), as the ``stacklab`` DB
user (``deployer/roles/galera_sql.py``: database ``stacklab``, password secret
``db_stacklab``), each INSERT its own autocommit transaction with a 2 s timeout, and
records which were acknowledged. After heal, ``verify`` reads the table on EVERY
controller through its local socket (root, ``mysql -N -B``, with ``wsrep_sync_wait``
so the read waits for the node to apply what it has received) and compares:

- ``galera_writes_lost``: acknowledged, but missing on at least one node;
- ``galera_writes_duplicated``: sequence numbers present more than once on some node;
- figures: unacknowledged-but-present (an error reached the client after the commit),
  rows that differ between nodes, and the write stall (longest gap between acks).

Example::

    writer = GaleraWriter("h6a").start()
    writer.wait_acked(50)
    ...                                    # fault, heal
    report = writer.stop_and_verify()
    report.metrics()    # {'galera_writes_lost': 0, 'galera_writes_duplicated': 0}
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from checks.ha_metrics import Sample, longest_gap, rounded
from checks.ha_run import NodeProbe, ProbeClient, node_states, prober, samples, wait_until
from checks.infra.base import open_lab
from deployer.deploy import context, deployed_cloud
from deployer.roles.galera_sql import APP_DB, APP_USER, parse_status
from lab import engine
from lab.errors import LabError


def secret(lab: engine.LabRef, name: str) -> str:
    """A lab secret as the deployer made it (``ctx.secrets.password(name)``)."""
    cloud = deployed_cloud(str(lab))
    if cloud is None:
        raise LabError(f"lab '{lab}' has not been deployed")
    return context(lab, cloud, say=lambda _: None).secrets.password(name)


def mysql(lab: engine.LabRef, node: str, sql: str, timeout: float = 30) -> str:
    """SQL as root through the node's socket; tab-separated rows, LabError on failure."""
    done = engine.run(lab, node, ["mysql", "-N", "-B"], input=sql, timeout=timeout)
    if not done.ok:
        raise LabError(f"{node}: mysql: {done.stderr.strip()[:300]}")
    return done.stdout


def synced(lab: engine.LabRef, node: str) -> bool:
    try:
        status = parse_status(mysql(lab, node, "SHOW GLOBAL STATUS LIKE 'wsrep_%'", timeout=10))
    except LabError:
        return False
    return status.get("wsrep_local_state_comment") == "Synced" and status.get("wsrep_cluster_status") == "Primary"


@dataclass
class GaleraReport:
    samples: list[Sample]  # kind "w" (a write) or "connect" (a failed connect)
    rows: dict[str, list[int]]  # node -> sequence numbers found, with repeats
    table: str
    problems: list[str] = field(default_factory=list)
    fault_t: float | None = None  # stall times are given relative to it (else to the first write)

    @property
    def writes(self) -> list[Sample]:
        return [s for s in self.samples if s.kind == "w"]

    @property
    def acked(self) -> set[int]:
        return {s.seq for s in self.writes if s.ok and s.seq is not None}

    def lost(self) -> dict[str, list[int]]:
        """node -> acknowledged sequence numbers missing there."""
        return {n: sorted(self.acked - set(r)) for n, r in self.rows.items() if self.acked - set(r)}

    def duplicated(self) -> set[int]:
        return {seq for r in self.rows.values() for seq, n in Counter(r).items() if n > 1}

    def metrics(self) -> dict[str, int]:
        lost = {seq for seqs in self.lost().values() for seq in seqs}
        return {"galera_writes_lost": len(lost), "galera_writes_duplicated": len(self.duplicated())}

    def figures(self) -> dict[str, Any]:
        present = {seq for r in self.rows.values() for seq in r}
        unacked = {s.seq for s in self.writes if not s.ok}
        everywhere = set.intersection(*(set(r) for r in self.rows.values())) if self.rows else set()
        gap, start, end = longest_gap([s.end for s in self.writes if s.ok])
        zero = self.fault_t if self.fault_t is not None else min((s.t for s in self.samples), default=0.0)
        return {"galera_writes_attempted": len(self.writes), "galera_writes_acked": len(self.acked),
                "galera_writes_unacked": len(unacked), "galera_writes_unacked_present": len(unacked & present),
                "galera_rows_divergent": len(present - everywhere),
                "galera_connect_failures": sum(s.kind == "connect" for s in self.samples),
                "galera_write_stall_s": rounded(gap),
                "galera_write_stall_from_s": rounded(start - zero) if gap else None,  # after the fault
                "galera_write_stall_to_s": rounded(end - zero) if gap else None,
                "galera_rows_per_node": {n: len(r) for n, r in self.rows.items()},
                "galera_lost_per_node": {n: len(s) for n, s in self.lost().items()}}


class GaleraWriter(ProbeClient):
    """Start/stop the in-node writer, then ``verify`` on every controller."""

    def __init__(self, lab: engine.LabRef, node: str | None = None, *, interval: float = 0.02, timeout: float = 2.0,
                 seconds: float = 300, max_writes: int = 20_000, avoid: tuple[str, ...] = ()) -> None:
        self.lab = lab
        inv = open_lab(lab).inv
        self.controllers = inv.names("controller")
        self.node = node or prober(lab, avoid)
        self.table = f"{APP_DB}.acked_writes_{uuid.uuid4().hex[:8]}"
        config = {"host": inv.vip, "port": 3306, "user": APP_USER, "password": secret(lab, "db_stacklab"),
                  "database": APP_DB, "table": self.table, "interval": interval, "timeout": timeout,
                  "max_samples": max_writes}
        self.probe = NodeProbe(lab, self.node, "galera_writer", config, seconds)
        self.lines: list[dict[str, Any]] = []

    def acked_so_far(self) -> int:
        return sum(1 for s in samples(self.probe.read(), "w") if s["ok"])

    def wait_acked(self, count: int, timeout: float = 60) -> None:
        wait_until(f"{count} acknowledged writes from {self.node}", lambda: self.acked_so_far() >= count, timeout, 0.25)

    def stop(self) -> list[Sample]:
        """Stop the writer (idempotent); its samples. ``verify`` comes after heal."""
        self.lines = self.probe.stop()
        return to_samples(self.lines)

    def verify(self, timeout: float = 180, drop: bool = True) -> GaleraReport:
        """Wait until every controller is Synced, read the table on each, drop it (default)."""
        states = node_states(self.lab)
        down = [n for n in self.controllers if states.get(n) != "running"]
        if down:
            raise LabError(f"verify needs every controller running (heal first): {', '.join(down)} are not")
        for node in self.controllers:
            wait_until(f"Galera on {node} Synced in a Primary component", partial(synced, self.lab, node),
                       timeout, 0.5)
        rows = {n: self.read_rows(n) for n in self.controllers}
        problems = self.probe.problems("writer")
        if drop:
            mysql(self.lab, self.controllers[0], f"DROP TABLE IF EXISTS {self.table}")
        return GaleraReport(to_samples(self.lines), rows, self.table, problems, self.fault_t)

    def read_rows(self, node: str) -> list[int]:
        # wsrep_sync_wait=1: the SELECT first waits until the node applied every write set
        # it has received, so a node still catching up is not taken for one that lost rows.
        out = mysql(self.lab, node, f"SET SESSION wsrep_sync_wait=1; SELECT seq FROM {self.table} ORDER BY seq;")
        return [int(line) for line in out.split()]

    def stop_and_verify(self, timeout: float = 180) -> GaleraReport:
        self.stop()
        return self.verify(timeout)


def to_samples(lines: list[dict[str, Any]]) -> list[Sample]:
    return [Sample(s["k"], s["t"], s["ok"], s["lat"], s.get("err"), seq=s.get("seq"))
            for kind in ("w", "connect") for s in samples(lines, kind)]
