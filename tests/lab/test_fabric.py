"""The lab fabric and its link faults, on bare network namespaces (no containers).

Every probe runs inside a node namespace (``nsenter --net`` or a thread that joined
it); nothing is sent from, or created in, the host's root namespace, which each test
checks by comparing the host's links and nft ruleset before and after.
"""

from __future__ import annotations

import itertools
import re
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from lab import fabric, linkfaults, netns
from lab.errors import LabError
from lab.fabric import Attachment, FabricPlan, NetworkPlan
from tests.lab.conftest import require_netns

pytestmark = pytest.mark.root

NODES = ["n1", "n2", "n3"]
NETS = {"mgmt": (NetworkPlan("mgmt", 1500), "10.81.0"), "ovl": (NetworkPlan("ovl", 1450), "10.82.0")}


def host_state() -> tuple[set[str], str]:
    """The host root namespace's link names and nft ruleset (must never change)."""
    links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    rules = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip() for line in links.splitlines()}, rules


def make_plan(lab: str, nodes: list[str], nets: dict[str, tuple[NetworkPlan, str]]) -> FabricPlan:
    """Every node on every network, n<i> at .1<i>; n3 keeps MTU 1500 on the 1450 network
    (an oversized interface on a smaller wire, the classic silent-drop setup)."""
    atts = [Attachment(node, name, f"{name}0", f"{prefix}.{10 + i}/24",
                       1500 if node == "n3" else net.mtu)
            for name, (net, prefix) in nets.items() for i, node in enumerate(nodes, start=1)]
    return FabricPlan(lab, [net for net, _ in nets.values()], nodes, atts)


def ip_of(node: str, net: str) -> str:
    return f"{NETS[net][1]}.{10 + int(node[1:])}"


@pytest.fixture
def lab() -> Iterator[str]:
    """A freshly built 3-node, 2-network lab with a unique name, destroyed afterwards."""
    require_netns()
    name = "tf" + uuid.uuid4().hex[:6]
    before = host_state()
    fabric.build(make_plan(name, NODES, NETS))
    assert host_state() == before, "building the fabric changed the host's root namespace"
    yield name
    fabric.destroy(name)
    assert host_state() == before, "the lab left something in the host's root namespace"


def ping(lab: str, node: str, addr: str, *args: str) -> subprocess.CompletedProcess[str]:
    """ping from inside a node namespace."""
    return subprocess.run(netns.nsenter_argv(lab, node, ["ping", "-n", *args, addr]),
                          capture_output=True, text=True, timeout=60)


def wait_reachable(lab: str, node: str, addr: str, timeout: float = 5.0) -> None:
    """Poll until one ping from ``node`` to ``addr`` is answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ping(lab, node, addr, "-c1", "-W0.2").returncode == 0:
            return
    pytest.fail(f"timed out after {timeout} s waiting for {node} to reach {addr}")


def unreachable(lab: str, node: str, addr: str) -> bool:
    """True if none of 5 pings in a 1 s window is answered."""
    return ping(lab, node, addr, "-c5", "-i0.1", "-W0.5").returncode != 0


def loss_ratio(lab: str, node: str, addr: str, count: int = 400) -> float:
    out = ping(lab, node, addr, "-q", f"-c{count}", "-i0.01", "-W1").stdout
    sent, received = map(int, re.search(r"(\d+) packets transmitted, (\d+) received", out).groups())
    return 1 - received / sent


def test_every_node_reaches_every_node_on_every_network(lab: str) -> None:
    for net, (a, b) in itertools.product(NETS, itertools.permutations(NODES, 2)):
        wait_reachable(lab, a, ip_of(b, net))


def test_addresses_and_names_read_back_from_the_kernel(lab: str) -> None:
    assert fabric.addresses(lab)["n2"] == {"mgmt0": ["10.81.0.12/24"], "ovl0": ["10.82.0.12/24"]}
    assert lab in fabric.list_labs()
    assert fabric.node_netns(lab, "n1") == f"/run/netns/sl-{lab}.n1"
    assert {p.name for p in fabric.ports(lab)} >= {"n1-mgmt", "n3-ovl"}


def test_mtu_of_the_1450_network(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "ovl"))
    assert ping(lab, "n1", ip_of("n2", "ovl"), "-c1", "-W1", "-M", "do", "-s", "1422").returncode == 0
    assert ping(lab, "n1", ip_of("n2", "ovl"), "-c1", "-W1", "-M", "do", "-s", "1423").returncode != 0
    # n3's interface says 1500 but the wire is 1450: a full-size frame vanishes silently.
    assert ping(lab, "n3", ip_of("n1", "ovl"), "-c1", "-W1", "-M", "do", "-s", "1422").returncode == 0
    big = ping(lab, "n3", ip_of("n1", "ovl"), "-c2", "-W1", "-M", "do", "-s", "1472")
    assert "100% packet loss" in big.stdout and "too long" not in big.stderr


def test_set_mtu_and_heal_restores_it(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "ovl"))
    linkfaults.set_mtu(lab, "n1", "ovl", 1400)
    assert ping(lab, "n1", ip_of("n2", "ovl"), "-c1", "-W1", "-M", "do", "-s", "1422").returncode != 0
    linkfaults.heal(lab)
    assert ping(lab, "n1", ip_of("n2", "ovl"), "-c1", "-W1", "-M", "do", "-s", "1422").returncode == 0


def test_link_down_blocks_and_link_up_restores(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))
    linkfaults.link_down(lab, "n2", "mgmt")
    assert unreachable(lab, "n1", ip_of("n2", "mgmt"))
    wait_reachable(lab, "n1", ip_of("n2", "ovl"))  # only that one link is down
    linkfaults.link_up(lab, "n2", "mgmt")
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))


def test_link_loss_30_percent(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))
    linkfaults.link_loss(lab, "n1", "mgmt", 30)
    linkfaults.link_loss(lab, "n1", "mgmt", 30)  # idempotent: replaces, does not stack
    # Request and reply each cross n1's link once: round-trip loss 1 - 0.7² = 51 %.
    assert 0.40 <= loss_ratio(lab, "n1", ip_of("n2", "mgmt")) <= 0.62
    linkfaults.link_loss(lab, "n1", "mgmt", 0)
    assert loss_ratio(lab, "n1", ip_of("n2", "mgmt"), count=50) == 0


def test_faults_compose(lab: str) -> None:
    for a, b in itertools.permutations(NODES, 2):
        wait_reachable(lab, a, ip_of(b, "mgmt"))
    linkfaults.link_loss(lab, "n2", "mgmt", 30)
    linkfaults.link_loss(lab, "n3", "mgmt", 30)
    linkfaults.partition(lab, [["n1"], ["n2", "n3"]])
    assert linkfaults.active(lab) == {"down": [], "loss": {"n2/mgmt": 30.0, "n3/mgmt": 30.0},
                                      "rate": {}, "partition": True}
    assert unreachable(lab, "n1", ip_of("n2", "mgmt"))
    # n2 -> n3 crosses two lossy links both ways: 1 - 0.7⁴ = 76 %.
    assert 0.64 <= loss_ratio(lab, "n2", ip_of("n3", "mgmt")) <= 0.87
    linkfaults.heal(lab)
    assert loss_ratio(lab, "n2", ip_of("n3", "mgmt"), count=50) == 0
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))


def test_partition_blocks_both_ways_and_heal_restores(lab: str) -> None:
    for net, (a, b) in itertools.product(NETS, itertools.permutations(NODES, 2)):
        wait_reachable(lab, a, ip_of(b, net))
    linkfaults.partition(lab, [["n1"], ["n2", "n3"]])
    for net in NETS:
        assert unreachable(lab, "n1", ip_of("n2", net))
        assert unreachable(lab, "n3", ip_of("n1", net))
        wait_reachable(lab, "n2", ip_of("n3", net))
    linkfaults.link_down(lab, "n3", "ovl")
    linkfaults.heal(lab)
    for net, (a, b) in itertools.product(NETS, itertools.permutations(NODES, 2)):
        wait_reachable(lab, a, ip_of(b, net))


def test_partition_rejects_unknown_and_duplicate_nodes(lab: str) -> None:
    with pytest.raises(LabError, match="no node 'n9'"):
        linkfaults.partition(lab, [["n1"], ["n9"]])
    with pytest.raises(LabError, match="more than one group"):
        linkfaults.partition(lab, [["n1"], ["n1", "n2"]])


def tcp_throughput_mbit(lab: str, sender: str, receiver: str, addr: str,
                        warmup: float = 1.5, window: float = 3.0) -> float:
    """Mbit/s received over ``window`` s after ``warmup`` s of a bulk TCP stream.

    Both sockets are opened by threads that joined the node namespaces; the warm-up
    skips TCP slow start and the nft policer's initial one-second bucket.
    """
    listener = netns.call_in(lab, receiver, socket.create_server, (addr, 0))
    port = listener.getsockname()[1]
    client = netns.call_in(lab, sender, socket.create_connection, (addr, port), 5)
    conn, _ = listener.accept()
    stop = threading.Event()

    def pump() -> None:
        chunk = b"x" * 65536
        with client:
            while not stop.is_set():
                try:
                    client.sendall(chunk)
                except OSError:
                    return

    threading.Thread(target=pump, daemon=True).start()
    conn.settimeout(5)
    counted, start, end = 0, time.monotonic() + warmup, time.monotonic() + warmup + window
    while (now := time.monotonic()) < end:
        data = conn.recv(1 << 20)
        counted += len(data) if now >= start else 0
    stop.set()
    conn.close()
    listener.close()
    return counted * 8 / window / 1e6


def test_link_rate_10_mbit_both_directions(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))
    unlimited = tcp_throughput_mbit(lab, "n2", "n1", ip_of("n1", "mgmt"), warmup=0.3, window=1.0)
    linkfaults.link_rate(lab, "n1", "mgmt", 10)
    toward_node = tcp_throughput_mbit(lab, "n2", "n1", ip_of("n1", "mgmt"))   # tbf
    from_node = tcp_throughput_mbit(lab, "n1", "n2", ip_of("n2", "mgmt"))     # nft policer
    print(f"unlimited {unlimited:.0f} Mbit/s, toward node {toward_node:.2f}, from node {from_node:.2f}")
    assert unlimited > 100
    assert 5 <= toward_node <= 12
    assert 5 <= from_node <= 12
    linkfaults.link_rate(lab, "n1", "mgmt", None)
    assert tcp_throughput_mbit(lab, "n2", "n1", ip_of("n1", "mgmt"), warmup=0.3, window=1.0) > 100


def test_heal_keeps_powered_off_nodes_down(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))
    for net in NETS:
        linkfaults.link_down(lab, "n2", net)
    linkfaults.link_down(lab, "n3", "mgmt")
    linkfaults.heal(lab, keep_down=["n2"])
    wait_reachable(lab, "n1", ip_of("n3", "mgmt"))
    assert unreachable(lab, "n1", ip_of("n2", "mgmt"))


def test_restore_node_after_power_off_drops_the_stale_vip(lab: str) -> None:
    wait_reachable(lab, "n1", ip_of("n2", "mgmt"))
    netns.run(lab, "n2", ["ip", "addr", "add", "10.81.0.100/32", "dev", "mgmt0"])  # a VIP
    linkfaults.set_mtu(lab, "n2", "mgmt", 1400)
    for net in NETS:  # power-off, link side
        linkfaults.link_down(lab, "n2", net)
    assert linkfaults.active(lab)["down"] == ["n2/mgmt", "n2/ovl"]
    linkfaults.restore_node(lab, "n2")
    assert fabric.addresses(lab)["n2"] == {"mgmt0": ["10.81.0.12/24"], "ovl0": ["10.82.0.12/24"]}
    assert linkfaults.active(lab)["down"] == []
    for net in NETS:
        wait_reachable(lab, "n1", ip_of("n2", net))
    assert ping(lab, "n1", ip_of("n2", "mgmt"), "-c1", "-W1", "-M", "do", "-s", "1472").returncode == 0


def test_unknown_link_is_a_clear_error(lab: str) -> None:
    with pytest.raises(LabError, match=r"no link n1/storage.*n1/mgmt"):
        linkfaults.link_down(lab, "n1", "storage")


def test_destroy_leaves_nothing_and_is_idempotent() -> None:
    require_netns()
    name = "tf" + uuid.uuid4().hex[:6]
    before = host_state()
    fabric.build(make_plan(name, NODES, NETS))
    linkfaults.link_loss(name, "n1", "mgmt", 10)
    linkfaults.link_rate(name, "n2", "ovl", 5)
    fabric.destroy(name)
    fabric.destroy(name)
    assert not [n for n in netns.list_lab_ns() if n[0] == name]
    assert name not in fabric.list_labs()
    assert host_state() == before


def test_destroy_reports_what_pins_a_namespace() -> None:
    require_netns()
    name = "tf" + uuid.uuid4().hex[:6]
    fabric.build(make_plan(name, NODES, NETS))
    holder = subprocess.Popen(netns.nsenter_argv(name, "n1", ["sleep", "30"]))
    try:
        with pytest.raises(LabError, match=rf"sl-{name}.n1 held by pid {holder.pid} \(sleep\)"):
            fabric.destroy(name, timeout=0.5)
    finally:
        holder.kill()
        holder.wait()
    fabric.destroy(name)
    assert name not in fabric.list_labs()


def test_failed_build_leaves_nothing() -> None:
    require_netns()
    name = "tf" + uuid.uuid4().hex[:6]
    plan = make_plan(name, NODES, NETS)
    bad = Attachment("n1", "mgmt", "mgmt1", "10.81.0.99/24", 1500)  # duplicate port n1-mgmt
    with pytest.raises(LabError, match="n1/mgmt"):
        fabric.build(FabricPlan(name, plan.networks, plan.nodes, [*plan.attachments, bad]))
    broken = Attachment("n1", "mgmt", "mgmt0", "not-an-ip/24", 1500)
    with pytest.raises(LabError, match="wiring n1/mgmt"):
        fabric.build(FabricPlan(name, plan.networks, plan.nodes, [broken]))
    assert name not in fabric.list_labs()


def test_long_names_get_short_unique_fabric_ports() -> None:
    assert fabric.port_name("ctl1", "mgmt") == "ctl1-mgmt"
    long_a, long_b = fabric.port_name("compute1", "overlay1"), fabric.port_name("compute1", "overlay2")
    assert len(long_a) == len(long_b) == 15 and long_a != long_b
    assert fabric.port_name("compute1", "overlay1") == long_a  # deterministic
