"""Metrics a scenario can ``expect``, declared by the probe families that produce them.

A family is a class registered with ``@family``: the metrics it yields (name, unit,
summary, whether it needs a fault before it), the service it measures (a key of
``deployer.catalog.SERVICES``: a lab with no node running it cannot produce the
metrics), which fault steps feed it, and the five verbs the runner calls: start,
baseline, on_fault, judge, stop. A metric exists in scenario files exactly when a
family here produces it; the runner starts the families whose metrics a scenario
expects. The probe code proper lives in the modules each family imports on use
(``checks.ha_*``, ``checks.haproxy_watch``), so this module stays cheap to import.

>>> METRICS["vip_failover_s"].unit, producer("haproxy_detect_s").service
('s', 'haproxy')
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from checks.panels import Panel
from lab.errors import LabError

RECOVERY_TIMEOUT = 120.0  # an outage longer than this is reported as measured so far
PROBE_SECONDS = 1800.0  # hard deadline of every in-node probe loop


@dataclass(frozen=True)
class Metric:
    unit: str
    summary: str
    after_fault: bool = False  # measured from a fault: an expect needs a fault step before it


@dataclass(frozen=True)
class ProbeContext:
    """What a family needs from the run: the open lab and its inventory."""

    lab: Any  # lab.engine.OpenLab (a name works too: opened per command)
    inv: Any  # deployer.inventory.Inventory


class Family(abc.ABC):
    name: ClassVar[str]
    metrics: ClassVar[dict[str, Metric]]
    service: ClassVar[str]  # what it measures (deployer.catalog.SERVICES)
    fed_by_text: ClassVar[str] = "a fault step"  # what fed_by accepts, for validation messages
    # How its raw samples are drawn in the report (checks.panels). The samples kept are the
    # lines of ``live.probe`` (a ProbeClient's NodeProbe) and ``live.labels`` names values.
    panels: ClassVar[tuple[Panel, ...]] = ()

    def __init__(self, ctx: ProbeContext) -> None:
        self.ctx = ctx
        self.live: Any = None

    @staticmethod
    def fed_by(action: str, service: str | None) -> bool:
        """Whether a fault step feeds this family (default: any fault is fine, none needed)."""
        return True

    @abc.abstractmethod
    def start(self) -> None:
        """Start the in-node probe (before the scenario's first step)."""

    def baseline(self) -> None:  # noqa: B027 - optional: most probes need no baseline
        """Wait (bounded) for a few good samples: MTTR compares against them."""

    def on_fault(self, at: float, nodes: list[str], action: str, service: str | None) -> None:
        """A fault step ran at host CLOCK_MONOTONIC ``at`` on ``nodes``."""
        if self.live is not None and hasattr(self.live, "mark_fault"):
            self.live.mark_fault(at)

    def on_heal(self, at: float) -> None:  # noqa: B027 - optional: most probes measure from the fault
        """A heal step ran at host CLOCK_MONOTONIC ``at``."""

    @abc.abstractmethod
    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        """Stop, settle or verify; (metrics, figures)."""

    def stop(self) -> None:
        """Stop whatever still runs (a failed run): no process may stay behind in a node."""
        if self.live is not None:
            self.live.stop()


FAMILIES: dict[str, type[Family]] = {}


def family(cls: type[Family]) -> type[Family]:
    """Register a probe family; a metric may be produced by one family only."""
    for metric in cls.metrics:
        if (other := next((f for f in FAMILIES.values() if metric in f.metrics), None)) and other is not cls:
            raise ValueError(f"metric '{metric}' is declared by families {other.name} and {cls.name}")
    FAMILIES[cls.name] = cls
    return cls


def producer(metric: str) -> type[Family]:
    return next(f for f in FAMILIES.values() if metric in f.metrics)


def settled(probe: Any, wait: Callable[[], object], figures: dict[str, Any], key: str) -> Any:
    """Wait for the outage to end (bounded), then stop; a timeout is a figure, not an error."""
    try:
        wait()
    except LabError as e:  # no outage, or one longer than the timeout: the samples say which
        figures[key] = str(e)
    return probe.stop()


@family
class Vip(Family):
    name = "vip"
    service = "keepalived"
    metrics: ClassVar[dict[str, Metric]] = {
        "vip_failover_s": Metric("s", "VIP unreachable from a lab node, first miss to first answer", True)}
    panels = (Panel("VIP: TCP+TLS handshakes from the client", "tcp", "outcome"),
              Panel("VIP holder (the client's ARP entry)", "arp", "state", field="mac"))

    def start(self) -> None:
        from checks.ha_vip import VipProbe

        # TLS, not a bare connect: a frozen holder's kernel still completes TCP handshakes
        # from the listen backlog, so only a real answer from haproxy shows the outage.
        self.live = VipProbe(self.ctx.lab, seconds=PROBE_SECONDS, tls=True).start()

    def baseline(self) -> None:
        self.live.wait_samples(20, timeout=60)

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        figures: dict[str, Any] = {}
        p = self.live
        result = settled(p, lambda: p.fault_t is not None and p.wait_recovered(RECOVERY_TIMEOUT), figures,
                         "vip_wait")
        return result.metrics(), {"vip": result.figures(), **figures}


@family
class Api(Family):
    name = "api"
    service = "keystone"
    metrics: ClassVar[dict[str, Metric]] = {
        "api_downtime_s": Metric("s", "first to last failed API request the fault could have touched"),
        "api_mttr_s": Metric("s", "fault to API latency back at its baseline", True),
        "api_error_rate": Metric("ratio", "failed API requests / all API requests"),
        "api_latency_p95_s": Metric("s", "95th percentile API latency"),
    }
    panels = (Panel("API: Keystone token requests through the VIP", "api", "outcome"),)

    def start(self) -> None:
        from checks.ha_api import ApiProbe

        self.live = ApiProbe(self.ctx.lab, seconds=PROBE_SECONDS, max_requests=100_000).start()

    def baseline(self) -> None:
        self.live.wait_requests(5, timeout=120)

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        figures: dict[str, Any] = {}
        result = settled(self.live, lambda: self.live.wait_healthy(RECOVERY_TIMEOUT), figures, "api_wait")
        return result.metrics(), {"api": result.figures(), **figures}


@family
class TokenUse(Family):
    """Tokens issued through the VIP and presented through it again, as their holders'
    next call would: a Keystone whose clock is off refuses the others' tokens (or its own
    are refused), and the VIP's round robin spreads that over every client."""

    name = "token"
    service = "keystone"
    metrics: ClassVar[dict[str, Metric]] = {
        "api_token_refused_rate": Metric("ratio", "tokens issued through the VIP and refused when presented "
                                         "through it, from the fault on (all, without one)")}

    def start(self) -> None:
        from checks.ha_api import ApiProbe

        # 2 a second: each sample costs Keystone a token and a validation
        self.live = ApiProbe(self.ctx.lab, seconds=PROBE_SECONDS, max_requests=100_000, interval=0.5,
                             concurrency=2, use_token=True).start()

    def baseline(self) -> None:
        self.live.wait_requests(5, timeout=120)

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        from checks.ha_api import token_refusals

        self.live.stop()
        found, figures = token_refusals(self.live.lines, self.live.fault_t)
        return found, {"token": figures}


class DataChecker(Family):
    """A writer whose data is verified after heal (no settling: it checks what was kept)."""

    def on_fault(self, at: float, nodes: list[str], action: str, service: str | None) -> None:
        """Data checkers judge what was acknowledged, whenever the fault came."""

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        result = self.live.stop_and_verify()
        return result.metrics(), {self.name: result.figures()}


@family
class Galera(DataChecker):
    name = "galera"
    service = "mariadb"
    metrics: ClassVar[dict[str, Metric]] = {
        "galera_writes_lost": Metric("count", "acknowledged writes missing after heal"),
        "galera_writes_duplicated": Metric("count", "sequence numbers present more than once"),
    }
    panels = (Panel("Galera: acknowledged writes through the VIP", "w", "rate"),)

    def start(self) -> None:
        from checks.ha_galera import GaleraWriter

        self.live = GaleraWriter(self.ctx.lab, seconds=PROBE_SECONDS, max_writes=200_000).start()

    def baseline(self) -> None:
        self.live.wait_acked(5, timeout=120)


@family
class Rabbit(DataChecker):
    name = "rabbit"
    service = "rabbitmq"
    metrics: ClassVar[dict[str, Metric]] = {
        "rabbit_messages_lost": Metric("count", "published and confirmed messages missing after heal")}
    panels = (Panel("RabbitMQ: confirmed publishes", "pub", "rate"),)

    def start(self) -> None:
        from checks.ha_rabbit import RabbitChecker

        self.live = RabbitChecker(self.ctx.lab, seconds=PROBE_SECONDS).start()

    def baseline(self) -> None:
        self.live.wait_confirmed(5, timeout=120)


@family
class Haproxy(Family):
    """Watches haproxy's stats from a service fault on a balanced service until it marks DOWN."""

    name = "haproxy"
    service = "haproxy"
    metrics: ClassVar[dict[str, Metric]] = {
        "haproxy_detect_s": Metric("s", "fault to haproxy marking the backend DOWN", True)}
    BACKEND_OF: ClassVar[dict[str, str]] = {"keystone": "keystone", "mariadb": "mariadb"}  # service -> backend
    fed_by_text = "a stop_service, kill_service or restart_service step on keystone or mariadb"

    @staticmethod
    def fed_by(action: str, service: str | None) -> bool:
        return service in Haproxy.BACKEND_OF

    def start(self) -> None:
        self.live = []

    def on_fault(self, at: float, nodes: list[str], action: str, service: str | None) -> None:
        if service not in self.BACKEND_OF:
            return
        from checks.cluster import vip_holder
        from checks.haproxy_watch import HaproxyWatch

        holder = vip_holder(self.ctx.inv, self.ctx.lab)
        self.live += [HaproxyWatch(self.ctx.lab, holder=holder, target=n, backend=self.BACKEND_OF[service])
                      .start(at) for n in nodes]

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        results = [w.result() for w in self.live]
        seen = [r for r in results if r is not None]
        detect = max(seen) if seen and len(seen) == len(results) else None
        return {"haproxy_detect_s": detect}, {"haproxy": {"detect_s": results}}

    def stop(self) -> None:
        """The watches are threads bounded by their own timeout: nothing runs in a node."""


@family
class Ceph(Family):
    """Cluster status, a steady writer and a checksum-verifying reader in a Ceph client
    node (``checks.ha_ceph``); objects verified after recovery."""

    name = "ceph"
    service = "ceph-osd"
    metrics: ClassVar[dict[str, Metric]] = {
        "ceph_degraded_s": Metric("s", "first fault to Ceph reporting degraded/undersized PGs or an OSD down", True),
        "ceph_recovery_s": Metric("s", "first heal after the first fault to every PG active+clean, every OSD up",
                                  True),
        "ceph_degraded_pgs": Metric("count", "most PGs degraded at once during the run"),
        "ceph_writes_blocked_s": Metric("s", "a fault to the first write that gave up (20 s op timeout); earliest",
                                        True),
        "ceph_objects_lost": Metric("count", "acknowledged objects unreadable after recovery"),
        "ceph_objects_mismatched": Metric("count", "objects read back (during the run or after recovery) with "
                                          "another checksum than was written"),
        "rados_write_mbps": Metric("MB/s", "steady writer (1 MiB objects, one at a time) while the first fault "
                                   "is in force", True),
        "rados_read_mbps": Metric("MB/s", "steady reader (1 MiB objects, one at a time) while the first fault "
                                  "is in force", True),
    }

    def start(self) -> None:
        from checks.ha_ceph import CephWatch

        self.live = CephWatch(self.ctx.lab, seconds=PROBE_SECONDS).start()

    def baseline(self) -> None:
        self.live.wait_ready(timeout=180)

    def on_heal(self, at: float) -> None:
        self.live.mark_heal(at)

    def judge(self) -> tuple[dict[str, float | None], dict[str, Any]]:
        report = self.live.stop_and_verify()
        return report.metrics(), {"ceph": report.figures()}


METRICS: dict[str, Metric] = {m: spec for f in FAMILIES.values() for m, spec in f.metrics.items()}
