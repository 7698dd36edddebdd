"""The lab's test pool and the "is the cluster healthy" probe the deploy waits on.

The pool ``stacklab`` (application rbd, so ``rbd`` works on it from the controllers)
takes size, min_size and pg_num from ``cloud.ceph``; the data checks and ``rados
bench`` use it. It is made while the OSDs are being made (pool creation needs no OSD):
its PGs are created as soon as the OSDs boot.
"""

from __future__ import annotations

from deployer.context import Context
from deployer.roles.ceph_common import CEPH, ceph_json, mon_hosts

POOL = "stacklab"
POOL_APPLICATION = "rbd"


def health_ok(ctx: Context, node: str) -> bool:
    """HEALTH_OK, every PG active+clean and every mgr registered (one active, the others
    standby), as ``ceph status`` on ``node`` reports it."""
    status = ceph_json(ctx, node, "status", timeout=20) or {}
    pgs, mgrs = status.get("pgmap", {}), status.get("mgrmap", {})
    clean = sum(s["count"] for s in pgs.get("pgs_by_state", []) if s["state_name"] == "active+clean")
    return (status.get("health", {}).get("status") == "HEALTH_OK" and clean == pgs.get("num_pgs", -1) > 0
            and mgrs.get("available") is True and mgrs.get("num_standbys") == len(mon_hosts(ctx)) - 1)


def ensure_pool(ctx: Context, node: str) -> None:
    """The test pool with size/min_size/pg_num from ``cloud.ceph`` and its application enabled."""
    c = ctx.cloud.ceph
    pools = {p["pool_name"]: p for p in ceph_json(ctx, node, "osd pool ls detail") or []}
    want = {"size": c.pool_size, "min_size": c.min_size, "pg_num": c.pg_num, "pgp_num": c.pg_num}
    steps: list[str] = []
    if POOL not in pools:
        steps.append(f"{CEPH} osd pool create {POOL} {c.pg_num} {c.pg_num} replicated")
        current: dict[str, object] = dict(want)  # created with the conf defaults = the model's values
    else:
        current = {"size": pools[POOL]["size"], "min_size": pools[POOL]["min_size"],
                   "pg_num": pools[POOL]["pg_num"], "pgp_num": pools[POOL]["pg_placement_num"]}
    force = " --yes-i-really-mean-it" if c.pool_size == 1 else ""
    # size before min_size: min_size may not exceed size at any moment.
    steps += [f"{CEPH} osd pool set {POOL} {k} {v}{force if k == 'size' else ''}"
              for k, v in want.items() if current.get(k) != v]
    if POOL_APPLICATION not in (pools.get(POOL, {}).get("application_metadata") or {}):
        steps.append(f"{CEPH} osd pool application enable {POOL} {POOL_APPLICATION}")
    if steps:
        ctx.sh(node, "\n".join(s + " 2>&1" for s in steps), step=f"ceph: pool {POOL}", timeout=120)
        ctx.changed(f"{node}:pool {POOL}: {len(steps)} step(s)")
