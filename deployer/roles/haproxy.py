"""haproxy on every controller: Keystone over TLS and MariaDB on the API VIP.

Every controller runs the same frontends bound to the VIP (``net.ipv4.ip_nonlocal_bind=1``
lets a node bind an address keepalived has not given it yet), so whichever node
keepalived makes the VIP holder already listens. Keystone: TLS ends here with a
certificate for the VIP (name and address), backends are every controller's uwsgi on
node-IP:5001 in plain HTTP. MariaDB: TCP, the local Galera node active and the others
backup, so writes go to one node at a time. With the default Keystone cache setting a
third listener, VIP:11211, sends every Keystone to the same memcached
(``deployer.roles.memcached``).

The defaults follow docs/facts.md's failover trap (redispatch, 2 retries, short connect and
check timeouts), with two measured refinements for Keystone: ``option redispatch 1``
(every retry goes to another server, not only the last) and ``observe layer4
error-limit 1 on-error mark-down`` (the first failed connect of live traffic marks a dead
controller down, before its health checks do): after a VIP move with VRRPv3 at 0.1 s,
GETs from a client with a 1 s timeout failed for ≈ 3.2 s without them, ≈ 1.8–2.1 s with
them. A config is checked with ``haproxy -c`` before it replaces the old one,
and a running haproxy is reloaded (not restarted) so live connections survive.

Backend states are read from the admin socket::

    states = server_states(ctx, "ctl1")   # {("keystone", "ctl2"): "UP", ...}
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from deployer.context import Context, render
from deployer.errors import DeployError
from deployer.inventory import Host
from deployer.roles import haproxy_stat, memcached
from deployer.roles.base import Component, api_components
from deployer.roles.haproxy_stat import server_states
from lab.errors import LabError

CONFIG = "/etc/haproxy/haproxy.cfg"
PEM = "/etc/haproxy/certs/api.pem"
SYSCTL = "/etc/sysctl.d/60-stacklab-nonlocal-bind.conf"


def config_values(ctx: Context, host: Host) -> dict[str, object]:
    """Template values of one controller's haproxy.cfg (only the MariaDB backup flags differ)."""
    ctls = ctx.inv.with_role("controller")
    h = ctx.cloud.haproxy
    return {
        "vip": ctx.inv.vip, "pem": PEM,
        "apis": api_values(ctx),
        "mariadb_servers": [(c.name, c.ip("mgmt"), c.name != host.name) for c in ctls],
        "inter_ms": h.inter_ms, "fall": h.fall, "rise": h.rise,
        "timeout_connect_ms": h.timeout_connect_ms, "timeout_check_ms": h.timeout_check_ms,
        **memcached.haproxy_values(ctx),
    }


def api_values(ctx: Context) -> list[dict[str, object]]:
    """One frontend + backend per declared API that this lab runs: its ports, health path,
    whether its backends serve TLS, and its servers (the component's hosts, addressed on
    the VIP's network; none: the lab does not run it, e.g. Neutron on `control`)."""
    values = []
    for cls in api_components():
        assert cls.api is not None
        nodes = cls().hosts(ctx)
        if nodes:
            values.append({"name": cls.api.name, "public_port": cls.api.public_port,
                           "backend_port": cls.api.backend_port, "health_path": cls.api.health_path,
                           "backend_tls": cls.api.backend_tls,
                           "servers": [(n.name, n.ip(ctx.inv.vip_network)) for n in nodes]})
    return values


def set_server_state(ctx: Context, backend: str, server: str, state: str) -> None:
    """``set server backend/server state ready|drain|maint`` on every running controller's
    haproxy (a rolling restart takes one backend out of every load balancer first)."""
    command = haproxy_stat.command(f"set server {backend}/{server} state {state}")
    for host in ctx.inv.with_role("controller"):
        try:
            ctx.t.run(host.name, ["/bin/sh", "-c", command], check=False, timeout=10)
        except LabError:  # a powered-off controller has no haproxy to tell
            continue


def install_checked(ctx: Context, node: str, path: str, content: str, check: str, *, mode: int = 0o644) -> bool:
    """Install ``content`` at ``path`` only if ``check FILE`` accepts a copy of it; True if changed.

    A rejected config never replaces a working one (a later restart or boot would fail)."""
    if ctx.t.get(node, path) == content:
        return False
    script = (f"f=$(mktemp {path}.check.XXXXXX); cat > \"$f\"; "
              f"{check} \"$f\"; rc=$?; rm -f \"$f\"; exit $rc")
    done = ctx.t.run(node, ["/bin/sh", "-c", script], input=content, check=False)
    if not done.ok:
        raise DeployError(node, f"{ctx.component}: `{check}` rejected the new {path}",
                          (done.stderr + done.stdout).strip() or f"exit {done.returncode}")
    return ctx.put(node, path, content, mode=mode)


def start_or_reload(ctx: Context, node: str, unit: str, changed: bool) -> None:
    """Enable and start ``unit``; reload it (no restart: live sessions and the VIP stay) when
    its configuration changed."""
    active = ctx.t.run(node, ["systemctl", "is-active", "--quiet", unit], check=False).ok
    if not (active and changed):
        ctx.service(node, unit)
        return
    done = ctx.t.run(node, ["systemctl", "reload", unit], check=False, timeout=60)
    if not done.ok:
        raise DeployError(node, f"{ctx.component}: reload {unit}", done.stderr.strip(), ctx.journal(node, unit))
    ctx.changed(f"{node}:reload {unit}")


def public_pem(ctx: Context) -> str:
    """Key + certificate chain haproxy shows on the VIP: the operator's (validated with the
    lab file, ``deployer.public_cert``), else one the lab CA issues for the VIP."""
    tls = ctx.cloud.tls
    if tls.public_cert and tls.public_key:
        return Path(tls.public_key).read_text() + Path(tls.public_cert).read_text()
    key, cert = ctx.ca.issue("vip", dns=[ctx.inv.vip_name], ips=[ctx.inv.vip])
    return key + cert


class HAProxy(Component):
    name = "haproxy"

    def deploy(self, ctx: Context) -> None:
        pem = public_pem(ctx)

        def one(host: Host) -> None:
            self._nonlocal_bind(ctx, host.name)
            changed = ctx.put(host.name, PEM, pem, mode=0o600)
            content = render("haproxy.cfg.j2", **config_values(ctx, host))
            changed |= install_checked(ctx, host.name, CONFIG, content, "haproxy -c -q -f")
            start_or_reload(ctx, host.name, "haproxy", changed)

        ctx.parallel(self.hosts(ctx), one)

    def ready(self, ctx: Context) -> None:
        """Every controller's haproxy answers on its admin socket and lists both proxies."""
        for host in self.hosts(ctx):
            ctx.wait(f"haproxy stats on {host.name}", partial(self._lists_proxies, ctx, host.name),
                     timeout=30, node=host.name, unit="haproxy")

    @staticmethod
    def _lists_proxies(ctx: Context, node: str) -> bool:
        return {b for b, _ in server_states(ctx, node)} >= {"mariadb", *(str(a["name"]) for a in api_values(ctx))}

    @staticmethod
    def _nonlocal_bind(ctx: Context, node: str) -> None:
        """Persist the sysctl (applied at every boot by systemd-sysctl) and apply it now."""
        ctx.put(node, SYSCTL, "# Managed by stacklab: haproxy binds the VIP on every controller.\n"
                              "net.ipv4.ip_nonlocal_bind = 1\n")
        now = ctx.t.run(node, ["sysctl", "-n", "net.ipv4.ip_nonlocal_bind"]).stdout.strip()
        if now != "1":
            ctx.t.run(node, ["sysctl", "-q", "-p", SYSCTL], step="haproxy: apply ip_nonlocal_bind")
            ctx.changed(f"{node}:sysctl net.ipv4.ip_nonlocal_bind=1")
