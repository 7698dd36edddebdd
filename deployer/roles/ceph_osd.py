"""Ceph OSDs (``ceph-osd`` role) on file-backed BlueStore, and the lab's test pool.

Each OSD node runs ``cloud.ceph.osds_per_node`` OSDs; OSD ids and UUIDs are fixed by the
node's position, so a re-deploy finds them and a rebuilt node gets its old ids back.
Per OSD: ``ceph osd new UUID ID`` (with a cephx secret derived from the lab's secrets,
as client.bootstrap-osd), a keyring in the data dir, ``ceph-osd --mkfs`` (BlueStore
creates the sparse ``block`` file itself: ``bluestore_block_create``), then the
``ceph-osd@ID`` unit. CRUSH puts each OSD under a host bucket named after the node, so
the default host failure domain spreads replicas over nodes.

>>> osd_ids(1, 2)
[2, 3]
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import partial

from deployer.context import Context
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles.base import Component
from deployer.roles.ceph_common import (
    BOOTSTRAP_OSD_CAPS,
    ceph_json,
    enable_at_boot,
    fsid,
    keyring,
    mon_hosts,
    put_conf,
)
from deployer.roles.ceph_pool import ensure_pool, health_ok

BOOTSTRAP_KEYRING = "/var/lib/ceph/bootstrap-osd/ceph.keyring"
UP_TIMEOUT = 90.0
CLEAN_TIMEOUT = 120.0


def osd_ids(index: int, per_node: int) -> list[int]:
    """The OSD ids of the ``index``-th OSD node."""
    return [index * per_node + j for j in range(per_node)]


def osd_layout(inv: Inventory, cloud: Cloud) -> dict[str, list[int]]:
    """Every OSD node's OSD ids, by its position among the ceph-osd nodes."""
    per_node = cloud.ceph.osds_per_node
    return {h.name: osd_ids(i, per_node) for i, h in enumerate(inv.with_role("ceph-osd"))}


def osd_uuid(ctx: Context, osd_id: int) -> str:
    return str(uuid.uuid5(uuid.UUID(fsid(ctx)), f"osd.{osd_id}"))


class CephOsd(Component):
    name = "ceph-osd"
    roles = ("ceph-osd",)
    stage = "ceph-osd"

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        """One ``ceph-osd@ID`` per OSD, where the deployer placed it."""
        return [(n, f"ceph-osd@{i}") for n, ids in osd_layout(inv, cloud).items() for i in ids]

    def deploy(self, ctx: Context) -> None:
        """Make and start every node's OSDs; meanwhile (another thread) make the test pool."""
        layout = osd_layout(ctx.inv, ctx.cloud)

        def one(host: Host) -> None:
            changed = put_conf(ctx, host.name, "osd")
            ctx.put(host.name, BOOTSTRAP_KEYRING, keyring(ctx, {"client.bootstrap-osd": BOOTSTRAP_OSD_CAPS}),
                    mode=0o600, owner="ceph:ceph")
            ids = layout[host.name]
            made = self._present(ctx, host, ids)
            self._create(ctx, host, [i for i in ids if i not in made])
            for osd_id in ids:
                ctx.service(host.name, f"ceph-osd@{osd_id}", restart=changed and osd_id in made)
            enable_at_boot(ctx, host.name, ["ceph-osd.target", "ceph.target"])

        mon = mon_hosts(ctx)[0].name
        jobs: list[Callable[[], None]] = [partial(ensure_pool, ctx, mon)]
        jobs += [partial(one, h) for h in self.hosts(ctx)]
        ctx.parallel(jobs, lambda job: job())

    def ready(self, ctx: Context) -> None:
        """Every OSD up and in, every PG active+clean, HEALTH_OK."""
        node = mon_hosts(ctx)[0].name
        expected = len(self.hosts(ctx)) * ctx.cloud.ceph.osds_per_node

        def all_up() -> bool:
            stat = ceph_json(ctx, node, "osd stat", timeout=20) or {}
            return stat.get("num_up_osds") == expected and stat.get("num_in_osds") == expected

        ctx.wait(f"{expected} OSDs up and in", all_up, timeout=UP_TIMEOUT, node=node, interval=0.5)
        ctx.wait("every PG active+clean and HEALTH_OK", lambda: health_ok(ctx, node), timeout=CLEAN_TIMEOUT,
                 node=node, interval=0.5)

    @staticmethod
    def _present(ctx: Context, host: Host, ids: list[int]) -> set[int]:
        """OSD ids whose data dir was made (``ready`` is the last file ``ceph-osd --mkfs`` writes)."""
        probe = " ".join(f"test -e /var/lib/ceph/osd/ceph-{i}/ready && echo {i};" for i in ids)
        done = ctx.t.run(host.name, ["/bin/sh", "-c", probe + " true"], check=False)
        return {int(i) for i in done.stdout.split()}

    @staticmethod
    def _create(ctx: Context, host: Host, ids: list[int]) -> None:
        """Keyring, ``osd new`` and ``ceph-osd --mkfs`` for each id (one shell on the node; the
        secrets travel in files, not in command lines). ``osd new`` is idempotent for the same
        UUID and id, and leftovers of a half-made OSD are removed first, so it is simply redone."""
        script = ""
        for osd_id in ids:
            data, osd_fsid = f"/var/lib/ceph/osd/ceph-{osd_id}", osd_uuid(ctx, osd_id)
            ctx.put(host.name, f"{data}/keyring", keyring(ctx, {f"osd.{osd_id}": {}}), mode=0o600, owner="ceph:ceph")
            script += f"""
                find {data} -mindepth 1 ! -name keyring -delete; chown ceph:ceph {data}
                printf '{{"cephx_secret": "%s"}}' "$(ceph-authtool {data}/keyring -n osd.{osd_id} -p)" | \\
                    ceph --connect-timeout 20 --name client.bootstrap-osd --keyring {BOOTSTRAP_KEYRING} \\
                    osd new {osd_fsid} {osd_id} -i - >/dev/null
                ceph-osd -i {osd_id} --mkfs --osd-uuid {osd_fsid} --setuser ceph --setgroup ceph"""
            ctx.changed(f"{host.name}:create osd.{osd_id}")
        if script:
            ctx.sh(host.name, script, step=f"ceph-osd: create osd.{','.join(map(str, ids))}", timeout=120 * len(ids))
