"""memcached on every controller, bound to the node's own mgmt address.

Keystone uses only its local memcached: with all controllers listed, one dead
controller makes every request block ≈ 3 s per cache call (dogpile's pymemcache
backend passes no connect timeout) and the API never recovers (DESIGN.md).
"""

from __future__ import annotations

from deployer.context import Context
from deployer.roles.base import Component


class Memcached(Component):
    name = "memcached"

    def deploy(self, ctx: Context) -> None:
        def one(host):  # type: ignore[no-untyped-def]
            changed = ctx.template(host.name, "/etc/memcached.conf", "memcached.conf.j2",
                                   listen=f"127.0.0.1,{host.ip('mgmt')}", memory_mib=64)
            ctx.service(host.name, "memcached", restart=changed)

        ctx.parallel(self.hosts(ctx), one)
