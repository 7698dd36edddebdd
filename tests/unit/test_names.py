"""Names that reach the filesystem or the kernel: realistic ones pass, hostile ones are
refused before anything is created, and every fabric interface name fits the kernel.

The refusals here need no root: the name check is the first thing ``up``, ``down``,
``status`` and the state paths do.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import engine
from lab import state as labstate
from lab.errors import UsageError
from lab.ifnames import IFNAMSIZ, bridge_name, port_name
from lab.model import Topology, check_topology
from lab.modelbase import MAX_GROUP
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
HOSTILE_LABS = ["../etc", "..", "a/b", "ha.ctl1", "-rf", "Ha", "", "a" * 33, "ha\x00", "ha\n", "lab "]


def topology(groups: dict[str, int], networks: list[str]) -> Topology:
    return Topology.model_validate({
        "networks": {n: {"cidr": f"10.{i}.0.0/22"} for i, n in enumerate(networks)},
        "nodes": {g: {"count": c, "networks": networks} for g, c in groups.items()}})


def fabric_names(topo: Topology) -> list[str]:
    return [bridge_name(n) for n in topo.networks] + [port_name(n.name, net) for n in topo.expand()
                                                      for net in n.networks]


def test_sausage_cloud_node_names_are_allowed() -> None:
    topo = topology({"controller": 2, "compute": 5}, ["mgmt", "overlay", "provider"])
    assert check_topology(topo) == []
    assert "compute5" in topo.node_names()


def test_longest_names_fit_the_kernel_and_stay_distinct() -> None:
    group = "g" * MAX_GROUP
    nets = ["n" * 8, "m" * 8, "overlay1", "overlay2"]
    topo = topology({group: 32, f"{group[:-1]}h": 32}, nets)
    assert check_topology(topo) == []
    names = fabric_names(topo)
    assert max(map(len, names)) <= IFNAMSIZ
    assert len(set(names)) == len(names) == 4 + 64 * 4


@pytest.mark.parametrize("lab", sorted((ROOT / "scenarios/labs").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_labs_keep_readable_port_names(lab: Path) -> None:
    topo = validate_file(lab).topology
    assert topo is not None
    for node in topo.expand():
        for net in node.networks:
            assert port_name(node.name, net) == f"{node.name}-{net}" or len(f"{node.name}-{net}") > IFNAMSIZ


@pytest.mark.parametrize("name", HOSTILE_LABS, ids=repr)
def test_hostile_lab_names_are_refused_before_any_path_is_built(name: str) -> None:
    with pytest.raises(UsageError, match="not a valid lab name"):
        labstate.lab_run_dir(name)
    with pytest.raises(UsageError, match="not a valid lab name"):
        engine.down(name)
    with pytest.raises(UsageError, match="not a valid lab name"):
        engine.status(name)


def test_up_refuses_a_hostile_name_before_building_anything() -> None:
    topo = topology({"ctl": 1}, ["mgmt"])
    with pytest.raises(UsageError, match="not a valid lab name"):
        engine.up("../kx-never", topo, packages=[], backend="no-such-backend")


def test_runs_started_in_the_same_second_get_their_own_folders(tmp_path: Path) -> None:
    from stacklab.runner.report import claim_run_dir

    dirs = [claim_run_dir(tmp_path / "runs", "controller-failover") for _ in range(3)]
    assert len(set(dirs)) == 3 and all(d.is_dir() and d.parent == tmp_path / "runs" for d in dirs)
    assert all(d.name.split("-", 2)[-1].startswith("controller-failover") for d in dirs)
