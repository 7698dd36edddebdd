"""MariaDB Galera on the controllers, and garbd on ``galera-arbitrator`` nodes.

Order of a first deploy: config on every controller, bootstrap the first one
(``galera_new_cluster``) only when no node is in a Primary component, then join the
others one at a time (each waits for Synced: two simultaneous SSTs from one donor
would double the stall), then the accounts. A re-deploy finds every node Synced with
an unchanged config and does nothing; a changed config is a rolling restart.

Accounts: root through the unix socket (Debian's default) for the deployer and the
checks; ``haproxy`` (no password, USAGE only) from the controllers for haproxy's
mysql-check; ``stacklab`` (password ``db_stacklab``) with all rights on database
``stacklab`` from the mgmt network, for checks and the scenario runner through the
VIP; ``sst`` (password ``db_sst``) for mariabackup SST.

The datadir is NOT re-initialised per node: the image's datadir is the same thing
``mariadb-install-db`` would write, joiners get the donor's datadir by SST anyway, and
the copy-up cost (≈ 114 MB per node) was the baked 96 MiB redo log, which InnoDB
replaces with a 16 MiB one at first start (``innodb_log_file_size``): ≈ 40 MB per node.

A node that was powered off rejoins by itself: mariadb is enabled, ``galera_recovery``
finds its position and it catches up by IST (or SST) from a running member.
"""

from __future__ import annotations

import re

from deployer.context import Context
from deployer.errors import DeployError
from deployer.inventory import Host
from deployer.roles import galera_sql as sql
from deployer.roles.base import Component

CONF = "/etc/mysql/mariadb.conf.d/60-galera.cnf"  # replaces the package's comment-only file
GRASTATE = "/var/lib/mysql/grastate.dat"
JOIN_TIMEOUT = 180.0  # an SST of a lab-sized datadir takes seconds; a busy 2-core host is slow
PRIMARY_TIMEOUT = 30.0  # nodes re-forming a component after a power cycle need a few evs rounds
SST_TOOLS = {"rsync": "rsync", "mariabackup": "mariabackup"}


def cluster_name(ctx: Context) -> str:
    return f"stacklab-{ctx.inv.lab}"


def is_primary(status: dict[str, str]) -> bool:
    return status.get("wsrep_cluster_status") == "Primary"


def members(ctx: Context) -> list[Host]:
    """Every node of the Galera group: controllers, then arbitrators."""
    return ctx.inv.with_role("controller") + ctx.inv.with_role(Arbitrator.roles[0])


class Galera(Component):
    name = "galera"
    service = "mariadb"

    def deploy(self, ctx: Context) -> None:
        ctls = self.hosts(ctx)
        changed: dict[str, bool] = {}
        sst_password = ctx.secrets.password("db_sst")  # here: Secrets is not safe from several threads
        ctx.parallel(ctls, lambda h: changed.__setitem__(h.name, self.configure(ctx, h, sst_password)))
        if not any(is_primary(sql.status(ctx, h.name)) for h in ctls):
            first = self.bootstrap(ctx, ctls)
            if first is not None:
                changed[first.name] = False
        for host in ctls:  # one at a time: a joiner needs a donor, a restart needs quorum
            self.converge(ctx, host, changed[host.name], sql.status(ctx, host.name))
        sql.ensure_accounts(ctx, ctls[0].name, [h.ip("mgmt") for h in ctls])  # every node is Synced now

    def configure(self, ctx: Context, host: Host, sst_password: str) -> bool:
        """Write the node's config; True if it changed."""
        tool = SST_TOOLS[ctx.cloud.galera.sst]
        if not ctx.t.run(host.name, ["sh", "-c", f"command -v {tool}"], check=False).ok:
            raise DeployError(host.name, "galera: SST", f"sst '{ctx.cloud.galera.sst}' needs `{tool}`, which "
                              "the node image lacks (add its package to the mariadb service in deployer/catalog.py)")
        return ctx.template(host.name, CONF, "galera.cnf.j2", mode=0o640, owner="root:mysql",
                            lab=ctx.inv.lab, node_name=host.name, ip=host.ip("mgmt"), cluster_name=cluster_name(ctx),
                            members=[m.ip("mgmt") for m in members(ctx)], sst=ctx.cloud.galera.sst,
                            buffer_pool_mib=ctx.cloud.galera.buffer_pool_mib, sst_user=sql.SST_USER,
                            sst_password=sst_password)

    def bootstrap(self, ctx: Context, ctls: list[Host]) -> Host | None:
        """Start a new cluster on the node allowed to: any node on a fresh lab, else the
        one Galera marked ``safe_to_bootstrap: 1`` (the last to stop cleanly). None when
        a running node found or formed a Primary component meanwhile."""
        # "activating" too: a node waiting in a non-Primary view never finishes starting.
        active = [h.name for h in ctls if ctx.t.run(h.name, ["systemctl", "is-active", "mariadb"],
                                                     check=False).stdout.strip() in ("active", "activating")]
        if active:
            # Nodes booting after a whole-cluster power cycle may re-form the Primary component
            # themselves (pc.recovery); bootstrapping beside them would split the cluster.
            self.await_primary(ctx, ctls, active)
            return None
        grastate = {h.name: ctx.t.get(h.name, GRASTATE) or "" for h in ctls}
        fresh = all(not re.search(r"^uuid:\s*[1-9a-f]", g, re.M) for g in grastate.values())
        safe = [h for h in ctls if re.search(r"^safe_to_bootstrap:\s*1", grastate[h.name], re.M)]
        if not fresh and not safe:
            raise DeployError(ctls[0].name, "galera: bootstrap", "the whole cluster is down and no node is "
                              "safe_to_bootstrap: run `mariadbd --wsrep-recover` on each, then set "
                              "safe_to_bootstrap: 1 in grastate.dat of the most advanced one (docs/facts.md)")
        first = ctls[0] if fresh else safe[0]
        ctx.t.run(first.name, ["galera_new_cluster"], step="galera: bootstrap", timeout=180)
        ctx.service(first.name, "mariadb")  # enable it: a power-cycled node must start by itself
        ctx.changed(f"{first.name}:galera bootstrap")
        self.wait_synced(ctx, first)
        return first

    @staticmethod
    def await_primary(ctx: Context, ctls: list[Host], active: list[str]) -> None:
        """Wait (bounded) for running nodes to reach a Primary component; explain if they don't."""
        try:
            ctx.wait("a Primary component among the running Galera nodes", timeout=PRIMARY_TIMEOUT,
                     probe=lambda: any(is_primary(sql.status(ctx, h.name)) for h in ctls))
        except DeployError as e:
            raise DeployError(active[0], "galera: bootstrap", f"no Primary component but {', '.join(active)} "
                              "running (quorum lost, e.g. 2 nodes − 1 or a whole-cluster crash): on the most "
                              "advanced node SET GLOBAL wsrep_provider_options='pc.bootstrap=YES' if it answers, "
                              "else stop mariadb everywhere, compare `galera_recovery` positions, set "
                              "safe_to_bootstrap: 1 in its grastate.dat and redeploy (docs/facts.md)") from e

    def converge(self, ctx: Context, host: Host, changed: bool, state: dict[str, str]) -> None:
        """Start (join) or restart the node when needed, then wait until it is Synced."""
        joining = bool(state) and state.get("wsrep_local_state_comment") != "Synced"
        if joining and not changed:  # a node catching up (after a heal) is left to finish
            self.wait_synced(ctx, host)
            return
        ctx.service(host.name, "mariadb", restart=changed)
        self.wait_synced(ctx, host)

    @staticmethod
    def wait_synced(ctx: Context, host: Host) -> None:
        def synced() -> bool:
            s = sql.status(ctx, host.name)
            return s.get("wsrep_local_state_comment") == "Synced" and is_primary(s)

        ctx.wait(f"galera on {host.name} to be Synced in a Primary component", synced, timeout=JOIN_TIMEOUT,
                 node=host.name, unit="mariadb")

    def ready(self, ctx: Context) -> None:
        """Every controller Synced, in one Primary component of at least all controllers
        (an arbitrator, once deployed, adds one)."""
        ctls = self.hosts(ctx)

        def formed() -> bool:
            states = [sql.status(ctx, h.name) for h in ctls]
            return all(s.get("wsrep_local_state_comment") == "Synced" and is_primary(s)
                       and int(s.get("wsrep_cluster_size", "0")) >= len(ctls) for s in states)

        ctx.wait(f"a Galera cluster of {len(ctls)} Synced controllers", formed, timeout=JOIN_TIMEOUT,
                 node=ctls[0].name, unit="mariadb")


class Arbitrator(Component):
    """garbd: a Galera vote without data, so a 2-controller cluster keeps a Primary survivor."""

    name = "garbd"
    roles = ("galera-arbitrator",)
    after = ("galera",)  # a vote in the cluster the controllers formed
    WORK_DIR = "/var/lib/garbd"  # garb.service runs as nobody: it needs a directory it may write

    def deploy(self, ctx: Context) -> None:
        ctls = ctx.inv.with_role("controller")
        if not ctls:
            raise DeployError(self.hosts(ctx)[0].name, "garbd", "a Galera arbitrator needs controllers to vote with")
        # garbd joins an existing group; it cannot start one.
        ctx.wait("a Primary Galera component for garbd to join",
                 lambda: any(is_primary(sql.status(ctx, h.name)) for h in ctls),
                 timeout=JOIN_TIMEOUT, node=ctls[0].name, unit="mariadb")

        def one(host: Host) -> None:
            changed = ctx.template(host.name, "/etc/default/garb", "garb.j2", lab=ctx.inv.lab,
                                   nodes=[f"{h.ip('mgmt')}:4567" for h in ctls], group=cluster_name(ctx),
                                   ip=host.ip("mgmt"), work_dir=self.WORK_DIR)
            made = ctx.sh(host.name, f'if [ "$(stat -c %U:%G:%a {self.WORK_DIR} 2>/dev/null)" != nobody:nogroup:750 ]; '
                                     f"then install -d -o nobody -g nogroup -m 0750 {self.WORK_DIR}; echo made; fi",
                          step="garbd: work dir")
            if made.stdout.strip():
                ctx.changed(f"{host.name}:{self.WORK_DIR}")
            ctx.service(host.name, "garb", restart=changed)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        """The Galera group counts every controller and every arbitrator."""
        ctls = ctx.inv.with_role("controller")
        want = len(members(ctx))
        ctx.wait(f"wsrep_cluster_size {want} (controllers + arbitrators)",
                 lambda: any(sql.status(ctx, h.name).get("wsrep_cluster_size") == str(want) for h in ctls),
                 timeout=60, node=self.hosts(ctx)[0].name, unit="garb")
