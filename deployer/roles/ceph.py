"""Ceph monitors + managers (``ceph-mon`` role) and the Ceph client config on controllers.

Manual bring-up (no cephadm, no ceph-volume), as measured in docs/facts.md: the monmap is
made with ``monmaptool --addv``, each mon is ``ceph-mon --mkfs``'d with a keyring
holding every bootstrap entity (imported into the new cluster's auth database), then
the Debian units run the daemons. A mon added later (``cloud.ceph.mons`` 1 -> 3) is
made from the live cluster's monmap and joins by itself; the entities only its mkfs
keyring had (its mgr's key) are then imported into the live cluster.
"""

from __future__ import annotations

from deployer.context import Context
from deployer.errors import DeployError
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles.base import Component
from deployer.roles.ceph_common import (
    ADMIN_CAPS,
    BOOTSTRAP_OSD_CAPS,
    CEPH,
    MGR_CAPS,
    MON_KEYRING,
    QUORUM_TIMEOUT,
    ceph_json,
    enable_at_boot,
    ensure_auth,
    fsid,
    keyring,
    mon_hosts,
    mons_of,
    networks,
    put_admin_keyring,
    put_conf,
)


class CephMon(Component):
    """ceph-mon + ceph-mgr on the first ``cloud.ceph.mons`` ceph-mon nodes."""

    name = "ceph-mon"
    roles = ("ceph-mon",)
    stage = "ceph-mon"

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        """A mon and a mgr instance on each of the first ``cloud.ceph.mons`` ceph-mon nodes."""
        return [(h.name, f"ceph-{d}@{h.name}") for h in mons_of(inv, cloud) for d in ("mon", "mgr")]

    def hosts(self, ctx: Context) -> list[Host]:
        return mon_hosts(ctx)

    def deploy(self, ctx: Context) -> None:
        """Mons first (made from a fresh monmap, or joining the live cluster), then the mgrs."""
        mons = self.hosts(ctx)
        have = dict(zip([h.name for h in mons], self._have_store(ctx, mons), strict=True))
        monmap = "" if all(have.values()) else self._monmap_script(ctx, mons, [h for h in mons if have[h.name]])
        restarted: dict[str, bool] = {}

        def mon(host: Host) -> None:
            changed = put_conf(ctx, host.name, "mon")
            put_admin_keyring(ctx, host.name)
            ctx.put(host.name, MON_KEYRING, keyring(ctx, self._entities(mons)), mode=0o600, owner="ceph:ceph")
            if not have[host.name]:
                self._mkfs(ctx, host, monmap)
                changed = True
                ctx.changed(f"{host.name}:ceph-mon --mkfs ({'join' if any(have.values()) else 'bootstrap'})")
            ctx.service(host.name, f"ceph-mon@{host.name}", restart=changed)
            restarted[host.name] = changed

        def mgr(host: Host) -> None:
            changed = self._mgr_keyring(ctx, host)
            ctx.service(host.name, f"ceph-mgr@{host.name}", restart=changed or restarted[host.name])
            enable_at_boot(ctx, host.name, ["ceph-mon.target", "ceph-mgr.target", "ceph.target"])

        ctx.parallel(mons, mon)
        if any(have.values()):
            # A joining mon syncs the auth database from the quorum: entities only its mkfs
            # keyring had (the new mgr's) must be imported into the live cluster.
            self.ready(ctx)
            ensure_auth(ctx, mons[0].name, self._entities(mons))
        ctx.parallel(mons, mgr)

    def ready(self, ctx: Context) -> None:
        """Every mon in quorum (asked of the first mon)."""
        mons, node = [h.name for h in self.hosts(ctx)], self.hosts(ctx)[0].name

        def quorum() -> bool:
            status = ceph_json(ctx, node, "quorum_status", timeout=20)
            return bool(status) and sorted(status.get("quorum_names", [])) == sorted(mons)

        ctx.wait(f"all of {', '.join(mons)} in the mon quorum", quorum, timeout=QUORUM_TIMEOUT, node=node,
                 unit=f"ceph-mon@{node}", interval=0.5)

    @staticmethod
    def _entities(mons: list[Host]) -> dict[str, dict[str, str]]:
        return {"mon.": {"mon": "allow *"}, "client.admin": ADMIN_CAPS,
                "client.bootstrap-osd": BOOTSTRAP_OSD_CAPS} | {f"mgr.{h.name}": MGR_CAPS for h in mons}

    @staticmethod
    def _have_store(ctx: Context, mons: list[Host]) -> list[bool]:
        found: dict[str, bool] = {}

        def probe(host: Host) -> None:
            path = f"/var/lib/ceph/mon/ceph-{host.name}/store.db"
            found[host.name] = ctx.t.run(host.name, ["test", "-d", path], check=False).ok

        ctx.parallel(mons, probe)
        return [found[h.name] for h in mons]

    @staticmethod
    def _monmap_script(ctx: Context, mons: list[Host], existing: list[Host]) -> str:
        """Shell that writes /var/lib/ceph/tmp/monmap: a fresh map for a new cluster, the
        live cluster's map (base64 through the deployer) for a mon joining it."""
        if existing:
            done = ctx.sh(existing[0].name, f"{CEPH} mon getmap -o /dev/stdout 2>/dev/null | base64 -w0",
                          step="ceph-mon: get the live monmap", timeout=30)
            if not done.stdout.strip():
                raise DeployError(existing[0].name, "ceph-mon: get the live monmap", "no quorum to join")
            return f"echo {done.stdout.strip()} | base64 -d > /var/lib/ceph/tmp/monmap"
        public = networks(ctx)[0]
        adds = " ".join(f"--addv {h.name} '[v2:{h.ip(public)}:3300,v1:{h.ip(public)}:6789]'" for h in mons)
        return f"monmaptool --create --fsid {fsid(ctx)} {adds} /var/lib/ceph/tmp/monmap >/dev/null"

    @staticmethod
    def _mkfs(ctx: Context, host: Host, monmap: str) -> None:
        data = f"/var/lib/ceph/mon/ceph-{host.name}"
        ctx.sh(host.name, f"""
            rm -rf {data}; {monmap}
            install -d -o ceph -g ceph {data}
            runuser -u ceph -- ceph-mon --mkfs -i {host.name} --monmap /var/lib/ceph/tmp/monmap \\
                --keyring {MON_KEYRING}
            rm -f /var/lib/ceph/tmp/monmap""", step="ceph-mon: mkfs", timeout=60)

    @staticmethod
    def _mgr_keyring(ctx: Context, host: Host) -> bool:
        path = f"/var/lib/ceph/mgr/ceph-{host.name}"
        ctx.t.run(host.name, ["install", "-d", "-o", "ceph", "-g", "ceph", path], step="ceph-mgr: data dir")
        return ctx.put(host.name, f"{path}/keyring", keyring(ctx, {f"mgr.{host.name}": MGR_CAPS}), mode=0o600,
                       owner="ceph:ceph")


class CephClient(Component):
    """ceph.conf + the admin keyring on the controllers: ``ceph``, ``rbd`` and ``rados`` work
    there (what the health and data checks, and later Glance/Cinder, use)."""

    name = "ceph-client"
    roles = ("controller",)
    stage = "finish"

    def hosts(self, ctx: Context) -> list[Host]:
        return super().hosts(ctx) if mon_hosts(ctx) else []

    def deploy(self, ctx: Context) -> None:
        def one(host: Host) -> None:
            put_conf(ctx, host.name)
            put_admin_keyring(ctx, host.name)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        node = self.hosts(ctx)[0].name
        ctx.wait(f"`ceph status` answering on {node}", lambda: ceph_json(ctx, node, "status", timeout=20) is not None,
                 timeout=QUORUM_TIMEOUT, node=node, interval=0.5)
