"""Deploy real Ceph (1 mon+mgr, 3 OSD hosts, a controller as client) on the `storage` lab
and watch it degrade and recover under lab faults.

One OSD host powered off: HEALTH_WARN with degraded PGs, every object still readable;
powered on: active+clean and every checksum equal. Two of three OSD hosts off with
min_size 2: writes block (detected within a bounded time). Root only; ≈ 2–3 min.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from checks import ceph
from checks.infra.base import open_lab, run_check
from checks.infra.common import expected_units
from deployer.deploy import deploy
from lab import faults
from lab.faultspec import PowerOff
from stacklab.validate import validate_file
from tests.lab.conftest import cli, require_lxc
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "scenarios/labs/storage.yaml"
ONLY = {"chrony", "ceph-mon", "ceph-osd", "ceph-client"}
DEGRADE_TIMEOUT = 90.0  # measured: OSD down ≈ 7 s, PGs degraded ≈ 10 s after power-off
RECOVER_TIMEOUT = 180.0  # measured: active+clean ≈ 10 s after power-on


@pytest.fixture(scope="module")
def storage(module_lab_name: str) -> Iterator[str]:
    require_lxc()
    name = module_lab_name
    up = cli("up", str(STORAGE), "--name", name)
    assert up.returncode == 0, up.stderr
    try:
        done = cli("deploy", "--lab", name, "--only", ",".join(sorted(ONLY)))
        assert done.returncode == 0, done.stderr
        yield name
    finally:
        assert cli("down", name).returncode == 0
    assert leftovers(name) == []


@pytest.fixture
def healed(storage: str) -> Iterator[str]:
    """The lab; every fault a test applied is healed afterwards, and Ceph is clean again."""
    try:
        yield storage
    finally:
        faults.heal(storage)
        ceph.wait_for_health(storage, lambda h: h.clean and h.up == h.osds, timeout=RECOVER_TIMEOUT,
                             what="every OSD up and every PG active+clean after heal")


@pytest.mark.parametrize("check", ["ceph_health_ok", "ceph_objects_intact", "services_active"])
def test_health_check_passes(storage: str, check: str) -> None:
    verdict = run_check(check, open_lab(storage))
    assert not verdict.skipped, verdict.skipped
    assert verdict.ok, verdict.problems
    if check == "services_active":  # Ceph's per-instance units are among those it found running
        units = {unit for _, unit in expected_units(open_lab(storage))}
        assert {"ceph-mon@stor1", "ceph-mgr@stor1", "ceph-osd@0", "ceph-osd@1", "ceph-osd@2"} <= units, units


def test_redeploy_changes_nothing(storage: str) -> None:
    result = validate_file(STORAGE)
    assert result.cloud is not None
    report = deploy(storage, result.cloud, say=lambda _: None, only=ONLY)
    assert report.changes == []


def test_controller_is_a_ceph_client(storage: str) -> None:
    done = ceph.run(storage, "rbd create --size 64 stacklab/e2e && rbd info stacklab/e2e && rbd rm stacklab/e2e")
    assert done.returncode == 0, done.stderr
    assert "ctl1" in ceph.client_nodes(open_lab(storage))[:1]


@pytest.mark.nightly  # CI: scenarios/ceph-osd-loss.yaml (tests/e2e/test_scenarios.py) covers it
def test_one_osd_node_down_degrades_then_recovers(healed: str) -> None:
    lab = healed
    manifest = ceph.write_objects(lab, 64)
    faults.apply(lab, PowerOff(action="power_off", node="stor2"))
    h, _ = ceph.wait_for_health(lab, lambda h: h.status == "HEALTH_WARN" and h.degraded_pgs > 0,
                                timeout=DEGRADE_TIMEOUT, what="HEALTH_WARN with degraded PGs")
    assert h.up == h.osds - 1 and h.inactive_pgs == 0, h
    degraded = ceph.read_back(lab, manifest)
    assert degraded.intact, (degraded.missing, degraded.mismatched, degraded.errors)
    assert not ceph.writes_blocked(lab, timeout=10).blocked  # size 3, min_size 2: 2 copies suffice
    services = run_check("services_active", open_lab(lab))
    assert any(p.startswith("stor2: the node does not answer") for p in services.problems), services.problems

    faults.heal(lab)
    h, _ = ceph.wait_for_health(lab, lambda h: h.clean and h.up == h.osds and h.status == "HEALTH_OK",
                                timeout=RECOVER_TIMEOUT, what="HEALTH_OK, every PG active+clean")
    recovered = ceph.read_back(lab, manifest)
    assert recovered.intact and recovered.checked == 64, (recovered.missing, recovered.mismatched)


@pytest.mark.nightly  # CI: scenarios/ceph-osd-loss.yaml covers it (with three mons)
def test_two_of_three_osd_nodes_down_block_writes(healed: str) -> None:
    lab = healed
    for node in ("stor2", "stor3"):
        faults.apply(lab, PowerOff(action="power_off", node=node))
    probe = ceph.writes_blocked(lab, timeout=10)
    assert probe.blocked, probe
    assert probe.seconds < 40, probe  # bounded: the detector never hangs
    faults.heal(lab)
    ceph.wait_for_health(lab, lambda h: h.clean and h.up == h.osds, timeout=RECOVER_TIMEOUT,
                         what="every PG active+clean after heal")
    assert not ceph.writes_blocked(lab, timeout=10).blocked


def test_rados_bench_reports_figures(storage: str) -> None:
    try:
        write = ceph.rados_bench(storage, 3, "write", threads=4)
        read = ceph.rados_bench(storage, 3, "seq", threads=4)
    finally:
        ceph.bench_cleanup(storage)
    assert write.mb_s > 0 and write.avg_latency_s > 0, write
    assert read.mb_s > 0, read
