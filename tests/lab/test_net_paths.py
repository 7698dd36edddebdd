"""The packet probes on a real lab (no deploy): four nodes on an overlay network, scapy
inside them. Healthy, the loss matrix blames nobody and every path carries what its
interfaces claim; with 20 % loss on one node's link the matrix names that node; with a
node's interface claiming 9000 on a 1500 fabric, the sweep finds 1500 and the drop is
pinned on that interface from its counters. Root only; ≈ 30 s with a warm image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from checks.net.paths import dropping_hop, loss_matrix, mtu_sweep, outliers
from checks.probes import run_once
from deployer.catalog import image_packages
from lab import engine, faults
from lab.faultspec import LinkLoss, SetMtu
from lab.model import Topology
from tests.lab.conftest import require_lxc
from tests.lab.leaks import leftovers

TOPOLOGY = {
    "networks": {"overlay": {"cidr": "10.77.1.0/24"}},
    "nodes": {"cmp": {"count": 4, "roles": ["compute"], "networks": ["overlay"]}},
}


@pytest.fixture(scope="module")
def mesh(module_lab_name: str) -> Iterator[tuple[str, dict[str, str]]]:
    require_lxc()
    topo = Topology.model_validate(TOPOLOGY)
    engine.up(module_lab_name, topo, packages=image_packages(), progress=print)
    try:
        st = engine.require(module_lab_name)
        addrs = {n: info["addresses"]["overlay"].split("/")[0] for n, info in st.nodes.items()}
        yield module_lab_name, addrs
    finally:
        engine.down(module_lab_name)
    assert leftovers(module_lab_name) == []


def loss_of(lab: str, addrs: dict[str, str]) -> dict[tuple[str, str], float]:
    return {pair: m["loss"] for pair, m in loss_matrix(lab, addrs).items()}


def test_a_healthy_mesh_blames_nobody(mesh: tuple[str, dict[str, str]]) -> None:
    lab, addrs = mesh
    loss = loss_of(lab, addrs)
    assert len(loss) == 12 and max(loss.values()) == 0.0, loss
    sweep = mtu_sweep(lab, addrs)
    assert all(r["path_mtu"] == r["claimed"] == 1500 and r["probes"] == 1 for r in sweep.values()), sweep


def test_the_lossy_node_is_named(mesh: tuple[str, dict[str, str]]) -> None:
    lab, addrs = mesh
    faults.apply(lab, LinkLoss(action="link_loss", node="cmp3", network="overlay", percent=20))
    try:
        loss = loss_of(lab, addrs)
    finally:
        faults.heal(lab)
    assert outliers(loss) == (["cmp3"], []), loss
    assert all(0.15 <= v <= 0.6 for (a, b), v in loss.items() if "cmp3" in (a, b)), loss


def test_an_interface_claiming_more_than_the_path_is_found_and_pinned(mesh: tuple[str, dict[str, str]]) -> None:
    lab, addrs = mesh
    faults.apply(lab, SetMtu(action="set_mtu", node="cmp2", network="overlay", mtu=9000))
    try:
        sweep = mtu_sweep(lab, {n: addrs[n] for n in ("cmp1", "cmp2")})
        drop = dropping_hop(lab, "cmp2", "cmp1", "overlay", addrs["cmp1"], 9000)
    finally:
        faults.heal(lab)
    assert sweep[("cmp2", "cmp1")]["claimed"] == 9000 and sweep[("cmp2", "cmp1")]["path_mtu"] == 1500, sweep
    assert sweep[("cmp2", "cmp1")]["frag_needed"] is None  # silent: nobody says frag-needed
    assert sweep[("cmp1", "cmp2")]["path_mtu"] == 1500  # the other way is fine
    assert drop.node == "cmp2" and "counted as dropped" in drop.text, drop
    healed = mtu_sweep(lab, {n: addrs[n] for n in ("cmp1", "cmp2")})[("cmp2", "cmp1")]
    assert healed["claimed"] == healed["path_mtu"] == 1500, healed


SCAN_RULES = """table inet stacklab_scan_test {
  chain input {
    type filter hook input priority 0;
    tcp dport 8081 drop
    tcp dport 8082 reject with icmp type admin-prohibited
    ip saddr %s icmp type echo-request drop
  }
}"""


def test_the_scanner_classifies_every_kind_of_answer(mesh: tuple[str, dict[str, str]]) -> None:
    """Against cmp2 with a listener on 8080, a drop on 8081, a reject on 8082, nothing on
    8083 and echoes from cmp3 dropped: open, silent, rejected (13), closed, answered from
    cmp1; the echo from cmp3 silent."""
    lab, addrs = mesh
    target = addrs["cmp2"]
    engine.run(lab, "cmp2", ["systemd-run", "-q", "--unit", "stacklab-scan-test", "--collect",
                             "python3", "-m", "http.server", "8080"])
    engine.run(lab, "cmp2", ["nft", "-f", "-"], input=SCAN_RULES % addrs["cmp3"])
    try:
        listening = poll(lambda: engine.run(lab, "cmp2", ["ss", "-Htln", "sport = :8080"]).stdout.strip())
        assert listening, "the test's listener on cmp2:8080 never came up"
        probes = [[target, "tcp", p] for p in (8080, 8081, 8082, 8083)] + [[target, "icmp", 0]]
        got = run_once(lab, "cmp1", "sg_scan", "scan", {"probes": probes}, 60)
        assert [r[3:5] for r in got["results"]] == [["open", 0], ["silent", 0], ["rejected", 13], ["closed", 0],
                                                    ["answered", 0]], got
        assert got["sent"] == 6  # the silent probe was tried twice, the answered ones once
        echo = run_once(lab, "cmp3", "sg_scan", "scan", {"probes": [[target, "icmp", 0]]}, 60)
        assert echo["results"][0][3] == "silent", echo
    finally:
        engine.run(lab, "cmp2", ["nft", "delete", "table", "inet", "stacklab_scan_test"])
        engine.run(lab, "cmp2", ["systemctl", "stop", "stacklab-scan-test"])


def poll(fn: Callable[[], str], timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while not (out := fn()) and time.monotonic() < deadline:
        time.sleep(0.3)
    return out
