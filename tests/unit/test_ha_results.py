"""Failover and downtime count only what the fault could have caused (no lab needed)."""

from __future__ import annotations

from checks.ha_api import ApiResult
from checks.ha_metrics import Sample
from checks.ha_vip import VipResult

FAULT = 100.0


def probe(misses: set[float], kind: str = "tcp", step: float = 0.5) -> list[Sample]:
    return [Sample(kind, 80 + i * step, (80 + i * step) not in misses, 0.01) for i in range(80)]


def test_a_stray_baseline_miss_is_not_failover() -> None:
    """A busy host's miss 14 s before the fault once made a 3 s failover read 17 s."""
    samples = probe({86.0} | {100.0 + i * 0.5 for i in range(7)})  # one stray miss, then 3.5 s of outage
    result = VipResult("cli1", "10.0.0.5", 5000, 0.5, samples, ["ctl1"], ["ctl2"], FAULT)
    assert result.metrics()["vip_failover_s"] == 3.51
    assert result.figures()["vip_misses_before_fault"] == 1
    # Without a fault time every miss counts, and the first outage is the stray one (13.5 s of answers
    # separate it from the next): nothing joins the two into one 17.5 s "failover" any more.
    assert VipResult("cli1", "10.0.0.5", 5000, 0.5, samples, [], [], None).metrics()["vip_failover_s"] == 0.51


def test_a_second_outage_long_after_the_failover_is_counted_apart() -> None:
    """controller-freeze: the VIP moves in 3 s; 27 s later the thawed holder takes it back
    with a short miss of its own. The failover is the first; CI once read 30.3 s."""
    samples = probe({100.0 + i * 0.5 for i in range(6)} | {127.0}, step=0.5)
    samples += [Sample("tcp", 120 + i * 0.5, (120 + i * 0.5) != 127.0, 0.01) for i in range(40)]
    samples.sort(key=lambda s: s.t)
    result = VipResult("cli1", "10.0.0.5", 5000, 0.5, samples, ["ctl1"], ["ctl1"], FAULT)
    assert result.metrics()["vip_failover_s"] == 3.01
    assert result.figures()["vip_outage_windows"] == 2 and result.figures()["vip_later_misses"] == 1


def test_a_request_in_flight_at_the_fault_counts_one_that_ended_before_does_not() -> None:
    early = Sample("api", 90.0, False, 0.3, status=502)  # ended at 90.3: not the fault's
    hung = Sample("api", 98.0, False, 5.0, err="TimeoutError")  # still waiting at the fault
    after = Sample("api", 102.0, False, 0.1, status=503)
    ok = [Sample("api", 85.0 + i, True, 0.2) for i in range(30) if 85 + i not in (90, 98, 102)]
    result = ApiResult("cli1", sorted([early, hung, after, *ok], key=lambda s: s.t), FAULT)
    assert result.metrics()["api_downtime_s"] == 4.0  # 98.0 -> 102.0, sent times
    assert result.figures()["api_errors_before_fault"] == 1
    assert result.metrics()["api_error_rate"] == round(3 / 30, 4)  # the rate still counts every failure
