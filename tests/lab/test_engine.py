"""The lab engine end to end on the real `ha` lab: 8 LXC nodes, 4 networks, faults, CLI.

One lab is brought up per module (boot ≈ 1 s with a warm image); each test leaves it
healed. Root only; skipped with a reason otherwise.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.catalog import image_packages
from lab import engine, faults
from lab.errors import LabError, UsageError
from lab.faultspec import LAB_FAULTS
from stacklab.validate import validate_file
from tests.lab import conftest
from tests.lab.conftest import require_lxc, wait_for
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
HA = ROOT / "scenarios/labs/ha.yaml"


cli = functools.partial(conftest.cli, timeout=600)


@pytest.fixture(scope="module")
def ha(module_lab_name: str) -> Iterator[str]:
    require_lxc()
    topo = validate_file(HA).topology
    assert topo is not None
    engine.up(module_lab_name, topo, packages=image_packages(), source=str(HA), progress=print)
    try:
        yield module_lab_name
    finally:
        engine.down(module_lab_name)
    assert leftovers(module_lab_name) == []


def fault(lab: str, action: str, **params: object) -> None:
    faults.apply(lab, LAB_FAULTS[action].model_validate({"action": action, **params}))


def sh(lab: str, node: str, script: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    done = engine.run(lab, node, ["/bin/sh", "-c", script], timeout=timeout)
    return subprocess.CompletedProcess(script, done.returncode, done.stdout, done.stderr)


def reachable(lab: str, src: str, dst_addr: str) -> bool:
    return sh(lab, src, f"ping -c1 -W1 {dst_addr} >/dev/null").returncode == 0


def addr(lab: str, node: str, net: str) -> str:
    st = engine.require(lab)
    return str(st.nodes[node]["addresses"][net]).split("/")[0]


def test_every_node_runs_systemd_under_its_own_name(ha: str) -> None:
    report = engine.status(ha)
    assert [n["name"] for n in report["nodes"]] == ["ctl1", "ctl2", "ctl3", "cmp1", "cmp2", "stor1", "stor2",
                                                     "stor3"]
    for node in report["nodes"]:
        assert node["state"] == "running"
        out = sh(ha, node["name"], "hostname; systemctl is-system-running; readlink /proc/1/exe").stdout.split()
        assert out[0] == node["name"]
        assert out[1] in ("running", "degraded")
        assert out[2].endswith("systemd")


def test_addresses_on_the_wire_match_the_plan(ha: str) -> None:
    for node in engine.status(ha)["nodes"]:
        live = {ifname: set(addrs) for ifname, addrs in node["live_addresses"].items()}
        for net, planned in node["addresses"].items():
            assert planned in live[f"{net}0"], (node["name"], net, live)


def test_every_pair_pings_on_every_shared_network(ha: str) -> None:
    st = engine.require(ha)
    failures = []
    for src, info in st.nodes.items():
        targets = [a.split("/")[0] for dst, other in st.nodes.items() if dst != src
                   for net, a in other["addresses"].items() if net in info["addresses"]]
        script = "; ".join(f"ping -c1 -W2 {t} >/dev/null || echo {t}" for t in targets)
        failures += [f"{src} -> {t}" for t in sh(ha, src, script).stdout.split()]
    assert failures == []


def test_networks_are_isolated_from_each_other(ha: str) -> None:
    # ctl1 has no storage interface: stor1's storage address must be unreachable from it.
    assert not reachable(ha, "ctl1", addr(ha, "stor1", "storage"))


def test_nodes_do_not_share_files(ha: str) -> None:
    marker = f"/etc/stacklab-isolation-{os.getpid()}"
    assert sh(ha, "ctl1", f"echo ctl1 > {marker}").returncode == 0
    assert sh(ha, "ctl2", f"test -e {marker}").returncode == 1
    assert not Path(marker).exists()
    assert sh(ha, "ctl1", f"cat {marker} && rm {marker}").stdout == "ctl1\n"


def test_power_off_stops_the_node_and_its_links_then_power_on_forgets_the_vip(ha: str) -> None:
    ctl1 = addr(ha, "ctl1", "mgmt")
    assert sh(ha, "ctl1", "ip addr add 10.20.0.5/24 dev mgmt0").returncode == 0  # as keepalived would
    fault(ha, "power_off", node="ctl1")
    try:
        assert engine.status(ha)["nodes"][0]["state"] == "stopped"
        assert not reachable(ha, "ctl2", ctl1)
        assert not reachable(ha, "ctl2", "10.20.0.5"), "a powered-off node's netns still answers for the VIP"
    finally:
        fault(ha, "power_on", node="ctl1")
    assert engine.status(ha)["nodes"][0]["state"] == "running"
    assert wait_for(lambda: reachable(ha, "ctl2", ctl1), 20, "ctl1 answering ping after power_on")
    assert "10.20.0.5" not in sh(ha, "ctl1", "ip -4 -o addr show dev mgmt0").stdout


def test_freeze_hangs_the_node_and_thaw_resumes_it(ha: str) -> None:
    fault(ha, "freeze", node="ctl2")
    try:
        assert engine.status(ha)["nodes"][1]["state"] == "frozen"
        with pytest.raises(LabError, match=r"timed out|timeout"):
            engine.run(ha, "ctl2", ["true"], timeout=3)
    finally:
        faults.heal(ha)
    assert sh(ha, "ctl2", "true").returncode == 0


def test_partition_blocks_both_ways_and_heal_restores(ha: str) -> None:
    fault(ha, "partition", groups=[["ctl1"], ["ctl2", "ctl3"]])
    try:
        assert not reachable(ha, "ctl1", addr(ha, "ctl2", "mgmt"))
        assert not reachable(ha, "ctl2", addr(ha, "ctl1", "public"))
        assert reachable(ha, "ctl2", addr(ha, "ctl3", "mgmt"))
        assert reachable(ha, "ctl1", addr(ha, "cmp1", "mgmt")), "nodes outside the partition are unaffected"
    finally:
        faults.heal(ha)
    assert reachable(ha, "ctl1", addr(ha, "ctl2", "mgmt"))
    assert engine.status(ha)["faults"] == []


def test_link_loss_drops_the_configured_share(ha: str) -> None:
    fault(ha, "link_loss", node="cmp1", network="overlay", percent=30)
    try:
        out = sh(ha, "cmp1", f"ping -q -c 300 -i 0.01 -W 1 {addr(ha, 'cmp2', 'overlay')}").stdout
    finally:
        faults.heal(ha)
    received = int(out.split(" received")[0].split(",")[-1])
    lost = 1 - received / 300
    # Both directions cross the lossy port: a round trip is lost with 1 - 0.7² = 51 %.
    assert 0.35 <= lost <= 0.67, out


RECEIVER = """
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 5555)); s.listen(1); s.settimeout(30)
c, _ = s.accept(); n = 0; t = time.time()
while b := c.recv(65536):
    n += len(b)
print(n * 8 / (time.time() - t) / 1e6)
"""
SENDER = """
import socket, sys, time
for _ in range(200):  # the receiver may not listen yet: retry, bounded
    try:
        s = socket.create_connection((sys.argv[1], 5555)); break
    except OSError:
        time.sleep(0.05)
s.sendall(b"x" * 4_000_000); s.close()
"""


def test_link_rate_limits_throughput_toward_the_node(ha: str) -> None:
    fault(ha, "link_rate", node="cmp1", network="mgmt", mbit=10)
    result: dict[str, str] = {}
    thread = threading.Thread(target=lambda: result.update(
        mbit=engine.run(ha, "cmp1", ["/usr/bin/python3", "-c", RECEIVER], timeout=60).stdout))
    try:
        thread.start()
        sent = engine.run(ha, "cmp2", ["/usr/bin/python3", "-c", SENDER, addr(ha, "cmp1", "mgmt")], timeout=60)
        assert sent.returncode == 0, sent.stderr
        thread.join(60)
    finally:
        faults.heal(ha)
    assert 5.0 <= float(result["mbit"]) <= 12.0, result


def test_testinfra_lab_backend(ha: str) -> None:
    from checks.infra.labhost import host

    ctl1 = host("ctl1", ha)
    assert ctl1.check_output("hostname") == "ctl1"
    assert ctl1.service("systemd-journald").is_running
    assert ctl1.file("/etc/hosts").contains("ctl2")
    assert addr(ha, "ctl1", "mgmt") in ctl1.interface("mgmt0").addresses
    assert ctl1.process.filter(comm="systemd")
    assert ctl1.package("keepalived").is_installed


def test_pytest_hosts_option_reaches_lab_nodes(ha: str, tmp_path: Path) -> None:
    test = tmp_path / "test_hosts.py"
    test.write_text("def test_hostname(host):\n    assert host.check_output('hostname') in ('ctl1', 'cmp2')\n")
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           f"--hosts=lab://ctl1.{ha},lab://cmp2.{ha}", str(test)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 passed" in proc.stdout


def test_cli_status_exec_and_errors(ha: str) -> None:
    status = json.loads(cli("status", ha, "--json").stdout)
    assert {n["name"] for n in status["nodes"]} >= {"ctl1", "stor3"}
    assert all({"name", "state", "roles", "addresses"} <= set(n) for n in status["nodes"])
    done = cli("exec", "--lab", ha, "cmp1", "--", "sh", "-c", "echo hi; exit 7")
    assert (done.returncode, done.stdout) == (7, "hi\n")
    clash = cli("up", str(HA), "--name", ha)
    assert clash.returncode == 1 and f"lab '{ha}' already exists" in clash.stderr
    assert "Traceback" not in clash.stderr
    missing = cli("exec", "--lab", ha, "ctl9", "--", "true")
    assert missing.returncode == 2 and "has no node 'ctl9'" in missing.stderr


def test_failed_up_leaves_nothing(lab_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """An up that fails after the nodes booted removes every node, namespace, dir and lock."""
    require_lxc()
    booted = engine._bring_up

    def fail_after_boot(*args: object, **kwargs: object) -> None:
        booted(*args, **kwargs)  # type: ignore[arg-type]
        raise LabError("forced failure after boot")

    monkeypatch.setattr(engine, "_bring_up", fail_after_boot)
    topo = validate_file(ROOT / "scenarios/labs/control.yaml").topology
    assert topo is not None
    with pytest.raises(LabError, match="forced failure"):
        engine.up(lab_name, topo, packages=image_packages(), progress=print)
    assert leftovers(lab_name) == []


def test_an_open_lab_is_passed_not_reopened(ha: str) -> None:
    """Open once (state + backend), then run through it; a name still works where one is given."""
    opened = engine.open_lab(ha)
    assert engine.open_lab(opened) is opened and str(opened) == ha
    assert opened.nodes("controller") == ["ctl1", "ctl2", "ctl3"]
    assert opened.run("ctl2", ["hostname"]).stdout == "ctl2\n"
    assert engine.run(opened, "cmp1", ["hostname"]).stdout == engine.run(ha, "cmp1", ["hostname"]).stdout == "cmp1\n"
    assert opened.node_states()["ctl1"] == "running"
    with pytest.raises(UsageError, match="has no node 'ctl9'"):
        opened.run("ctl9", ["true"])
