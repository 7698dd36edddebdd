"""Deploy the real HA control plane on the `control` lab and judge it with the health checks.

3 controllers (keepalived, haproxy, Galera, RabbitMQ, memcached, Keystone, chrony) and a
client node. Root only; ≈ 1–2 min.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from checks.infra.base import open_lab, run_check
from checks.registry import checks, suite
from deployer.deploy import deploy
from lab import engine
from lab import state as labstate
from stacklab.validate import validate_file
from tests.lab.conftest import cli, require_lxc
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
CONTROL = ROOT / "scenarios/labs/control.yaml"


@pytest.fixture(scope="module")
def control(control_lab: str) -> str:
    """The session's deployed `control` lab (tests/e2e/conftest.py)."""
    return control_lab


@pytest.mark.parametrize("check", ["services_active", "chrony_synced", "vip_single_holder", "haproxy_backends_up",
                                   "galera_synced", "galera_quorum", "rabbitmq_cluster", "api_available",
                                   "keystone_token"])
def test_health_check_passes(control: str, check: str) -> None:
    verdict = run_check(check, open_lab(control))
    assert not verdict.skipped, verdict.skipped
    assert verdict.ok, verdict.problems


def test_check_cli_reports_every_check(control: str) -> None:
    done = cli("check", "--lab", control, "--json")
    assert done.returncode == 0, done.stderr
    verdicts = json.loads(done.stdout)
    ran = [v for v in verdicts if not v["skipped"]]
    absent = {"ceph-mon", "ceph-osd", "neutron-server", "tenant", "dhcp_client"}  # no Ceph, Neutron, management DHCP
    every = suite(once=False) + suite(once=True)  # the healthy suite's order
    expected = [name for name in every if checks()[name].needs not in absent]
    assert [v["name"] for v in ran] == expected and all(v["ok"] for v in ran), ran
    assert f"{len(expected)} passed, {len(every) - len(expected)} skipped, 0 failed" in done.stderr


def test_redeploy_changes_nothing(control: str) -> None:
    result = validate_file(CONTROL)
    assert result.cloud is not None
    report = deploy(control, result.cloud, say=lambda _: None)
    assert report.changes == []


def test_clouds_yaml_on_host_and_nodes(control: str) -> None:
    on_host = labstate.lab_run_dir(control) / "clouds.yaml"
    assert "stacklab" in on_host.read_text()
    assert oct(on_host.stat().st_mode & 0o777) == "0o600"
    node = engine.run(control, "cli1", ["cat", "/etc/openstack/clouds.yaml"])
    assert node.returncode == 0 and "auth_url: https://" in node.stdout


def test_checks_see_a_broken_cluster(control: str) -> None:
    """Proof the checks can fail: with Keystone stopped on one controller, haproxy marks it
    down and services_active names it."""
    engine.run(control, "ctl2", ["systemctl", "stop", "keystone"])
    try:
        lab = open_lab(control)
        services = run_check("services_active", lab)
        assert not services.ok and any("ctl2: keystone" in p for p in services.problems)
    finally:
        engine.run(control, "ctl2", ["systemctl", "start", "keystone"])


def test_failed_service_stops_deploy_with_journal_and_down_cleans(lab_name: str) -> None:
    require_lxc()
    name = f"{lab_name}f"
    assert cli("up", str(CONTROL), "--name", name).returncode == 0
    try:
        engine.run(name, "ctl2", ["systemctl", "mask", "memcached"])
        done = cli("deploy", "--lab", name, "--only", "memcached")
        assert done.returncode == 1
        # node, component + step, command, exit code and why
        assert "ctl2: memcached: enable memcached: `systemctl enable --quiet memcached` exited 1" in done.stderr, \
            done.stderr
        assert "masked" in done.stderr
        assert "Traceback" not in done.stderr
    finally:
        assert cli("down", name).returncode == 0
    assert leftovers(name) == []


def test_cli_service_fault_is_recorded_and_healed(control: str) -> None:
    """`stacklab fault` takes service faults like lab faults: applied, in the lab state, and
    undone by `stacklab fault heal` (chrony on the client node: nothing else depends on it)."""
    def active() -> str:
        return engine.run(control, "cli1", ["systemctl", "is-active", "chrony"]).stdout.strip()

    assert active() == "active"
    done = cli("fault", "--lab", control, "stop_service", "cli1", "service=chrony")
    assert done.returncode == 0, done.stderr
    status = json.loads(cli("status", control, "--json").stdout)
    assert status["faults"] == [{"kind": "stop_service", "node": "cli1", "service": "chrony",
                                 "unit": "chrony.service"}]
    assert active() == "inactive"
    healed = cli("fault", "--lab", control, "heal")
    assert healed.returncode == 0 and "healed 1 fault(s)" in healed.stderr, healed.stderr
    assert active() == "active"
    assert json.loads(cli("status", control, "--json").stdout)["faults"] == []
