"""RabbitMQ message checker for the partition scenario.

A publisher in a lab node (``checks/probes/rabbit.py``, py-amqp from the node image)
sends ``count`` numbered persistent messages, one at a time with publisher confirms,
to a durable quorum queue, as user ``openstack`` (``deployer/roles/rabbitmq.py``,
password secret ``rabbit_openstack``), connecting straight to the controllers (the VIP
carries no AMQP; clients list every broker, as oslo.messaging does) and moving to the
next broker after any error. After heal, ``verify`` drains the queue from a node and
compares: ``rabbit_messages_lost`` = confirmed but not found.

Example::

    rabbit = RabbitChecker("h6a", count=500).start()
    rabbit.wait_confirmed(20)
    ...                                        # partition, heal
    report = rabbit.stop_and_verify()
    report.metrics()                           # {'rabbit_messages_lost': 0}
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from checks.ha_galera import secret
from checks.ha_metrics import Sample, longest_gap, rounded
from checks.ha_run import NodeProbe, ProbeClient, events, prober, samples, wait_until
from checks.infra.base import open_lab
from lab import engine


@dataclass
class RabbitReport:
    samples: list[Sample]  # kind "pub" (a publish) or "connect" (a failed connect)
    found: list[int]  # sequence numbers drained from the queue, with repeats
    drained_from: str
    problems: list[str] = field(default_factory=list)

    @property
    def published(self) -> list[Sample]:
        return [s for s in self.samples if s.kind == "pub"]

    @property
    def confirmed(self) -> set[int]:
        return {s.seq for s in self.published if s.ok and s.seq is not None}

    def metrics(self) -> dict[str, int]:
        return {"rabbit_messages_lost": len(self.confirmed - set(self.found))}

    def figures(self) -> dict[str, Any]:
        unconfirmed = {s.seq for s in self.published if not s.ok}
        gap, _, _ = longest_gap([s.end for s in self.published if s.ok])
        return {"rabbit_published": len(self.published), "rabbit_confirmed": len(self.confirmed),
                "rabbit_found": len(self.found),
                "rabbit_duplicated": sum(1 for n in Counter(self.found).values() if n > 1),
                "rabbit_unconfirmed_present": len(unconfirmed & set(self.found)),
                "rabbit_connect_failures": sum(s.kind == "connect" for s in self.samples),
                "rabbit_publish_stall_s": rounded(gap),
                "rabbit_brokers_used": dict(Counter(s.node for s in self.published if s.ok))}


class RabbitChecker(ProbeClient):
    """Start/stop the in-node publisher, then ``verify`` by draining the queue."""

    def __init__(self, lab: engine.LabRef, node: str | None = None, *, count: int = 1000, interval: float = 0.05,
                 timeout: float = 5.0, seconds: float = 300, avoid: tuple[str, ...] = ()) -> None:
        from deployer.roles.rabbitmq import USER  # here: a role module pulls in the whole deployer

        self.lab = lab
        inv = open_lab(lab).inv
        self.brokers = [inv.hosts[n].ip("mgmt") for n in inv.names("controller")]
        self.node = node or prober(lab, avoid)
        self.queue = f"stacklab-probe-{uuid.uuid4().hex[:8]}"
        self.base = {"user": USER, "password": secret(lab, "rabbit_openstack"), "queue": self.queue,
                     "timeout": timeout}
        config = {**self.base, "mode": "publish", "hosts": self.brokers, "count": count, "interval": interval,
                  "max_samples": count * 20}  # connect failures are lines too
        self.probe = NodeProbe(lab, self.node, "rabbit", config, seconds)
        self.lines: list[dict[str, Any]] = []

    def confirmed_so_far(self) -> int:
        return sum(1 for s in samples(self.probe.read(), "pub") if s["ok"])

    def wait_confirmed(self, count: int, timeout: float = 60) -> None:
        wait_until(f"{count} confirmed messages from {self.node}", lambda: self.confirmed_so_far() >= count,
                   timeout, 0.25)

    def wait_done(self, timeout: float) -> None:
        """Until the publisher sent all ``count`` messages (or hit its deadline)."""
        self.probe.wait(timeout)

    def stop(self) -> list[Sample]:
        """Stop the publisher (idempotent); its samples. ``verify`` comes after heal."""
        self.lines = self.probe.stop()
        return to_samples(self.lines)

    def verify(self, timeout: float = 120, delete: bool = True) -> RabbitReport:
        """Drain the queue (every message acknowledged away) and delete it (default)."""
        config = {**self.base, "mode": "drain", "hosts": self.brokers, "delete": delete, "max_samples": 10**6}
        drain = NodeProbe(self.lab, self.node, "rabbit", config, timeout)
        drain.start()
        try:
            drain.wait(timeout + 10)
        finally:
            lines = drain.stop()
        done = events(lines, "drained")
        problems = self.probe.problems("publisher") + drain.problems("drain")
        found = [int(s["seq"]) for s in lines if s.get("k") == "msg"]
        return RabbitReport(to_samples(self.lines), found, done[0]["node"] if done else "", problems)

    def stop_and_verify(self, timeout: float = 120) -> RabbitReport:
        self.stop()
        return self.verify(timeout)


def to_samples(lines: list[dict[str, Any]]) -> list[Sample]:
    return [Sample(s["k"], s["t"], s["ok"], s["lat"], s.get("err"), seq=s.get("seq"), node=s.get("node"))
            for kind in ("pub", "connect") for s in samples(lines, kind)]
