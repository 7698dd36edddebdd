"""The probes a scenario needs, started before its faults and read by its ``expect`` steps.

Which probes run follows from the metrics the scenario expects: ``vip_failover_s``
starts the VIP prober, ``api_*`` the Keystone token stream, ``galera_*`` the
acknowledged-writes writer, ``rabbit_*`` the confirmed publisher. All of them run
inside a lab node (checks.ha_*); ``haproxy_detect_s`` watches haproxy's stats from
the fault on. A probe is stopped and judged at the first ``expect`` that needs it,
after waiting (bounded) for the outage to end, and its figures are kept for the report.
``load`` steps are locust runs with their own gates (``stacklab.runner.loads``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from checks.haproxy_watch import HaproxyWatch
from lab.errors import LabError
from lab.faultspec import FaultSpec
from stacklab.runner.loads import Loads
from stacklab.scenario import ExpectStep, Scenario, ServiceFault

if TYPE_CHECKING:
    from stacklab.runner.session import ScenarioRun

FAMILY = {"vip_failover_s": "vip", "api_downtime_s": "api", "api_mttr_s": "api", "api_error_rate": "api",
          "api_latency_p95_s": "api", "galera_writes_lost": "galera", "galera_writes_duplicated": "galera",
          "rabbit_messages_lost": "rabbit", "haproxy_detect_s": "haproxy"}
RECOVERY_TIMEOUT = 120.0  # an outage longer than this is reported as measured so far
PROBE_SECONDS = 1800.0  # hard deadline of every in-node probe loop
BACKEND_OF = {"keystone": "keystone", "mariadb": "mariadb"}


class ProbeSet:
    def __init__(self, run: ScenarioRun) -> None:
        self.run = run
        self.live: dict[str, Any] = {}
        self.metrics: dict[str, float | None] = {}
        self.figures: dict[str, Any] = {}
        self.watches: list[HaproxyWatch] = []
        self.loads = Loads(run)

    def start(self, scn: Scenario) -> None:
        wanted = {FAMILY[s.expect.metric] for s in scn.steps if isinstance(s, ExpectStep) and s.expect.metric
                  and s.expect.metric in FAMILY}
        lab = self.run.lab
        if "vip" in wanted:
            from checks.ha_vip import VipProbe
            # TLS, not a bare connect: a frozen holder's kernel still completes TCP handshakes
            # from the listen backlog, so only a real answer from haproxy shows the outage.
            self.live["vip"] = VipProbe(lab, seconds=PROBE_SECONDS, tls=True).start()
        if "api" in wanted:
            from checks.ha_api import ApiProbe
            self.live["api"] = ApiProbe(lab, seconds=PROBE_SECONDS, max_requests=100_000).start()
        if "galera" in wanted:
            from checks.ha_galera import GaleraWriter
            self.live["galera"] = GaleraWriter(lab, seconds=PROBE_SECONDS, max_writes=200_000).start()
        if "rabbit" in wanted:
            from checks.ha_rabbit import RabbitChecker
            self.live["rabbit"] = RabbitChecker(lab, seconds=PROBE_SECONDS).start()
        self._baseline()

    def _baseline(self) -> None:
        """A few good samples before any fault: MTTR compares against this baseline."""
        if "api" in self.live:
            self.live["api"].wait_requests(5, timeout=120)
        if "vip" in self.live:
            self.live["vip"].wait_samples(20, timeout=60)
        if "galera" in self.live:
            self.live["galera"].wait_acked(5, timeout=120)
        if "rabbit" in self.live:
            self.live["rabbit"].wait_confirmed(5, timeout=120)

    def on_fault(self, nodes: list[str], spec: FaultSpec) -> None:
        t = self.run.fault_at
        for name in ("vip", "api"):
            if name in self.live:
                self.live[name].mark_fault(t)
        if isinstance(spec, ServiceFault) and spec.service in BACKEND_OF and t is not None:
            from stacklab.runner.selectors import vip_holder

            holder = vip_holder(self.run.inv)
            self.watches += [HaproxyWatch(self.run.lab, holder=holder, target=n,
                                          backend=BACKEND_OF[spec.service]).start(t) for n in nodes]

    def metric(self, name: str) -> float | None:
        family = FAMILY.get(name)
        if name not in self.metrics:
            judge = {"vip": self._vip, "api": self._api, "galera": self._galera, "rabbit": self._rabbit,
                     "haproxy": self._haproxy}.get(family or "")
            if judge is None:
                return None
            judge()
        return self.metrics.get(name)

    def _vip(self) -> None:
        self._judge("vip", lambda p: p.fault_t is not None and p.wait_recovered(RECOVERY_TIMEOUT))

    def _api(self) -> None:
        self._judge("api", lambda p: p.wait_healthy(RECOVERY_TIMEOUT))

    def _galera(self) -> None:
        self._judge("galera")

    def _rabbit(self) -> None:
        self._judge("rabbit")

    def _judge(self, family: str, settle: Callable[[Any], object] | None = None) -> None:
        """Stop a live probe and keep its metrics and figures. A timing probe first waits
        (bounded) for the outage to end; a data checker verifies instead (after heal)."""
        probe = self.live.pop(family, None)
        if probe is None:
            return
        if settle is None:
            result = probe.stop_and_verify()
        else:
            try:
                settle(probe)
            except LabError as e:  # no outage, or one longer than the timeout: the samples say which
                self.figures[f"{family}_wait"] = str(e)
            result = probe.stop()
        self.metrics.update(result.metrics())
        self.figures[family] = result.figures()

    def _haproxy(self) -> None:
        results = [w.result() for w in self.watches]
        seen = [r for r in results if r is not None]
        self.metrics["haproxy_detect_s"] = max(seen) if seen and len(seen) == len(results) else None
        self.figures["haproxy"] = {"detect_s": results}

    def stop(self) -> None:
        """Stop whatever still runs (a failed run): no process may stay behind in a node."""
        for probe in list(self.live.values()):
            probe.stop()
        self.live.clear()
        self.loads.stop()

    def all_metrics(self) -> dict[str, Any]:
        return {"values": self.metrics, "figures": self.figures}
