"""neutron-server on every controller behind haproxy's TLS VIP (``VIP:9696``).

Per controller: ``neutron.conf`` + ``ml2_conf.ini`` (``deployer.roles.neutron_common``)
and a unit of our own for the monolithic ``/usr/bin/neutron-server`` (Debian's split
into ``neutron-api`` + ``neutron-rpc-server`` leaves the ML2 plugin's periodic workers
unrun in Zed: nothing would reschedule routers away from a dead agent).

Once, on the first controller: the ``neutron`` database and account, the schema
(``neutron-db-manage upgrade heads``, only when the database's two alembic heads are
not the package's ``EXPAND_HEAD``/``CONTRACT_HEAD``; ≈ 6 s on a 3-node Galera), and
Neutron in Keystone's catalog (user ``neutron`` in project ``service``, the
``network`` service, endpoints at ``https://<vip_name>:9696``). Secrets: ``db_neutron``,
``keystone_neutron``. Deployed only on labs with network or compute nodes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from deployer.context import Context, render
from deployer.errors import DeployError
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles import neutron_common as common
from deployer.roles.base import Component
from deployer.roles.keystone import REGION, db_host, mysql
from deployer.scripts import source
from deployer.tls import Api, ca_path

UNIT = "/etc/systemd/system/neutron-server.service"
MIGRATIONS = "/usr/lib/python3/dist-packages/neutron/db/migration/alembic_migrations/versions"
SCRIPTS = "/usr/local/lib/stacklab"


def run_script(ctx: Context, node: str, name: str, args: Mapping[str, object], *,
               timeout: float = 300) -> dict[str, Any]:
    """Ship ``deployer/scripts/<name>.py`` to ``node`` and run it with ``args`` on stdin."""
    path = f"{SCRIPTS}/{name}.py"
    ctx.put(node, path, source(name))
    done = ctx.t.run(node, ["/usr/bin/python3", path], input=json.dumps(args), check=False, timeout=timeout)
    if not done.ok:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise DeployError(node, f"{ctx.component}: {name}", f"exit {done.returncode}\n{tail}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


class NeutronServer(Component):
    name = "neutron-server"
    # The first start loads every plugin and extension (≈ 60 s on a busy 2-core host).
    api = Api("neutron", public_port=common.API_PORT, backend_port=common.BIND_PORT, health_path="/",
              answer_timeout=120, backends_timeout=90)
    after = ("keystone", "haproxy", "galera", "rabbitmq")

    def hosts(self, ctx: Context) -> list[Host]:
        return super().hosts(ctx) if common.enabled(ctx.inv, ctx.cloud) else []

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        return super().units(inv, cloud) if common.enabled(inv, cloud) else []

    def deploy(self, ctx: Context) -> None:
        ctls = self.hosts(ctx)
        changed: dict[str, bool] = {}
        ctx.parallel(ctls, lambda h: changed.__setitem__(h.name, self.configure(ctx, h)))
        first = ctls[0].name
        self.database(ctx, first)
        self.migrate(ctx, first)
        self.register(ctx, first)
        ctx.parallel(ctls, lambda h: ctx.service(h.name, "neutron-server", restart=changed[h.name]))

    @staticmethod
    def configure(ctx: Context, host: Host) -> bool:
        changed = common.write_common(ctx, host)
        if ctx.put(host.name, UNIT, render("neutron-server.service.j2")):
            ctx.t.run(host.name, ["systemctl", "daemon-reload"], step="neutron-server: daemon-reload")
            changed = True
        return changed

    @staticmethod
    def database(ctx: Context, node: str) -> None:
        values = {"db_name": common.DB, "db_user": common.DB, "db_host": db_host(ctx),
                  "db_password": ctx.secrets.password("db_neutron")}
        if mysql(ctx, node, render("neutron-db-check.sql.j2", **values)) == "3":
            return
        mysql(ctx, node, render("neutron-db.sql.j2", **values))
        ctx.changed(f"{node}:neutron database and account")

    @staticmethod
    def migrate(ctx: Context, node: str) -> None:
        """``upgrade heads`` unless both alembic heads are already the package's."""
        heads = ctx.t.run(node, ["cat", f"{MIGRATIONS}/EXPAND_HEAD", f"{MIGRATIONS}/CONTRACT_HEAD"])
        have = ctx.t.run(node, ["mysql", "-NB", "-e", f"SELECT version_num FROM {common.DB}.alembic_version"],
                         check=False, timeout=30)
        if have.ok and set(have.stdout.split()) == set(heads.stdout.split()):
            return
        argv = ["runuser", "-u", "neutron", "--", "neutron-db-manage", "--config-file", common.CONF,
                "--config-file", common.ML2, "upgrade", "heads"]
        ctx.t.run(node, argv, step="neutron-server: neutron-db-manage upgrade heads", timeout=600)
        ctx.changed(f"{node}:neutron-db-manage upgrade heads")

    @staticmethod
    def register(ctx: Context, node: str) -> None:
        """User, service and endpoints in Keystone (through the VIP, TLS verified)."""
        args = {"auth_url": f"https://{ctx.inv.vip_name}:5000/v3",
                "admin_password": ctx.secrets.password("keystone_admin"), "user": common.SERVICE_USER,
                "password": ctx.secrets.password("keystone_neutron"), "region": REGION,
                "url": f"https://{ctx.inv.vip_name}:{common.API_PORT}", "cacert": ca_path(ctx.inv.lab)}
        for what in run_script(ctx, node, "neutron_register", args)["changed"]:
            ctx.changed(f"{node}:keystone {what}")
