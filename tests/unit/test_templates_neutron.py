"""Golden tests of Neutron's templates: the server's and the agents' configs, the
server's unit and the agents' drop-in, rendered with the values the roles compute for
an example lab (3 controllers doubling as network nodes, 2 computes), compared byte
for byte with ``tests/unit/data/rendered/<name>``.

To update after a deliberate template change::

    STACKLAB_UPDATE_GOLDEN=1 pytest tests/unit/test_templates_neutron.py
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles import haproxy, neutron_agents, neutron_common
from tests.unit.golden import template_tests

DB_PASS = "EXAMPLEdbPassword00000000000000"


def example_ctx(*, network_nodes: int = 3) -> Context:
    """ctl1..3 (controller; the first ``network_nodes`` also network nodes), cmp1..2, cli1."""
    hosts = {f"ctl{i}": Host(f"ctl{i}", ("controller", "network") if i <= network_nodes else ("controller",),
                             {"mgmt": f"10.50.0.{9 + i}/24", "overlay": f"10.50.1.{9 + i}/24",
                              "public": f"10.50.2.{9 + i}/24"}) for i in (1, 2, 3)}
    hosts |= {f"cmp{i}": Host(f"cmp{i}", ("compute",), {"mgmt": f"10.50.0.{12 + i}/24",
                                                        "overlay": f"10.50.1.{12 + i}/24"}) for i in (1, 2)}
    hosts["cli1"] = Host("cli1", ("client",), {"mgmt": "10.50.0.15/24", "public": "10.50.2.1/24"})
    secrets = SimpleNamespace(password=lambda name: f"EXAMPLE{name.replace('_', '')}".ljust(32, "0"))
    inv = Inventory("demo", hosts, vip="10.50.0.5", vip_prefix=24)
    return cast(Context, SimpleNamespace(inv=inv, cloud=Cloud.model_validate({}), secrets=secrets))


CTX = example_ctx()
LB = neutron_agents.LinuxbridgeAgent()


def values(ctx: Context, node: str) -> dict[str, Any]:
    return neutron_common.conf_values(ctx, ctx.inv.hosts[node])


CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "neutron-ctl1.conf": ("neutron.conf.j2", values(CTX, "ctl1")),
    "neutron-cmp1.conf": ("neutron.conf.j2", values(CTX, "cmp1")),
    "ml2_conf.ini": ("ml2_conf.ini.j2", neutron_common.ml2_values(CTX)),
    "linuxbridge_agent-ctl2.ini": ("linuxbridge_agent.ini.j2", LB.values(CTX, CTX.inv.hosts["ctl2"])),
    "linuxbridge_agent-cmp2.ini": ("linuxbridge_agent.ini.j2", LB.values(CTX, CTX.inv.hosts["cmp2"])),
    "l3_agent.ini": ("l3_agent.ini.j2", neutron_agents.L3Agent().values(CTX, CTX.inv.hosts["ctl1"])),
    "dhcp_agent.ini": ("dhcp_agent.ini.j2", neutron_agents.DhcpAgent().values(CTX, CTX.inv.hosts["ctl1"])),
    "neutron-server.service": ("neutron-server.service.j2", {}),
    "neutron-agent-dropin.conf": ("neutron-agent-dropin.conf.j2", {}),
    "neutron-db.sql": ("neutron-db.sql.j2", {"db_name": "neutron", "db_user": "neutron",
                                             "db_host": "10.50.0.0/255.255.255.0", "db_password": DB_PASS}),
    "neutron-db-check.sql": ("neutron-db-check.sql.j2", {"db_name": "neutron", "db_user": "neutron",
                                                         "db_host": "10.50.0.0/255.255.255.0",
                                                         "db_password": DB_PASS}),
    "haproxy-neutron-ctl1.cfg": ("haproxy.cfg.j2", haproxy.config_values(CTX, CTX.inv.hosts["ctl1"])),
}

TestTemplates = template_tests(CASES)


def test_the_server_sections_are_on_controllers_only() -> None:
    server, agent = (render("neutron.conf.j2", **values(CTX, n)) for n in ("ctl1", "cmp1"))
    assert "[database]" in server and "linuxbridge = true" in server and "bind_host = 10.50.0.10" in server
    assert "[database]" not in agent and "password" not in agent.replace("transport_url", "")
    assert "host = cmp1\n" in agent and "root_helper_daemon" in agent


def test_ha_routers_need_two_network_nodes() -> None:
    one = render("neutron.conf.j2", **values(example_ctx(network_nodes=1), "ctl1"))
    assert "l3_ha = false" in one and "max_l3_agents_per_router = 1" in one
    three = render("neutron.conf.j2", **values(CTX, "ctl1"))
    assert "l3_ha = true" in three and "max_l3_agents_per_router = 3" in three
    assert "dhcp_agents_per_network = 2" in three


def test_every_controller_rabbitmq_is_in_the_transport_url() -> None:
    text = render("neutron.conf.j2", **values(CTX, "cmp1"))
    url = next(line for line in text.splitlines() if line.startswith("transport_url")).split(" = ")[1]
    assert url.startswith("rabbit://openstack:") and url.count("@10.50.0.1") == 3 and url.endswith(":5672/")


def test_the_flat_network_rides_on_network_nodes_public_interface_only() -> None:
    assert LB.values(CTX, CTX.inv.hosts["ctl1"])["physical_interface"] == "public0"
    assert LB.values(CTX, CTX.inv.hosts["cmp1"])["physical_interface"] == ""
    assert LB.values(CTX, CTX.inv.hosts["cmp1"])["local_ip"] == "10.50.1.13"


def test_no_neutron_on_a_lab_without_network_or_compute_nodes() -> None:
    ctl = Host("ctl1", ("controller",), {"mgmt": "10.0.0.10/24"})
    inv = Inventory("demo", {"ctl1": ctl}, vip="10.0.0.5", vip_prefix=24)
    ctx = cast(Context, SimpleNamespace(inv=inv, cloud=Cloud.model_validate({})))
    assert "neutron" not in render("haproxy.cfg.j2", **haproxy.config_values(ctx, ctl))


def test_a_cloud_can_switch_neutron_off() -> None:
    from deployer.roles.neutron import NeutronServer

    off = Cloud.model_validate({"neutron": False})
    assert not neutron_common.enabled(CTX.inv, off) and neutron_common.enabled(CTX.inv, CTX.cloud)
    assert NeutronServer().units(CTX.inv, off) == [] and len(NeutronServer().units(CTX.inv, CTX.cloud)) == 3
    assert neutron_agents.L3Agent().units(CTX.inv, off) == []
