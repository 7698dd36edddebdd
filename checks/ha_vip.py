"""VIP failover timer: how long the API VIP stays unreachable from a lab node, and who
holds it afterwards.

The probe (``checks/probes/vip.py``) runs in a non-controller node and, every 20 ms,
starts a TCP connect to VIP:5000 (haproxy's TLS frontend; connect only) and sends an
ICMP echo, each with a 0.5 s timeout (below TCP's 1 s SYN retransmission).
``vip_failover_s`` is the TCP outage: the frontend is what clients need; the ICMP
outage is a figure beside it. Port 3306 works too, but
every bare connect there reaches MariaDB through haproxy and counts as an aborted
connect against ``max_connect_errors`` for the haproxy node: keep probing 5000.

A frozen holder (lab fault ``freeze``) is hung, not dead: its kernel still answers ARP,
ICMP and even TCP handshakes (the listen backlog), so a connect-only timer sees no
outage at all. ``tls=True`` adds a TLS handshake to each TCP sample (haproxy itself
must answer); the API probe is the judge of the service either way.

Example::

    with VipProbe("h6a") as vip:           # started; stopped on leaving the block
        vip.wait_samples(50)
        vip.mark_fault()
        faults.apply("h6a", PowerOff(action="power_off", node=vip.holders_before[0]))
        vip.wait_recovered(timeout=30)
    vip.result.metrics()                   # {'vip_failover_s': 3.1}
    vip.result.holders_after               # ['ctl2']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from checks.cluster import vip_holders, vip_macs
from checks.ha_metrics import Sample, Window, first_outage, rounded, touched_by_fault, windows
from checks.ha_run import NodeProbe, ProbeClient, events, prober, samples, wait_until
from checks.infra.base import open_lab
from lab import engine


@dataclass
class VipResult:
    node: str
    vip: str
    port: int
    interval: float
    samples: list[Sample]
    holders_before: list[str]
    holders_after: list[str]
    fault_t: float | None = None
    problems: list[str] = field(default_factory=list)
    tls: bool = False  # TCP samples include a TLS handshake
    stalled_s: float = 0.0  # how long the prober itself did not run (see checks/probes/vip.py)
    unjudged: int = 0  # attempts whose deadline fell in such a stall: no sample

    def of(self, kind: str) -> list[Sample]:
        return [s for s in self.samples if s.kind == kind]

    def outage(self, kind: str = "tcp") -> Window | None:
        """The outage the fault caused: the first after it (misses that ended before the
        fault are not counted; a later outage is a figure, not the failover)."""
        return first_outage(touched_by_fault(self.of(kind), self.fault_t))

    def failover_s(self, kind: str = "tcp") -> float | None:
        """Outage seconds: 0.0 without misses, None when it had not recovered at stop."""
        window = self.outage(kind)
        return 0.0 if window is None else window.seconds

    def metrics(self) -> dict[str, float | None]:
        """Catalog metrics (checks.catalog.METRICS)."""
        return {"vip_failover_s": rounded(self.failover_s("tcp"))}

    def figures(self) -> dict[str, Any]:
        """Everything else worth a report line."""
        tcp = self.outage("tcp")
        touched = windows(touched_by_fault(self.of("tcp"), self.fault_t))
        first_misses = tcp.misses if tcp else 0
        out: dict[str, Any] = {
            "vip_probe": f"{self.node} -> {self.vip}:{self.port} {'tcp+tls' if self.tls else 'tcp connect'}",
            "vip_icmp_outage_s": rounded(self.failover_s("icmp")),
            "vip_outage_windows": len(touched),
            "vip_misses_before_fault": sum(1 for s in self.of("tcp") if not s.ok and s.end < (self.fault_t or 0)),
            "vip_tcp_misses": first_misses,
            "vip_later_misses": sum(w.misses for w in touched) - first_misses,
            "vip_samples": len(self.of("tcp")),
            "vip_prober_stalled_s": round(self.stalled_s, 3), "vip_unjudged_attempts": self.unjudged,
            "vip_holders_before": self.holders_before, "vip_holders_after": self.holders_after,
            "vip_new_holder": self.new_holder,
        }
        if tcp and self.fault_t is not None:
            out["vip_first_miss_after_fault_s"] = rounded(tcp.start - self.fault_t)
        return out

    @property
    def new_holder(self) -> str | None:
        """The single holder after the probe, when it differs from the one before."""
        if len(self.holders_after) == 1 and self.holders_after != self.holders_before:
            return self.holders_after[0]
        return None


def to_samples(lines: list[dict[str, Any]], kind: str) -> list[Sample]:
    return [Sample(kind, s["t"], s["ok"], s["lat"], s.get("err")) for s in samples(lines, kind)]


class VipProbe(ProbeClient):
    """Start/stop the in-node VIP prober; ``result`` holds the outcome after ``stop``."""

    def __init__(self, lab: engine.LabRef, node: str | None = None, *, port: int = 5000, interval: float = 0.02,
                 timeout: float = 0.5, seconds: float = 300, icmp: bool = True, tls: bool = False) -> None:
        self.cluster = open_lab(lab)  # opened once: the holders are asked again at stop
        lab = self.cluster.opened or lab
        self.lab = lab
        self.vip = self.cluster.inv.vip
        self.holders_before = vip_holders(self.cluster.inv, lab)
        self.node = node or prober(lab, avoid=tuple(self.holders_before))
        config = {"vip": self.vip, "port": port, "interval": interval, "timeout": timeout, "icmp": icmp,
                  "tls": tls, "max_samples": int(seconds / interval * 2) + 100}
        self.port, self.interval, self.tls = port, interval, tls
        self.probe = NodeProbe(lab, self.node, "vip", config, seconds)
        self.result: VipResult | None = None
        self.labels = {"mac": vip_macs(self.cluster.inv, lab)}  # names for the report's VIP holder panel

    def wait_samples(self, count: int, timeout: float = 30) -> None:
        """Until ``count`` TCP samples exist (e.g. a baseline before the fault)."""
        wait_until(f"{count} VIP samples from {self.node}",
                   lambda: len(samples(self.probe.read(), "tcp")) >= count, timeout, 0.2)

    def wait_recovered(self, timeout: float, quiet: float = 1.0) -> float:
        """Until the VIP missed at least once and has then answered for ``quiet`` s in a row."""
        def back() -> bool:
            tcp = to_samples(self.probe.read(), "tcp")
            window = first_outage(touched_by_fault(tcp, self.fault_t))
            return bool(window and window.end is not None and tcp[-1].t - window.end >= quiet)

        return wait_until(f"the VIP {self.vip}:{self.port} to fail and answer again (from {self.node})",
                          back, timeout, 0.25)

    def stop(self) -> VipResult:
        """Stop the probe (idempotent) and return the result with the holders now."""
        if self.result is not None:
            return self.result
        lines = self.probe.stop()
        self.result = VipResult(self.node, self.vip, self.port, self.interval,
                                to_samples(lines, "tcp") + to_samples(lines, "icmp"), self.holders_before,
                                vip_holders(self.cluster.inv, self.lab), self.fault_t, self.probe.problems(), self.tls,
                                sum(float(e["seconds"]) for e in events(lines, "stall")),
                                sum(int(e["attempts"]) for e in events(lines, "unjudged")))
        return self.result
