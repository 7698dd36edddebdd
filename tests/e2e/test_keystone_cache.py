"""Keystone answers as one cloud on the shared `control` lab, and memcached is not open to it.

The coherence checks pass with the shipped cache (`vip`) and fail with the per-controller
cache they were written to catch (`local`; nightly: two rolling Keystone restarts).
"""

from __future__ import annotations

import pytest

from checks.infra.base import open_lab, run_check
from deployer.deploy import deploy, deployed_cloud
from lab import engine

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


def test_the_vip_serves_the_cache_to_the_controllers_only(control: str) -> None:
    """haproxy's memcached listener on the VIP: every controller reaches one and the same
    memcached through it (same pid), the client node is turned away."""
    vip = open_lab(control).inv.vip
    pids = set()
    for node in ("ctl1", "ctl2", "ctl3"):
        done = engine.run(control, node, ["/bin/sh", "-c", STATS.format(ip=vip)])
        pids |= {line.split()[2] for line in done.stdout.splitlines() if line.startswith("STAT pid ")}
    assert len(pids) == 1, pids
    outsider = engine.run(control, "cli1", ["/bin/sh", "-c", STATS.format(ip=vip)])
    assert "STAT" not in outsider.stdout


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
