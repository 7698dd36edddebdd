"""What Neutron's server and agents share: whether a lab runs Neutron at all, the one
``neutron.conf`` every Neutron node gets and ML2's settings (haproxy derives Neutron's
frontend and backend from ``NeutronServer.api``).

A lab runs Neutron when some node has the ``network`` or ``compute`` role (a control
plane alone, the ``control`` lab, deploys none), unless its cloud says ``neutron: false``. The same ``neutron.conf`` is
rendered for every node, with the server's sections on controllers: a controller that
doubles as a network node (Sausage Cloud) reads one file for both, and the two
components that write it always write the same text.

>>> uses_neutron_roles(("compute",)), uses_neutron_roles(("controller",))
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud

API_PORT = 9696  # haproxy on the VIP, TLS
BIND_PORT = 9697  # neutron-server on each controller's own address, plain HTTP
DB = "neutron"  # database and account name
SERVICE_USER = "neutron"  # Keystone user the server validates tokens with
PHYSNET = "public"  # the flat provider network's physical network name: the lab network it rides on
VNI_RANGE = (1000, 1999)  # tenant VNIs: apart from anything the lab fabric uses
REPORT_INTERVAL_S = 5
AGENT_DOWN_TIME_S = 30  # several missed reports: a busy 2-core host delays some
NEUTRON_ROLES = ("network", "compute")
CONF = "/etc/neutron/neutron.conf"
ML2 = "/etc/neutron/plugins/ml2/ml2_conf.ini"


def uses_neutron_roles(roles: Iterable[str]) -> bool:
    return bool(set(roles) & set(NEUTRON_ROLES))


def enabled(inv: Inventory, cloud: Cloud) -> bool:
    """The lab runs Neutron: ``cloud.neutron``, or when unset, some node is a network or
    compute node."""
    if cloud.neutron is not None:
        return cloud.neutron
    return any(uses_neutron_roles(h.roles) for h in inv.hosts.values())


def rabbit_values(ctx: Context) -> dict[str, object]:
    """Every controller's RabbitMQ, as the ``openstack`` user (``deployer.roles.rabbitmq``)."""
    from deployer.roles.rabbitmq import USER  # the user's single source

    return {"rabbit_user": USER, "rabbit_password": quote(ctx.secrets.password("rabbit_openstack"), safe=""),
            "rabbit_hosts": [c.ip("mgmt") for c in ctx.inv.with_role("controller")]}


def conf_values(ctx: Context, host: Host) -> dict[str, object]:
    """neutron.conf.j2's values for ``host`` (the server's sections on controllers)."""
    server = "controller" in host.roles
    values: dict[str, object] = {
        "lab": ctx.inv.lab, "hostname": host.name, "server": server, **rabbit_values(ctx),
        "report_interval": REPORT_INTERVAL_S}
    if server:
        network_nodes = len(ctx.inv.with_role("network"))
        values |= {
            "api_port": API_PORT, "bind_host": host.ip("mgmt"), "bind_port": BIND_PORT,
            "agent_down_time": AGENT_DOWN_TIME_S, "l3_ha": str(network_nodes >= 2).lower(),
            "l3_agents": max(network_nodes, 1), "dhcp_agents": min(max(network_nodes, 1), 2),
            "db_user": DB, "db_name": DB, "db_password": ctx.secrets.password("db_neutron"), "vip": ctx.inv.vip,
            "auth_url": f"https://{ctx.inv.vip_name}:5000", "service_user": SERVICE_USER,
            "service_password": ctx.secrets.password("keystone_neutron"), "region": "RegionOne"}
    return values


def ml2_values(ctx: Context) -> dict[str, object]:
    return {"mtu": 1500, "physnet": PHYSNET, "vni_min": VNI_RANGE[0], "vni_max": VNI_RANGE[1]}


def write_common(ctx: Context, host: Host) -> bool:
    """neutron.conf and ml2_conf.ini on ``host`` (readable by the neutron group only); True if changed."""
    changed = ctx.template(host.name, CONF, "neutron.conf.j2", mode=0o640, owner="root:neutron",
                           **conf_values(ctx, host))
    changed |= ctx.put(host.name, ML2, render("ml2_conf.ini.j2", **ml2_values(ctx)), mode=0o640,
                       owner="root:neutron")
    return changed
