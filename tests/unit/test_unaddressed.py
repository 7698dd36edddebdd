"""An attachment without an address (lab.model.Link.unaddressed): the flat provider
network's interface on Neutron's network nodes, which the linuxbridge agent takes over."""

from __future__ import annotations

from deployer.inventory import from_state
from deployer.model import Cloud
from lab.engine import _new_state, fabric_plan
from lab.model import Topology, address_plan, check_topology

TOPO = Topology.model_validate({
    "networks": {"mgmt": {"cidr": "10.9.0.0/24"}, "public": {"cidr": "10.9.2.0/24"}},
    "nodes": {"ctl": {"count": 2, "roles": ["controller", "network"], "networks": ["mgmt", "public"]},
              "cli": {"count": 1, "roles": ["client"], "networks": ["mgmt", "public"]}},
    "links": [{"node": "ctl1", "network": "public", "unaddressed": True}],
    "vips": {"api": {"network": "mgmt", "address": "10.9.0.5"}}})


def test_the_plan_gives_no_address_and_the_next_node_takes_the_first_one() -> None:
    plan = address_plan(TOPO)
    assert "public" not in plan["ctl1"] and str(plan["ctl2"]["public"]) == "10.9.2.10/24"
    assert str(plan["cli1"]["public"]) == "10.9.2.11/24"


def test_the_fabric_still_wires_it_bare() -> None:
    atts = {(a.node, a.network): a.address for a in fabric_plan("demo", TOPO).attachments}
    assert atts[("ctl1", "public")] == "" and atts[("ctl2", "public")] == "10.9.2.10/24"


def test_the_deployer_knows_the_node_is_on_the_network() -> None:
    inv = from_state(_new_state("demo", TOPO, "lxc", "", "0"), TOPO, Cloud.model_validate({}))
    assert inv.hosts["ctl1"].on("public") and "public" not in inv.hosts["ctl1"].addresses
    assert inv.hosts["ctl2"].on("public") and not inv.hosts["ctl1"].on("overlay")


def test_an_address_and_unaddressed_together_are_refused() -> None:
    bad = TOPO.model_copy(update={"links": [
        TOPO.links[0].model_copy(update={"address": TOPO.vips["api"].address})]})
    problems = check_topology(bad)
    assert any(p.path == ("links", 0, "unaddressed") and "not both" in p.message for p in problems)
