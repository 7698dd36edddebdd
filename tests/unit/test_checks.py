"""How checks are run and judged, without a lab."""

from __future__ import annotations

import pytest

from checks import registry
from checks.infra import base
from deployer.inventory import Host, Inventory
from deployer.model import Cloud


def broken_check(lab: object, verdict: object) -> None:
    raise AssertionError("Unexpected exit code 255 for uname -s")


def tiny_lab() -> base.Lab:
    inv = Inventory("demo", {"ctl1": Host("ctl1", ("controller",), {"mgmt": "10.20.0.11/24"})},
                    vip="10.20.0.5", vip_prefix=24)
    return base.Lab("demo", inv, {"chrony"}, Cloud.model_validate({}))


def test_a_check_that_raises_is_a_failed_verdict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.checks(), "broken", registry.CheckSpec("broken", "raises", broken_check))
    verdict = base.run_check("broken", tiny_lab())
    assert not verdict.ok
    assert verdict.problems == ["the check itself failed: AssertionError: Unexpected exit code 255 for uname -s"]


def test_a_check_whose_component_is_not_deployed_is_skipped() -> None:
    verdict = base.run_check("galera_synced", tiny_lab())
    assert verdict.ok and verdict.skipped == "galera is not deployed on this lab"


def test_checks_run_together_keep_their_order(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.checks(), "broken", registry.CheckSpec("broken", "raises", broken_check))
    names = ["galera_synced", "broken", "rabbitmq_cluster"]
    assert [v.name for v in base.run_checks(names, tiny_lab())] == names


def test_the_slow_cloud_writing_checks_run_once_after_the_polled_ones() -> None:
    """The coherence checks create and delete users and projects, the packet checks send
    hundreds of probes per pair, the cross-controller token check runs the openstack CLI
    9 times, the security-group matrix waits out every dropped probe twice: never on every 1 s poll."""
    once, polled = base.suite(once=True), base.suite(once=False)
    assert sorted(once) == ["keystone_coherent", "keystone_disable_enforced", "keystone_tokens_cross",
                            "overlay_loss", "overlay_path_mtu", "security_group_matrix"]
    assert set(once).isdisjoint(polled) and set(once) | set(polled) == set(registry.checks())


def test_healthy_runs_every_check_polled_ones_first(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(base, "run_checks", lambda names, lab: ran.append(names) or [base.Verdict(n) for n in names])
    verdicts = base.healthy(tiny_lab())
    assert ran == [base.suite(once=False), base.suite(once=True)]
    assert [v.name for v in verdicts] == ran[0] + ran[1]
