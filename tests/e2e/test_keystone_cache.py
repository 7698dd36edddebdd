"""Keystone answers as one cloud on the shared `control` lab, and memcached is not open to it.

The coherence checks pass with the shipped cache (`vip`) and fail with the per-controller
cache they were written to catch (`local`; nightly: two rolling Keystone restarts).
Nightly too: the cache's own controller dies and returns, and every Keystone follows
haproxy to the next memcached and back, answering as one throughout.
"""

from __future__ import annotations

import pytest

from checks.cluster import vip_holders
from checks.infra.base import healthy, open_lab, run_check
from deployer.deploy import deploy, deployed_cloud
from deployer.roles import memcached
from lab import engine, faults
from lab.faultspec import PowerOff
from tests.lab.conftest import wait_for

STATS = "printf 'stats\\r\\nquit\\r\\n' | nc -w 2 {ip} 11211"


@pytest.fixture(scope="module")
def control(control_lab: str) -> str:
    return control_lab


def test_memcached_answers_the_controllers_only(control: str) -> None:
    lab = open_lab(control)
    ctl1 = lab.inv.hosts["ctl1"].ip("mgmt")
    peer = engine.run(control, "ctl2", ["/bin/sh", "-c", STATS.format(ip=ctl1)])
    assert "STAT pid" in peer.stdout, peer.stderr
    outsider = engine.run(control, "cli1", ["/bin/sh", "-c", STATS.format(ip=ctl1)])
    assert "STAT" not in outsider.stdout
    rule = engine.run(control, "ctl1", ["nft", "list", "table", "inet", "stacklab_memcached"])
    assert rule.returncode == 0 and "reject with tcp reset" in rule.stdout


def served(lab: str, node: str, ip: str) -> set[str]:
    """What answers memcached's ``stats`` at ``ip`` from ``node``: {"ctlN:pid"} (empty: nothing).

    The server's own name is its pid plus the node whose memcached has that pid."""
    done = engine.run(lab, node, ["/bin/sh", "-c", STATS.format(ip=ip)], timeout=30)
    return {line.split()[2] for line in done.stdout.splitlines() if line.startswith("STAT pid ")}


def through_vip(lab: str, nodes: list[str]) -> set[str]:
    """The memcached pids the given controllers reach through the VIP (one: they agree)."""
    vip = open_lab(lab).inv.vip
    return set().union(*(served(lab, n, vip) for n in nodes))


def pid_of(lab: str, node: str) -> set[str]:
    return served(lab, node, "127.0.0.1")


def test_the_vip_serves_the_cache_to_the_controllers_only(control: str) -> None:
    """haproxy's memcached listener on the VIP: every controller reaches one and the same
    memcached through it (the first of memcached.servers), the client node is turned away."""
    active = memcached.servers(open_lab(control).inv)[0][0]
    assert through_vip(control, ["ctl1", "ctl2", "ctl3"]) == pid_of(control, active)
    assert served(control, "cli1", open_lab(control).inv.vip) == set()


@pytest.mark.nightly
def test_every_keystone_follows_haproxy_when_the_cache_server_dies_and_returns(control: str) -> None:
    """Power off the controller whose memcached serves the cache (not the VIP holder: they
    start apart by design): all controllers move to the next server and stay coherent;
    after the heal they are all back on the returned server, coherent again."""
    lab = open_lab(control)
    order = [n for n, _ in memcached.servers(lab.inv)]
    active, backup = order[0], order[1]
    assert active not in vip_holders(lab.inv)
    others = [c for c in lab.controllers() if c != active]
    faults.apply(control, PowerOff(action="power_off", node=active))
    try:
        wait_for(lambda: through_vip(control, others) == pid_of(control, backup), 30,
                 f"every controller on {backup}'s memcached")
        for check in ("keystone_coherent", "keystone_disable_enforced"):
            verdict = run_check(check, open_lab(control))
            assert verdict.ok, (check, verdict.problems)
    finally:
        faults.heal(control)
    wait_for(lambda: all(v.ok for v in healthy(open_lab(control))), 300, "the healed lab to pass every check",
             interval=2)
    assert through_vip(control, lab.controllers()) == pid_of(control, active)


@pytest.mark.parametrize("check", ["keystone_coherent", "keystone_disable_enforced"])
def test_every_controller_answers_as_one(control: str, check: str) -> None:
    verdict = run_check(check, open_lab(control))
    assert verdict.ok, verdict.problems
    if check == "keystone_coherent":
        assert verdict.figures["stale_reads_right_after_update"] == 0
    else:
        assert verdict.figures["project_tokens_after_disable"] == 0


@pytest.mark.nightly
def test_per_controller_caches_are_caught(control: str) -> None:
    shipped = deployed_cloud(control)
    assert shipped is not None and shipped.keystone.cache == "vip"
    local = shipped.model_copy(update={"keystone": shipped.keystone.model_copy(update={"cache": "local"})})
    deploy(control, local, say=lambda _: None)
    try:
        lab = open_lab(control)
        coherent, disable = run_check("keystone_coherent", lab), run_check("keystone_disable_enforced", lab)
        assert not coherent.ok and coherent.figures["stale_reads_right_after_update"] > 0, coherent
        assert not disable.ok and disable.figures["project_tokens_after_disable"] > 0, disable
    finally:
        deploy(control, shipped, say=lambda _: None)
