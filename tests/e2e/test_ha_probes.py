"""The HA probes (checks.ha) on a real control-plane lab, and their arithmetic.

The lab is ``scenarios/labs/control.yaml`` (3 controllers + client cli1), deployed once
for the module; every probe runs inside cli1. Root only; ≈ 5 min with the deploy.
The first tests need no lab: they pin the metric definitions.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from checks.catalog import METRICS
from checks.cluster import vip_holders
from checks.ha import ApiProbe, GaleraWriter, VipProbe, check_clock
from checks.ha_metrics import Sample, downtime, mttr, outage, percentile
from checks.ha_run import ROOT as PROBE_ROOT
from checks.infra.base import healthy, open_lab
from lab import engine, faults
from lab.faultspec import PowerOff
from tests.lab.conftest import wait_for

CONTROL = Path(__file__).resolve().parents[2] / "scenarios/labs/control.yaml"


def series(pattern: str, step: float = 0.1, lat: float = 0.01) -> list[Sample]:
    """Samples from a string: '.' answered, 'x' missed, one every ``step`` s."""
    return [Sample("x", i * step, c == ".", lat) for i, c in enumerate(pattern)]


def test_outage_is_first_miss_to_first_answer_after_last_miss() -> None:
    window = outage(series("...xx.x..."))
    assert window is not None and window.misses == 3
    assert window.seconds == pytest.approx(0.7 + 0.01 - 0.3)
    assert outage(series("....")) is None
    assert outage(series("..xx")).end is None  # type: ignore[union-attr]


def test_downtime_error_rate_and_mttr_definitions() -> None:
    samples = series("....xxx.....", step=1.0, lat=0.1)
    assert downtime(samples) == pytest.approx(6.0 - 4.0)  # sent times: a hung request does not stretch it
    assert downtime(series("....")) == 0.0
    assert mttr(samples, fault_t=3.5, hold=3) == pytest.approx(7.0 - 3.5)
    assert mttr(samples, fault_t=8.5, hold=3) == 0.0  # the fault was never felt
    assert mttr(series("....xxxx", step=1.0), fault_t=3.5, hold=3) is None  # never recovered
    in_flight = [*series("....", step=1.0), Sample("x", 3.9, False, 5.0),
                 *(Sample("x", 8.9 + i, True, 0.01) for i in range(3))]
    assert mttr(in_flight, fault_t=4.0, hold=3) == pytest.approx(4.9)  # the request the fault caught counts
    assert percentile([0.1] * 19 + [2.0], 95) == pytest.approx(0.1 + 0.05 * 1.9)


def test_metric_names_are_the_catalog_names() -> None:
    names = {"vip_failover_s", "api_downtime_s", "api_error_rate", "api_mttr_s", "api_latency_p95_s",
             "galera_writes_lost", "galera_writes_duplicated", "rabbit_messages_lost"}
    assert names <= set(METRICS)


@pytest.fixture(scope="module")
def control(control_lab: str) -> str:
    """The session's deployed `control` lab (tests/e2e/conftest.py)."""
    return control_lab


def all_healthy(lab: str) -> bool:
    return all(v.ok for v in healthy(open_lab(lab)))


def node_is_clean(lab: str) -> bool:
    """No probe unit and no probe directory left in the client node."""
    units = engine.run(lab, "cli1", ["systemctl", "list-units", "--all", "--no-legend", "stacklab-probe-*"]).stdout
    left = engine.run(lab, "cli1", ["sh", "-c", f"ls -A {PROBE_ROOT} 2>/dev/null || true"]).stdout
    return not units.strip() and not left.strip()


def test_node_clock_is_the_host_clock(control: str) -> None:
    assert check_clock(control, "cli1") < 1.0


def test_healthy_cluster_shows_no_outage_and_no_errors(control: str) -> None:
    vip, api = VipProbe(control, seconds=60), ApiProbe(control, seconds=60)
    assert vip.node == api.node == "cli1"
    with vip, api:
        vip.wait_samples(250)  # ≥ 5 s at 20 ms
        api.wait_requests(10)
    v, a = vip.stop(), api.stop()
    assert v.metrics() == {"vip_failover_s": 0.0}, v.figures()
    assert v.figures()["vip_icmp_outage_s"] == 0.0
    steps = [b.t - a.t for a, b in itertools.pairwise(v.of("tcp"))]
    assert sum(steps) / len(steps) < 0.022  # one TCP connect every 20 ms
    metrics = a.metrics()
    assert metrics["api_error_rate"] == 0.0 and metrics["api_downtime_s"] == 0.0, a.figures()
    assert 0 < (metrics["api_latency_p95_s"] or 0) < 5
    assert len(v.holders_after) == 1 and v.holders_after == v.holders_before
    assert node_is_clean(control)


def test_power_off_of_the_vip_holder(control: str) -> None:
    """The VIP moves within ~1–10 s to another controller; no acknowledged write is lost."""
    holder = vip_holders(open_lab(control).inv)
    assert len(holder) == 1
    vip, api = VipProbe(control, seconds=240), ApiProbe(control, seconds=240)
    writer = GaleraWriter(control, seconds=240)
    with vip, api, writer:
        vip.wait_samples(100)
        api.wait_requests(10)
        writer.wait_acked(50)
        fault_t = time.monotonic()
        for probe in (vip, api, writer):
            probe.mark_fault(fault_t)
        faults.apply(control, PowerOff(action="power_off", node=holder[0]))
        try:
            vip.wait_recovered(timeout=60)
            api.wait_healthy(timeout=90)
            acked = writer.acked_so_far()
            wait_for(lambda: writer.acked_so_far() >= acked + 50, 60, "Galera writes to resume")
        finally:
            v, a = vip.stop(), api.stop()
            writer.stop()
            faults.heal(control)
    report = writer.verify(timeout=240)
    failover = v.metrics()["vip_failover_s"]
    assert failover is not None and 1.0 <= failover <= 10.0, v.figures()
    assert v.new_holder is not None and v.new_holder != holder[0], v.figures()
    assert report.metrics() == {"galera_writes_lost": 0, "galera_writes_duplicated": 0}, report.figures()
    assert report.figures()["galera_writes_acked"] >= 100
    assert 0 < report.figures()["galera_write_stall_s"] < 60, report.figures()
    mttr = a.metrics()["api_mttr_s"]  # wait_healthy(90) returned: the recovery was seen, so it is measured
    assert mttr is not None and 0 < mttr <= 90, a.figures()
    assert a.metrics()["api_downtime_s"] is not None, a.figures()
    wait_for(lambda: all_healthy(control), 240, "the healed cluster to pass every health check", interval=2)
    assert node_is_clean(control)
