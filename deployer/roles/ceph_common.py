"""What every Ceph component shares: cephx keys and fsid derived from the lab's secrets,
the network choice, ceph.conf values, keyrings and small helpers.

Keys and the fsid are derived (HMAC of a stored secret), so every deploy computes the
same ones: nothing needs fetching back from a node and a second deploy changes nothing.

Networks: Ceph's public network is ``storage`` when every Ceph node and every
controller (the clients) has that network, else ``mgmt``; the cluster (replication,
heartbeat) network is ``storage`` when every OSD node has it. In the ``ha`` lab the
controllers have no storage link, so public = mgmt and cluster = storage.

>>> len(cephx_key("s3cret", "client.admin")), cephx_key("s3cret", "mon.")[:2]
(40, 'AQ')
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import json
import struct
import uuid
from typing import Any

from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud

CONF = "/etc/ceph/ceph.conf"
ADMIN_KEYRING = "/etc/ceph/ceph.client.admin.keyring"
MON_KEYRING = "/etc/ceph/ceph.mon.keyring"  # every bootstrap entity: imported by ceph-mon --mkfs
CACHE_BYTES = 64 * 2**20  # BlueStore cache per OSD: RSS ≈ 50 MiB idle, ≈ 330 MiB after a rados bench
CEPH = "ceph --connect-timeout 10"
QUORUM_TIMEOUT = 60.0
ADMIN_CAPS = {"mon": "allow *", "osd": "allow *", "mds": "allow *", "mgr": "allow *"}
BOOTSTRAP_OSD_CAPS = {"mon": "profile bootstrap-osd", "mgr": "allow r"}
MGR_CAPS = {"mon": "allow profile mgr", "osd": "allow *", "mds": "allow *"}
# mgr modules never loaded: everything but the always-on ones and iostat.
MGR_DISABLED_MODULES = ("alerts", "diskprediction_local", "influx", "insights", "localpool", "mirroring", "nfs",
                        "osd_perf_query", "osd_support", "prometheus", "restful", "selftest", "snap_schedule",
                        "stats", "telegraf", "test_orchestrator", "zabbix")


def cephx_key(seed: str, entity: str) -> str:
    """A cephx secret for ``entity``, derived from the lab's ``seed`` (what ceph-authtool
    --gen-key prints: base64 of type AES, a creation time, length 16, 16 key bytes)."""
    raw = hmac.new(seed.encode(), entity.encode(), hashlib.sha256).digest()[:16]
    return base64.b64encode(struct.pack("<HIIH", 1, 0, 0, 16) + raw).decode()


def key(ctx: Context, entity: str) -> str:
    return cephx_key(ctx.secrets.password("ceph_keys"), entity)


def fsid(ctx: Context) -> str:
    """The cluster fsid: a UUID made from a stored secret (stable across deploys)."""
    digest = hashlib.sha256(ctx.secrets.password("ceph_fsid").encode()).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def mon_hosts(ctx: Context) -> list[Host]:
    return mons_of(ctx.inv, ctx.cloud)


def mons_of(inv: Inventory, cloud: Cloud) -> list[Host]:
    """The first ``cloud.ceph.mons`` nodes with role ceph-mon run a mon and a mgr."""
    return inv.with_role("ceph-mon")[: cloud.ceph.mons]


def networks(ctx: Context) -> tuple[str, str]:
    """(public, cluster) lab network names (see the module docstring)."""
    ceph = ctx.inv.with_role("ceph-mon") + ctx.inv.with_role("ceph-osd")
    public = "storage" if all("storage" in h.addresses for h in ceph + ctx.inv.with_role("controller")) \
        else "mgmt"
    cluster = "storage" if all("storage" in h.addresses for h in ctx.inv.with_role("ceph-osd")) else public
    return public, cluster


def _cidr(ctx: Context, network: str) -> str:
    host = next(h for h in ctx.inv.hosts.values() if network in h.addresses)
    return str(ipaddress.ip_interface(host.addresses[network]).network)


def conf(ctx: Context) -> dict[str, Any]:
    """Values of ceph.conf.j2: the same file everywhere, so any change restarts the daemons."""
    c, (public, cluster) = ctx.cloud.ceph, networks(ctx)
    return {"lab": ctx.inv.lab, "fsid": fsid(ctx), "public_network": _cidr(ctx, public),
            "cluster_network": _cidr(ctx, cluster),
            "mons": [{"name": h.name, "ip": h.ip(public)} for h in mon_hosts(ctx)],
            "pool_size": c.pool_size, "min_size": c.min_size, "pg_num": c.pg_num,
            # Ceph takes these as whole seconds (0 s down-out would mean "never mark out").
            "down_out_interval": round(c.mon_osd_down_out_interval),
            "heartbeat_interval": max(1, round(c.osd_heartbeat_interval)),
            "heartbeat_grace": max(1, round(c.osd_heartbeat_grace)), "osd_size_bytes": c.osd_size_gib * 2**30,
            "cache_bytes": CACHE_BYTES, "mgr_disabled_modules": MGR_DISABLED_MODULES}


def keyring(ctx: Context, entities: dict[str, dict[str, str]]) -> str:
    """A keyring file's text for ``entities`` (name -> caps)."""
    return render("ceph.keyring.j2", entries=[{"name": n, "key": key(ctx, n), "caps": caps}
                                              for n, caps in entities.items()])


def put_conf(ctx: Context, node: str, daemons: str = "") -> bool:
    """Write ceph.conf. With ``daemons`` ("mon", "osd"): True when those daemons have not
    run with this conf yet (a stamp beside their data). A node that is both mon and OSD
    gets the file from the mon component first, and its OSDs must still be restarted."""
    text = render("ceph.conf.j2", **conf(ctx))
    changed = ctx.put(node, CONF, text)
    if not daemons:
        return changed
    stamp = f"/var/lib/ceph/{daemons}/stacklab-conf.sha256"
    return ctx.put(node, stamp, hashlib.sha256(text.encode()).hexdigest() + "\n", owner="ceph:ceph")


def ensure_auth(ctx: Context, node: str, entities: dict[str, dict[str, str]]) -> None:
    """Import entities whose key or caps the live cluster lacks (``ceph auth import``)."""
    have = {e["entity"]: e for e in (ceph_json(ctx, node, "auth ls") or {}).get("auth_dump", [])}
    missing = {name: caps for name, caps in entities.items() if name != "mon."
               and (name not in have or have[name].get("key") != key(ctx, name) or have[name].get("caps") != caps)}
    if missing:
        ctx.t.run(node, ["/bin/sh", "-c", f"{CEPH} auth import -i -"], input=keyring(ctx, missing),
                  step="ceph: import auth entities")
        ctx.changed(f"{node}:ceph auth import {', '.join(sorted(missing))}")


def put_admin_keyring(ctx: Context, node: str) -> bool:
    return ctx.put(node, ADMIN_KEYRING, keyring(ctx, {"client.admin": ADMIN_CAPS}), mode=0o600)


def ceph_json(ctx: Context, node: str, args: str, timeout: float = 30) -> Any:
    """``ceph ARGS -f json`` on ``node`` (admin keyring), parsed; None when it fails."""
    done = ctx.t.run(node, ["/bin/sh", "-c", f"{CEPH} {args} -f json"], check=False, timeout=timeout)
    if not done.ok:
        return None
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None


def enable_at_boot(ctx: Context, node: str, units: list[str]) -> None:
    """Enable targets (and instance units) whose wants link is missing: a power-cycled node
    must bring its daemons back (the image disables ceph.target and the ceph-*.target)."""
    script = "".join(f"ls /etc/systemd/system/*.wants/{u} >/dev/null 2>&1 || "
                     f"{{ systemctl enable --quiet {u}; echo {u}; }}\n" for u in units)
    for unit in ctx.sh(node, script, step="ceph: enable at boot").stdout.split():
        ctx.changed(f"{node}:enable {unit}")
