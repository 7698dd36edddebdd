"""Keystone on every controller behind haproxy's TLS VIP, and the admin's clouds.yaml.

Per controller: a small keystone.conf (database through the VIP, the cache setting of
``deployer.roles.memcached`` — by default one memcached pool shared by every controller —
fernet tokens), a lab-sized uwsgi ini, ``/etc/default/keystone`` binding uwsgi to the
node's own IP:5001 (haproxy owns VIP:5000), and the same fernet and credential keys
(from the lab's secrets) so a token issued by one controller validates on every other.

Once, on the first controller: the ``keystone`` database and account (through the local
mysql socket; Galera replicates them), ``keystone-manage db_sync`` only when
``db_sync --check`` says the schema is missing or behind, and ``keystone-manage
bootstrap`` only when the admin user, project or the three endpoints at
``https://<vip_name>:5000/v3`` are missing.

Every node resolves the VIP name (/etc/hosts) and trusts the lab CA, so clients verify
the API certificate by name. Secrets: ``db_keystone``, ``keystone_admin``, fernet keys
``fernet_0``/``fernet_1``, credential keys ``credential_0``/``credential_1``.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from deployer.context import Context, render
from deployer.errors import DeployError
from deployer.inventory import Host
from deployer.roles.base import Component
from deployer.roles.haproxy import set_server_state
from deployer.roles.haproxy_stat import server_states
from deployer.roles.memcached import keystone_cache
from deployer.tls import Api, answers, ca_path
from lab import state as labstate

DB = "keystone"  # database and account name
API = Api("keystone", public_port=5000, backend_port=5001, health_path="/v3")  # haproxy derives from it
PORT = API.backend_port  # uwsgi on each node's own address
REGION = "RegionOne"
KEY_DIRS = {"fernet-keys": ("fernet_0", "fernet_1"), "credential-keys": ("credential_0", "credential_1")}
UWSGI_THREADS = 4  # threads are cheap; processes (≈ 100 MB each) come from the cloud model
MIGRATIONS = "/usr/lib/python3/dist-packages/keystone/common/sql/migrations/versions"
MANAGE = ["runuser", "-u", "keystone", "--", "keystone-manage"]  # as keystone: its log file stays keystone's


def auth_url(ctx: Context) -> str:
    return f"https://{ctx.inv.vip_name}:5000/v3"


def db_host(ctx: Context) -> str:
    """The account's host: the mgmt network as 'net/mask' (MariaDB takes no prefix length);
    haproxy's backend connections leave from the VIP holder's own address."""
    net = ipaddress.ip_interface(ctx.inv.with_role("controller")[0].addresses[ctx.inv.vip_network]).network
    return f"{net.network_address}/{net.netmask}"


@dataclass(frozen=True)
class KeystoneSecrets:
    """Fetched once before the per-node threads: Secrets is not thread-safe on first use."""

    db_password: str
    admin_password: str
    keys: dict[str, dict[str, str]]  # key dir -> {"0": key, "1": key}

    @classmethod
    def of(cls, ctx: Context) -> KeystoneSecrets:
        keys = {d: {str(i): ctx.secrets.fernet_key(n) for i, n in enumerate(names)} for d, names in KEY_DIRS.items()}
        return cls(ctx.secrets.password("db_keystone"), ctx.secrets.password("keystone_admin"), keys)


def trusted_pem(ctx: Context) -> str:
    """What every node trusts: the lab CA, and the root of the operator's VIP certificate."""
    if not ctx.cloud.tls.public_cert:
        return ctx.ca.cert_pem
    root = x509.load_pem_x509_certificates(Path(ctx.cloud.tls.public_cert).read_bytes())[-1]  # validated: a root
    return ctx.ca.cert_pem + root.public_bytes(serialization.Encoding.PEM).decode()


def trust_and_resolve(ctx: Context, hosts: list[Host]) -> None:
    """Every node: the lab CA in its trust store, the VIP name in /etc/hosts (appended once)."""
    ca, line = trusted_pem(ctx), f"{ctx.inv.vip} {ctx.inv.vip_name}"

    def one(host: Host) -> None:
        if ctx.put(host.name, ca_path(ctx.inv.lab), ca):
            ctx.t.run(host.name, ["update-ca-certificates"], step="keystone: update-ca-certificates")
        # A stale line for the name (another VIP) goes; the lab's own lines stay.
        script = (f"grep -qxF {shlex.quote(line)} /etc/hosts && exit 0; "
                  f"sed -i '/[[:space:]]{ctx.inv.vip_name}$/d' /etc/hosts; echo {shlex.quote(line)} >> /etc/hosts; "
                  "echo added")
        if ctx.sh(host.name, script, step="keystone: /etc/hosts").stdout.strip():
            ctx.changed(f"{host.name}:/etc/hosts {ctx.inv.vip_name}")

    ctx.parallel(hosts, one)


def backend_up(ctx: Context, observer: str, server: str) -> bool:
    """haproxy on ``observer`` sees the Keystone of ``server`` UP."""
    return server_states(ctx, observer).get(("keystone", server)) == "UP"


def mysql(ctx: Context, node: str, script: str) -> str:
    """SQL on stdin as root through the local socket (passwords stay out of argv)."""
    return ctx.t.run(node, ["mysql", "-NB"], input=script, step="keystone: sql", timeout=60).stdout.strip()


class Keystone(Component):
    name = "keystone"
    api = API
    after = ("galera", "memcached", "rabbitmq", "keepalived")  # its database, cache and VIP

    def deploy(self, ctx: Context) -> None:
        ctls = self.hosts(ctx)
        sec = KeystoneSecrets.of(ctx)
        trust_and_resolve(ctx, list(ctx.inv.hosts.values()))
        changed: dict[str, bool] = {}
        ctx.parallel(ctls, lambda h: changed.__setitem__(h.name, self.configure(ctx, h, sec)))
        first = ctls[0].name
        self.database(ctx, first, sec.db_password)
        self.db_sync(ctx, first)
        self.bootstrap(ctx, first, sec.admin_password)
        self.start(ctx, ctls, changed)

    def start(self, ctx: Context, ctls: list[Host], changed: dict[str, bool]) -> None:
        """Start stopped nodes at once; restart changed running ones one at a time (see
        ``rolling_restart``), so a config change never takes the API down."""
        def running(h: Host) -> bool:
            return ctx.t.run(h.name, ["systemctl", "is-active", "--quiet", "keystone"], check=False).ok

        up = {h.name for h in ctls if running(h)}
        ctx.parallel([h for h in ctls if h.name not in up], lambda h: ctx.service(h.name, "keystone"))
        for host in (h for h in ctls if h.name in up and changed[h.name]):
            self.rolling_restart(ctx, host)
        for host in ctls:
            ctx.service(host.name, "keystone")  # enabled at boot (a no-op when running and enabled)

    def rolling_restart(self, ctx: Context, host: Host) -> None:
        """Take the node out of every haproxy (maint), restart it, wait until it answers, put
        it back and wait until every haproxy sees it UP. uwsgi accepts connections seconds
        before Keystone is loaded (2–20 s): without maint, requests would hang there."""
        set_server_state(ctx, "keystone", host.name, "maint")
        try:
            ctx.service(host.name, "keystone", restart=True)
            url = f"http://{host.ip(ctx.inv.vip_network)}:{PORT}/v3"
            ctx.wait(f"keystone on {host.name} answering after its restart", partial(answers, ctx, host.name, url),
                     timeout=120, node=host.name, unit="keystone")
        finally:
            set_server_state(ctx, "keystone", host.name, "ready")
        for other in ctx.inv.with_role("controller"):
            ctx.wait(f"keystone/{host.name} UP in haproxy on {other.name}",
                     partial(backend_up, ctx, other.name, host.name), timeout=60, node=other.name, unit="haproxy")

    def configure(self, ctx: Context, host: Host, sec: KeystoneSecrets) -> bool:
        """Write the node's config files and keys; True if any changed."""
        node = host.name
        changed = ctx.template(node, "/etc/keystone/keystone.conf", "keystone.conf.j2", mode=0o640,
                               owner="root:keystone", lab=ctx.inv.lab, hostname=node, db_user=DB, db_name=DB,
                               db_password=sec.db_password, vip=ctx.inv.vip,
                               token_expiration=int(ctx.cloud.keystone.token_expiration), **keystone_cache(ctx))
        changed |= ctx.template(node, "/etc/keystone/keystone-uwsgi.ini", "keystone-uwsgi.ini.j2",
                                processes=ctx.cloud.keystone.processes, threads=UWSGI_THREADS)
        changed |= ctx.template(node, "/etc/default/keystone", "keystone-default.j2",
                                ip=host.ip(ctx.inv.vip_network), port=PORT)
        for directory, keys in sec.keys.items():
            changed |= self.key_repository(ctx, node, f"/etc/keystone/{directory}", keys)
        return changed

    @staticmethod
    def key_repository(ctx: Context, node: str, path: str, keys: dict[str, str]) -> bool:
        """A key directory only keystone reads (0700) holding ``keys`` (0600; never rotated here)."""
        made = ctx.sh(node, f'if [ "$(stat -c %U:%G:%a {path} 2>/dev/null)" != keystone:keystone:700 ]; then '
                            f"install -d -o keystone -g keystone -m 0700 {path}; echo made; fi",
                      step="keystone: key directory")
        changed = bool(made.stdout.strip())
        if changed:
            ctx.changed(f"{node}:{path}")
        for index, key in keys.items():
            changed |= ctx.put(node, f"{path}/{index}", key, mode=0o600, owner="keystone:keystone")
        return changed

    @staticmethod
    def database(ctx: Context, node: str, password: str) -> None:
        """Keystone's database and account, created or fixed when any of their facts is missing."""
        values = {"db_name": DB, "db_user": DB, "db_host": db_host(ctx), "db_password": password}
        if mysql(ctx, node, render("keystone-db-check.sql.j2", **values)) == "3":
            return
        mysql(ctx, node, render("keystone-db.sql.j2", **values))
        ctx.changed(f"{node}:keystone database and account")

    @staticmethod
    def db_sync(ctx: Context, node: str) -> None:
        """Create or upgrade the schema, only when it is missing or behind."""
        if Keystone.schema_current(ctx, node):
            return
        ctx.t.run(node, [*MANAGE, "db_sync"], step="keystone: db_sync", timeout=300)
        ctx.changed(f"{node}:keystone db_sync")

    @staticmethod
    def schema_current(ctx: Context, node: str) -> bool:
        """The database's alembic heads are the package's EXPAND_HEAD and CONTRACT_HEAD.

        A SQL query and two small files (0.1 s) instead of ``db_sync --check``, which
        imports all of Keystone (≈ 5 s on a busy 2-core host); that stays the fallback
        for a release without those files."""
        heads = ctx.t.run(node, ["cat", f"{MIGRATIONS}/EXPAND_HEAD", f"{MIGRATIONS}/CONTRACT_HEAD"], check=False)
        if not heads.ok:
            return ctx.t.run(node, [*MANAGE, "db_sync", "--check"], check=False, timeout=120).ok
        have = ctx.t.run(node, ["mysql", "-NB", "-e", f"SELECT version_num FROM {DB}.alembic_version"],
                         check=False, timeout=30)
        return have.ok and set(have.stdout.split()) == set(heads.stdout.split())

    @staticmethod
    def bootstrap(ctx: Context, node: str, password: str) -> None:
        """Admin user, project, role and the identity endpoints; skipped when all are there."""
        url = auth_url(ctx)
        check = render("keystone-bootstrap-check.sql.j2", db_name=DB, url=url, region=REGION)
        if mysql(ctx, node, check) == "5":
            return
        args = ["bootstrap", "--bootstrap-username", "admin", "--bootstrap-project-name", "admin",
                "--bootstrap-role-name", "admin", "--bootstrap-region-id", REGION,
                "--bootstrap-admin-url", url, "--bootstrap-internal-url", url, "--bootstrap-public-url", url]
        # The password on stdin into the environment: never in argv (visible in ps).
        script = f'OS_BOOTSTRAP_PASSWORD="$(cat)" exec {shlex.join([*MANAGE, *args])}'
        ctx.t.run(node, ["/bin/sh", "-ec", script], input=password, step="keystone: bootstrap", timeout=300)
        if mysql(ctx, node, check) != "5":
            raise DeployError(node, "keystone: bootstrap", "keystone-manage bootstrap ran but the admin user, "
                              f"project or the 3 endpoints at {url} are still missing")
        ctx.changed(f"{node}:keystone bootstrap")


class CloudsYaml(Component):
    """``/etc/openstack/clouds.yaml`` (cloud ``stacklab``, the admin) on every node, and a copy
    for the host in the lab's run dir with the CA beside it.

    The host copy is for tools that enter the lab's namespaces from the host (its paths
    are host paths); a plain ``openstack`` on the host cannot reach the lab: the host has
    no route into it, by design (docs/facts.md, network safety)."""

    name = "clouds"
    stage = "finish"
    NODE_PATH = "/etc/openstack/clouds.yaml"

    def hosts(self, ctx: Context) -> list[Host]:
        return list(ctx.inv.hosts.values())

    def values(self, ctx: Context, cacert: str) -> dict[str, str]:
        return {"lab": ctx.inv.lab, "auth_url": auth_url(ctx), "password": ctx.secrets.password("keystone_admin"),
                "region": REGION, "cacert": cacert}

    def deploy(self, ctx: Context) -> None:
        hosts = self.hosts(ctx)
        trust_and_resolve(ctx, hosts)  # done by keystone already; here too for `--only clouds`
        content = render("clouds.yaml.j2", **self.values(ctx, ca_path(ctx.inv.lab)))
        ctx.parallel(hosts, lambda h: ctx.put(h.name, self.NODE_PATH, content, mode=0o600))
        path = self.host_copy(ctx)
        node = self.client(ctx).name
        ctx.say(f"clouds.yaml: {self.NODE_PATH} on every node; in the lab: stacklab exec --lab {ctx.inv.lab} "
                f"{node} -- openstack --os-cloud stacklab token issue")
        ctx.say(f"clouds.yaml: host copy {path} (OS_CLIENT_CONFIG_FILE={path} openstack --os-cloud stacklab ...) "
                "works only from inside the lab's network namespaces: the host has no route into the lab")

    def host_copy(self, ctx: Context) -> Path:
        """Write ``<run dir>/clouds.yaml`` and ``ca.crt`` (0600) when they differ; return the yaml path."""
        run = labstate.lab_run_dir(ctx.inv.lab)
        ca = run / "ca.crt"
        files = {ca: trusted_pem(ctx), run / "clouds.yaml": render("clouds.yaml.j2", **self.values(ctx, str(ca)))}
        for path, content in files.items():
            if path.exists() and path.read_text() == content and path.stat().st_mode & 0o777 == 0o600:
                continue
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(content)
            os.chmod(path, 0o600)  # O_CREAT's mode does not apply to an existing file
            ctx.changed(f"host:{path}")
        return run / "clouds.yaml"

    @staticmethod
    def client(ctx: Context) -> Host:
        """Where clients run: the first node that is not a controller (cli1), else a controller."""
        others = [h for h in ctx.inv.hosts.values() if "controller" not in h.roles]
        return (others or ctx.inv.with_role("controller"))[0]

    def ready(self, ctx: Context) -> None:
        """The admin gets a token with the node's clouds.yaml, from a non-controller node."""
        node = self.client(ctx).name
        argv = ["openstack", "--os-cloud", "stacklab", "token", "issue", "-f", "value", "-c", "id"]
        ctx.wait(f"`openstack --os-cloud stacklab token issue` on {node}",
                 lambda: ctx.t.run(node, argv, check=False, timeout=60).ok, timeout=120, node=node, interval=1)
