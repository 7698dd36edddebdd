"""memcached on every controller, and the Keystone cache settings that use it.

``cloud.keystone.cache`` picks one of five settings (docs/keystone-cache.md has the
measurements behind the default):

- ``vip`` (default): every Keystone uses one memcached address, VIP:11211, and haproxy
  on the VIP holder sends all of them to the same server, the others backups in a fixed
  order (``servers``). One cache, so an invalidation through any Keystone is seen by
  all; a dead backup costs nothing, a dead active server one socket timeout per
  connection, then haproxy has moved everyone to the next (``haproxy.cfg.j2``).
- ``pool``: one pool over every controller's memcached (``oslo_cache.memcache_pool``):
  each key lives on one server, so it is coherent too; but every ``POOL_DEAD_RETRY_S``
  each pooled connection tries a dead server again and waits out the socket timeout
  (the token p95 was 5.6x healthy with a controller off).
- ``local``: each Keystone uses only its own memcached: survives a dead controller but
  serves stale entries after an update elsewhere (the bug this setting demonstrates).
- ``naive``: every controller's memcached through dogpile's pymemcache backend with its
  defaults (no connect timeout): one dead controller stalls requests.
- ``off``: no caching.

memcached speaks plaintext without authentication, so it listens on the management
network only when the setting shares it (``vip``, ``pool``, ``naive``), and then an nftables
table loaded before memcached starts (``ExecStartPre``: no ACL, no memcached) admits
only the controllers' addresses to port 11211.
"""

from __future__ import annotations

from deployer.context import Context
from deployer.inventory import Host, Inventory
from deployer.roles.base import Component

PORT = 11211
SOCKET_TIMEOUT_S = 0.5  # a live memcached on the lab network answers in < 1 ms; a dead one never does
# How long a server that timed out is skipped before one request tries it again. ``pool``:
# also how long after a controller's return a Keystone process may still read copies
# written elsewhere during the outage (docs/keystone-cache.md): shorter settles sooner,
# longer stalls less. ``vip``: the only server is the VIP, and skipping it means no cache
# at all, so retry soon: by then haproxy has picked a live memcached.
POOL_DEAD_RETRY_S = 15
VIP_DEAD_RETRY_S = 2
EXPIRATION_S = 300  # bounds how long a rehashed key can outlive a server's return (see docs)
ACL_PATH = "/etc/memcached-acl.nft"
DROPIN = "/etc/systemd/system/memcached.service.d/stacklab-acl.conf"
DROPIN_TEXT = """# Managed by stacklab: the access list is loaded before memcached starts (a failed load
# keeps memcached down rather than open). "+" runs nft with full privileges, outside
# memcached's RestrictAddressFamilies (nft needs netlink).
[Service]
ExecStartPre=+/usr/sbin/nft -f """ + ACL_PATH + "\n"


def shared(ctx: Context) -> bool:
    """Whether Keystone reaches other controllers' memcached (so it listens on mgmt)."""
    return ctx.cloud.keystone.cache in ("vip", "pool", "naive")


def servers(inv: Inventory) -> list[tuple[str, str]]:
    """(controller, mgmt address) of every memcached, in haproxy's preference order: the
    reverse of keepalived's (``keepalived.config_values``), so the controller that serves
    the cache is the one least likely to hold the VIP, and one failure rarely takes both."""
    return [(h.name, h.ip("mgmt")) for h in reversed(inv.with_role("controller"))]


def keystone_cache(ctx: Context) -> dict[str, object]:
    """The values keystone.conf.j2's [cache] section takes."""
    mode = ctx.cloud.keystone.cache
    every = [f"{h.ip('mgmt')}:{PORT}" for h in ctx.inv.with_role("controller")]
    listed = [f"{ctx.inv.vip}:{PORT}"] if mode == "vip" else every
    return {"cache": mode, "memcache_servers": ",".join(listed), "socket_timeout": SOCKET_TIMEOUT_S,
            "dead_retry": VIP_DEAD_RETRY_S if mode == "vip" else POOL_DEAD_RETRY_S, "expiration": EXPIRATION_S}


def haproxy_values(ctx: Context) -> dict[str, object]:
    """haproxy.cfg.j2's memcached listener: present only with the ``vip`` setting."""
    if ctx.cloud.keystone.cache != "vip":
        return {"memcached_servers": []}
    return {"memcached_servers": servers(ctx.inv), "memcached_port": PORT, "memcached_clients": allowed_sources(ctx)}


def allowed_sources(ctx: Context) -> list[str]:
    """Every address a controller's Keystone may connect from: their mgmt addresses and the VIP."""
    return sorted({h.ip("mgmt") for h in ctx.inv.with_role("controller")} | {str(ctx.inv.vip)})


class Memcached(Component):
    name = "memcached"

    def deploy(self, ctx: Context) -> None:
        def one(host: Host) -> None:
            listen = f"127.0.0.1,{host.ip('mgmt')}" if shared(ctx) else "127.0.0.1"
            changed = ctx.template(host.name, ACL_PATH, "memcached-acl.nft.j2", port=PORT,
                                   allowed=allowed_sources(ctx))
            if ctx.put(host.name, DROPIN, DROPIN_TEXT):
                ctx.t.run(host.name, ["systemctl", "daemon-reload"], step="memcached: daemon-reload")
                changed = True
            changed |= ctx.template(host.name, "/etc/memcached.conf", "memcached.conf.j2",
                                    listen=listen, memory_mib=64)
            ctx.service(host.name, "memcached", restart=changed)

        ctx.parallel(self.hosts(ctx), one)
