"""Weak nodes on the real `on-the-cheap` lab (no deploy): a node group's CPU cap holds a
busy node to its share of a core, and a standing link rate shapes its link from the
moment the lab is up, through a `link_rate` fault and after `heal`, which keeps it.
Root only; ≈ 20 s with a warm image.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from deployer.catalog import image_packages
from lab import engine, faults, linkfaults
from lab.faultspec import LinkRate
from stacklab.validate import validate_file
from tests.lab.conftest import require_lxc
from tests.lab.leaks import leftovers

ROOT = Path(__file__).resolve().parents[2]
CHEAP = ROOT / "scenarios/labs/on-the-cheap.yaml"
# Two busy processes for 3 s of wall time: uncapped they take up to 6 CPU-seconds on
# two cores, capped at 0.5 core at most ≈ 1.5 (plus one CFS period of slack).
BURN = """
import os, time
def burn(until):
    while time.monotonic() < until:
        pass
until = time.monotonic() + 3
pids = [os.fork() for _ in range(2)]
if 0 in pids:
    burn(until); os._exit(0)
for p in pids:
    os.waitpid(p, 0)
t = os.times()
print(t.children_user + t.children_system)
"""
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
s.sendall(b"x" * int(sys.argv[2])); s.close()
"""


@pytest.fixture(scope="module")
def cheap(module_lab_name: str) -> Iterator[str]:
    require_lxc()
    topo = validate_file(CHEAP).topology
    assert topo is not None
    engine.up(module_lab_name, topo, packages=image_packages(), source=str(CHEAP), progress=print)
    try:
        yield module_lab_name
    finally:
        engine.down(module_lab_name)
    assert leftovers(module_lab_name) == []


def mbit_to(lab: str, src: str, dst: str, size: int) -> float:
    """Mbit/s of one TCP stream of ``size`` bytes from ``src`` to ``dst`` (both in the lab)."""
    result: dict[str, str] = {}
    thread = threading.Thread(target=lambda: result.update(
        mbit=engine.run(lab, dst, ["/usr/bin/python3", "-c", RECEIVER], timeout=60).stdout))
    thread.start()
    address = engine.require(lab).nodes[dst]["addresses"]["mgmt"].split("/")[0]
    sent = engine.run(lab, src, ["/usr/bin/python3", "-c", SENDER, address, str(size)], timeout=60)
    thread.join(60)
    assert sent.returncode == 0, sent.stderr
    return float(result["mbit"])


def test_cpu_cap_holds_a_busy_node_to_half_a_core(cheap: str) -> None:
    capped = float(engine.run(cheap, "pi1", ["/usr/bin/python3", "-c", BURN], timeout=60).stdout)
    assert 0.5 <= capped <= 1.9, capped  # the lower bound: the burners did run


def test_memory_cap_is_set(cheap: str) -> None:
    limit = engine.run(cheap, "pi1", ["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], timeout=30)
    assert limit.stdout.strip() == str(1024 * 2**20), limit.stdout


def test_standing_rate_shapes_and_survives_a_fault_and_heal(cheap: str) -> None:
    assert linkfaults.active(cheap)["rate"] == {}  # a standing rate is the lab, not a fault
    before = mbit_to(cheap, "ctl1", "pi1", 6_000_000)
    assert 60 <= before <= 110, before
    faults.apply(cheap, LinkRate(action="link_rate", node="pi1", network="mgmt", mbit=10))
    assert linkfaults.active(cheap)["rate"] == {"pi1/mgmt": 10.0}
    slowed = mbit_to(cheap, "ctl1", "pi1", 1_500_000)
    faults.heal(cheap)
    after = mbit_to(cheap, "ctl1", "pi1", 6_000_000)
    assert 5 <= slowed <= 12, slowed
    assert 60 <= after <= 110, after  # heal removed the fault, not the lab's own rate
    assert linkfaults.active(cheap)["rate"] == {}
