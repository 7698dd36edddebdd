"""API probe: a bounded stream of Keystone token requests through the VIP over TLS,
from a lab node; the time series and its reliability metrics.

Credentials and the CA path come from the probe node's ``/etc/openstack/clouds.yaml``
(cloud ``stacklab``, the admin); they reach the node in a 0600 config file, never in
argv. Each request has a fresh TLS connection, 0.8 s to connect (TCP + TLS: a
dead frontend is an error within that, so downtime is resolved to ≈ 1 s instead of
one request hanging) and 5 s per socket operation after that. Requests start every
``interval`` s (0.25: 4 per second) in an open loop, up to ``concurrency`` (4) in
flight: a request caught in flight by a dead VIP holder hangs until its timeout, and the
ones sent after it still measure when the API answers again. The bound matters: a token
costs Keystone ≈ 0.2 s of CPU (password hashing), so an unbounded stream at 10 per
second would overload a 2-core host and measure its own overload.

Metrics (definitions in ``checks.ha_metrics``): ``api_downtime_s``, ``api_error_rate``,
``api_latency_p95_s`` (successful requests), and ``api_mttr_s`` when a fault time was
marked (host ``time.monotonic()``; the node's clock is the same one).

Example::

    api = ApiProbe("h6a").start()
    api.wait_requests(20)                 # a baseline before the fault
    api.mark_fault()
    engine.run("h6a", "ctl2", ["systemctl", "stop", "keystone"])
    api.wait_healthy(timeout=60)
    api.stop().metrics()    # {'api_downtime_s': 0.0, 'api_error_rate': 0.0, 'api_mttr_s': 0.0, ...}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import yaml

from checks.ha_metrics import Sample, baseline, downtime, mttr, percentile, rounded, touched_by_fault
from checks.ha_run import NodeProbe, ProbeClient, prober, samples, wait_until
from lab import engine
from lab.errors import LabError

CLOUDS = "/etc/openstack/clouds.yaml"
CLOUD = "stacklab"
AUTH_KEYS = ("auth_url", "username", "password", "project_name", "user_domain_name", "project_domain_name")


def credentials(lab: engine.LabRef, node: str) -> dict[str, str]:
    """The admin's auth fields and the cacert path from the node's clouds.yaml."""
    done = engine.run(lab, node, ["cat", CLOUDS], timeout=30)
    if not done.ok:
        raise LabError(f"{node}: cannot read {CLOUDS} (deploy the `clouds` component): {done.stderr.strip()}")
    cloud = (yaml.safe_load(done.stdout) or {}).get("clouds", {}).get(CLOUD)
    if not cloud:
        raise LabError(f"{node}:{CLOUDS} has no cloud '{CLOUD}'")
    auth = cloud.get("auth", {})
    missing = [k for k in AUTH_KEYS if k not in auth] + ([] if cloud.get("cacert") else ["cacert"])
    if missing:
        raise LabError(f"{node}:{CLOUDS}: cloud '{CLOUD}' lacks {', '.join(missing)}")
    return {**{k: str(auth[k]) for k in AUTH_KEYS}, "cacert": str(cloud["cacert"])}


@dataclass
class ApiResult:
    node: str
    samples: list[Sample]
    fault_t: float | None = None
    factor: float = 3.0  # MTTR: "back at baseline" = latency ≤ factor × pre-fault median
    hold: int = 5  # ... for this many requests in a row
    problems: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Sample]:
        return [s for s in self.samples if not s.ok]

    def metrics(self) -> dict[str, float | None]:
        """Catalog metrics; ``api_mttr_s`` is None without a fault time or a recovery."""
        total = len(self.samples)
        mt = mttr(self.samples, self.fault_t, self.factor, self.hold) if self.fault_t is not None else None
        return {
            "api_downtime_s": rounded(downtime(touched_by_fault(self.samples, self.fault_t))),
            "api_error_rate": rounded(len(self.errors) / total, 4) if total else None,
            "api_mttr_s": rounded(mt),
            "api_latency_p95_s": rounded(percentile([s.lat for s in self.samples if s.ok], 95)),
        }

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {"api_requests": len(self.samples), "api_errors": len(self.errors),
                               "api_errors_before_fault": sum(1 for s in self.errors if s.end < (self.fault_t or 0)),
                               "api_error_kinds": dict(Counter(_kind(s) for s in self.errors).most_common(5))}
        if self.fault_t is not None:
            out["api_baseline_latency_s"] = rounded(baseline(self.samples, self.fault_t), 4)
            if self.errors:
                out["api_longest_failed_request_s"] = rounded(max(s.lat for s in self.errors))
                out["api_first_error_after_fault_s"] = rounded(self.errors[0].t - self.fault_t)
                out["api_last_error_end_after_fault_s"] = rounded(max(s.end for s in self.errors) - self.fault_t)
        return out


def _kind(s: Sample) -> str:
    """An error's class without the details that differ per request."""
    return f"HTTP {s.status}" if s.status else (s.err or "?").split(":")[0]


class ApiProbe(ProbeClient):
    """Start/stop the in-node token prober; ``result`` holds the outcome after ``stop``."""

    def __init__(self, lab: engine.LabRef, node: str | None = None, *, timeout: float = 5.0,
                 connect_timeout: float = 0.8, interval: float = 0.25, concurrency: int = 4, seconds: float = 300,
                 max_requests: int = 10_000, avoid: tuple[str, ...] = (), use_token: bool = False) -> None:
        self.lab = lab
        self.node = node or prober(lab, avoid)
        config = {**credentials(lab, self.node), "timeout": timeout, "connect_timeout": connect_timeout,
                  "interval": interval, "concurrency": concurrency, "max_samples": max_requests,
                  "use_token": use_token}
        self.probe = NodeProbe(lab, self.node, "api", config, seconds)
        self.result: ApiResult | None = None
        self.lines: list[dict[str, Any]] = []

    def current(self) -> list[Sample]:
        return to_samples(self.probe.read())

    def wait_requests(self, count: int, timeout: float = 60) -> None:
        """Until ``count`` requests have succeeded (a baseline)."""
        wait_until(f"{count} successful token requests from {self.node}",
                   lambda: sum(s.ok for s in self.current()) >= count, timeout, 0.25)

    def wait_healthy(self, timeout: float, hold: int = 10) -> float:
        """Until the last ``hold`` requests all succeeded (after a fault: recovered)."""
        def healthy() -> bool:
            last = self.current()[-hold:]
            return len(last) == hold and all(s.ok for s in last) and (
                self.fault_t is None or last[0].t > self.fault_t)

        return wait_until(f"{hold} successful token requests in a row from {self.node}", healthy, timeout, 0.25)

    def stop(self) -> ApiResult:
        """Stop the probe (idempotent) and return the result."""
        if self.result is not None:
            return self.result
        lines = self.probe.stop()
        self.lines = lines
        self.result = ApiResult(self.node, to_samples(lines), self.fault_t, problems=self.probe.problems())
        return self.result


def to_samples(lines: list[dict[str, Any]]) -> list[Sample]:
    return [Sample("api", s["t"], s["ok"], s["lat"], s.get("err"), s.get("status")) for s in samples(lines, "api")]


def token_refusals(lines: list[dict[str, Any]], since: float | None) -> tuple[dict[str, float | None],
                                                                              dict[str, Any]]:
    """Of the tokens issued (from ``since``, host monotonic), how many the API refused when
    their holder presented them (a probe run with ``use_token``): (metrics, figures).

    >>> token_refusals([{"k": "api", "t": 1, "ok": True, "issued": True},
    ...                 {"k": "api", "t": 2, "ok": False, "issued": True},
    ...                 {"k": "api", "t": 3, "ok": False, "issued": False}], None)[0]
    {'api_token_refused_rate': 0.5}
    """
    seen = [s for s in samples(lines, "api") if since is None or float(s["t"]) >= since]
    issued = [s for s in seen if s.get("issued")]
    refused = sum(1 for s in issued if not s["ok"])
    rate = rounded(refused / len(issued), 4) if issued else None
    return {"api_token_refused_rate": rate}, {"issued": len(issued), "refused": refused,
                                              "not_issued": len(seen) - len(issued)}
