"""Networks with ``dhcp: true``: who gets an address from the fabric (the infra node) and
who asks for one (everyone else), the validation of a DHCP network without a server, and
what the deployer's components derive from it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deployer.inventory import Host, Inventory
from deployer.plan import STAGES
from lab import engine
from lab.engine import fabric_plan
from lab.errors import UsageError
from lab.model import Topology
from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]


def cheap() -> Topology:
    return Topology.model_validate(yaml.safe_load((ROOT / "scenarios/labs/cheap.yaml").read_text())["topology"])


def test_only_the_infra_node_gets_its_address_from_the_fabric() -> None:
    plan = fabric_plan("demo", cheap())
    dhcp = {(a.node, a.network): a.dhcp for a in plan.attachments}
    assert dhcp == {("ctl1", "mgmt"): False, ("ctl1", "overlay"): False, ("cmp1", "mgmt"): True,
                    ("cmp1", "overlay"): False, ("cmp2", "mgmt"): True, ("cmp2", "overlay"): False}
    # the planned address stays: it is the node's static lease
    assert {a.address for a in plan.attachments if a.dhcp} == {"10.60.0.11/24", "10.60.0.12/24"}


def test_a_dhcp_network_without_its_server_is_refused(tmp_path: Path) -> None:
    lab = yaml.safe_load((ROOT / "scenarios/labs/cheap.yaml").read_text())
    lab["topology"]["nodes"]["ctl"]["roles"] = ["controller"]
    path = tmp_path / "nodhcp.yaml"
    path.write_text(yaml.safe_dump(lab, sort_keys=False))
    result = validate_file(path)
    assert not result.ok
    assert any("topology.networks.mgmt.dhcp: a DHCP network needs one node with role 'infra'" in m
               for m in result.messages), result.messages


def test_the_dhcp_clients_and_the_deploy_order() -> None:
    hosts = {"ctl1": Host("ctl1", ("controller", "infra"), {"mgmt": "10.60.0.10/24"}),
             "cmp1": Host("cmp1", ("compute",), {"mgmt": "10.60.0.11/24", "overlay": "10.60.1.11/24"})}
    inv = Inventory("demo", hosts, "10.60.0.5", 24, dhcp_networks=("mgmt",))
    assert [(h.name, net) for h, net in inv.dhcp_clients()] == [("cmp1", "mgmt")]
    base = STAGES[0].components
    assert base.index("dnsmasq") < base.index("dhcp_client") < base.index("chrony")  # leases before time sync


def test_a_backend_that_writes_addresses_into_its_nodes_refuses_a_dhcp_network() -> None:
    """libvirt puts a VM's address in its disk: up refuses before building anything."""
    with pytest.raises(UsageError, match="networks mgmt have dhcp: true, which the libvirt backend cannot build"):
        engine.up("h16nodhcp", cheap(), packages=[], backend="libvirt", progress=lambda _: None)
