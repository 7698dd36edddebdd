"""Long names on a real lab: 16-character groups (the model's bound) on 8-character
networks get hashed fabric ports (lab.ifnames) that the kernel accepts, the nodes talk,
and a link fault still finds its port (by ifalias, not by name) and heals."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from deployer.catalog import image_packages
from lab import engine, fabric, faults
from lab.faultspec import LAB_FAULTS
from lab.ifnames import IFNAMSIZ
from lab.model import Topology
from tests.lab.conftest import ISSUED, require_lxc
from tests.lab.leaks import leftovers

GROUP = "computegroupabcd"  # 16 characters: nodes computegroupabcd1, computegroupabcd2
TOPOLOGY = {"networks": {"overlay1": {"cidr": "10.97.0.0/24"}, "storage2": {"cidr": "10.97.1.0/24"}},
            "nodes": {GROUP: {"count": 2, "networks": ["overlay1", "storage2"]}}}


@pytest.fixture(scope="module")
def lab(node_image: object) -> Iterator[str]:
    require_lxc()
    name = f"kxlong{uuid.uuid4().hex[:4]}"
    ISSUED.add(name)
    engine.up(name, Topology.model_validate(TOPOLOGY), packages=image_packages(), source="test", progress=print)
    try:
        yield name
    finally:
        engine.down(name)
    assert leftovers(name) == []


def ping(lab: str, src: str, dst: str) -> bool:
    return engine.run(lab, src, ["ping", "-c1", "-W1", dst], timeout=30).returncode == 0


def test_hashed_ports_exist_and_nodes_talk(lab: str) -> None:
    ports = fabric.ports(lab)
    assert len(ports) == 4 and all(len(p.name) <= IFNAMSIZ for p in ports)
    assert {p.node for p in ports} == {f"{GROUP}1", f"{GROUP}2"}
    assert engine.run(lab, f"{GROUP}1", ["hostname"]).stdout.strip() == f"{GROUP}1"
    assert ping(lab, f"{GROUP}1", "10.97.0.11") and ping(lab, f"{GROUP}2", "10.97.1.10")


def test_link_fault_finds_a_hashed_port_and_heals(lab: str) -> None:
    spec = LAB_FAULTS["link_down"].model_validate({"action": "link_down", "node": f"{GROUP}2",
                                                   "network": "overlay1"})
    faults.apply(lab, spec)
    try:
        assert not ping(lab, f"{GROUP}1", "10.97.0.11")
        assert ping(lab, f"{GROUP}1", "10.97.1.11"), "the other network is unaffected"
    finally:
        faults.heal(lab)
    assert ping(lab, f"{GROUP}1", "10.97.0.11")
