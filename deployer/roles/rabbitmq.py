"""RabbitMQ on the controllers: one cluster rabbit@ctl1..N, user ``openstack``, no guest.

Order: the per-lab Erlang cookie goes in BEFORE the first start (the image bakes one:
every lab would share it), then every node starts on its own (in parallel), then
ctl2..N join the first running node one at a time (``stop_app; join_cluster; start_app``)
unless already members, then the user and the queue policy (cluster-wide, set once).

Queue types (``cloud.rabbitmq.queue_type``):
- ``classic``: policy ``ha-all`` mirrors every non-``amq.*`` queue on all nodes.
- ``quorum``: there is no policy for it; the queue type is chosen by the client that
  declares the queue (``x-queue-type: quorum``; oslo.messaging:
  ``[oslo_messaging_rabbit] rabbit_quorum_queue = true``). RabbitMQ 3.10 has no
  per-vhost default queue type yet (3.11+), so the deployer only removes ``ha-all``.

``rabbitmqctl`` runs as ``runuser -u rabbitmq -- timeout -s KILL N rabbitmqctl``: with
``timeout`` outside ``runuser`` a timed-out call leaks its Erlang VM (docs/facts.md).
"""

from __future__ import annotations

import json
from typing import Any

from deployer.context import Context
from deployer.inventory import Host
from deployer.roles.base import Component
from deployer.transport import Result

COOKIE = "/var/lib/rabbitmq/.erlang.cookie"
USER = "openstack"
HA_POLICY = ("ha-all", r"^(?!amq\.).*", {"ha-mode": "all", "ha-sync-mode": "automatic"})
MEMORY_HIGH_WATERMARK_MIB = 384  # an idle lab node uses ≈ 100 MiB; publishers block above this
NET_TICKTIME = 10  # seconds: dead peers seen in 7.5–12.5 s instead of 45–75 s; below 10 risks false partitions
READY_TIMEOUT = 90.0


def nodename(host: Host) -> str:
    return f"rabbit@{host.name}"


def ctl(ctx: Context, node: str, *args: str, seconds: int = 6, check: bool = True, input: str | None = None) -> Result:
    """``rabbitmqctl ARGS`` on ``node``, killed after ``seconds`` without leaking its VM."""
    argv = ["runuser", "-u", "rabbitmq", "--", "timeout", "-s", "KILL", str(seconds),
            "/usr/lib/rabbitmq/bin/rabbitmqctl", *args]
    return ctx.t.run(node, argv, check=check, input=input, timeout=seconds + 10, step=f"rabbitmqctl {args[0]}")


def ctl_json(ctx: Context, node: str, *args: str, seconds: int = 6) -> Any:
    """A rabbitmqctl answer as JSON; None when the node does not answer."""
    done = ctl(ctx, node, *args, "--formatter", "json", seconds=seconds, check=False)
    try:
        return json.loads(done.stdout) if done.ok else None
    except json.JSONDecodeError:
        return None


DROPIN = "/etc/systemd/system/rabbitmq-server.service.d/stacklab.conf"
# Seen in CI: a member powered off and on hung in its boot-time start for the unit's full
# 600 s (peers already declared it down), while a second start took 6 s. Fail fast and let
# the unit's Restart=on-failure (RestartSec=10) try again.
DROPIN_TEXT = """# Managed by stacklab: a hung first start is retried instead of waited out.
[Service]
TimeoutStartSec=75
"""

class RabbitMQ(Component):
    name = "rabbitmq"

    def deploy(self, ctx: Context) -> None:
        ctls = self.hosts(ctx)
        changed: dict[str, bool] = {}
        secrets = self.secrets(ctx)  # read once for every node
        ctx.parallel(ctls, lambda h: changed.__setitem__(h.name, self.configure(ctx, h, secrets)))
        active: dict[str, bool] = {}
        ctx.parallel(ctls, lambda h: active.__setitem__(h.name, ctx.t.run(
            h.name, ["systemctl", "is-active", "--quiet", "rabbitmq-server"], check=False).ok))
        running = {name for name, ok in active.items() if ok}
        # Stopped nodes start together (a clustered node waits for its peers at boot);
        # running nodes whose config changed restart one at a time (the cluster stays up).
        ctx.parallel([h for h in ctls if h.name not in running], lambda h: self.start(ctx, h, False))
        for host in ctls:
            if host.name in running and changed[host.name]:
                self.start(ctx, host, True)
        seed = ctls[0]
        status = self.seed_status(ctx, seed)
        members = set(status.get("disk_nodes", []) + status.get("ram_nodes", []))
        for host in ctls[1:]:  # one at a time: two nodes joining at once race on the schema
            if nodename(host) not in members:
                self.join(ctx, host, seed)
        # independent of each other, and each is a few rabbitmqctl VMs long: side by side
        ctx.parallel([self.ensure_user, self.ensure_policy], lambda ensure: ensure(ctx, seed))

    @staticmethod
    def seed_status(ctx: Context, seed: Host) -> Any:
        """The seed's ``cluster_status``, polled: a node just powered on (a re-deploy after a
        fault's heal) is active in systemd while its rabbit app still boots, and one
        rabbitmqctl VM on a busy 2-core host can take longer than its 6 s."""
        status: Any = None

        def answers() -> bool:
            nonlocal status
            status = ctl_json(ctx, seed.name, "cluster_status", seconds=15)
            return status is not None

        ctx.wait(f"RabbitMQ on {seed.name} to answer cluster_status", answers, timeout=READY_TIMEOUT,
                 node=seed.name, unit="rabbitmq-server", interval=2)
        return status

    @staticmethod
    def secrets(ctx: Context) -> dict[str, str]:
        return {"cookie": ctx.secrets.password("erlang_cookie"), "user": ctx.secrets.password("rabbit_openstack")}

    def configure(self, ctx: Context, host: Host, secrets: dict[str, str]) -> bool:
        """Cookie, env and config of one node; True if any changed."""
        values: dict[str, Any] = {"lab": ctx.inv.lab, "nodename": nodename(host), "ip": host.ip("mgmt")}
        changed = ctx.put(host.name, COOKIE, secrets["cookie"], mode=0o400, owner="rabbitmq:rabbitmq")
        changed |= ctx.template(host.name, "/etc/rabbitmq/rabbitmq-env.conf", "rabbitmq-env.conf.j2", **values)
        changed |= ctx.template(host.name, "/etc/rabbitmq/rabbitmq.conf", "rabbitmq.conf.j2", mode=0o640,
                                owner="root:rabbitmq", **values,
                                partition_handling=ctx.cloud.rabbitmq.partition_handling,
                                memory_high_watermark_mib=MEMORY_HIGH_WATERMARK_MIB, net_ticktime=NET_TICKTIME,
                                user=USER, password=secrets["user"])
        if ctx.put(host.name, DROPIN, DROPIN_TEXT):
            ctx.t.run(host.name, ["systemctl", "daemon-reload"], step="rabbitmq: daemon-reload")
            changed = True
        return changed

    def start(self, ctx: Context, host: Host, restart: bool) -> None:
        # Type=notify: systemd returns once the rabbit app has booted (clustered nodes: once
        # their peers' tables are synced), so there is nothing else to wait for here.
        ctx.service(host.name, "rabbitmq-server", restart=restart)

    def join(self, ctx: Context, host: Host, seed: Host) -> None:
        """Join ``host`` to the seed's cluster (join_cluster resets the node first)."""
        ctl(ctx, host.name, "stop_app", seconds=30)
        ctl(ctx, host.name, "join_cluster", nodename(seed), seconds=60)
        ctl(ctx, host.name, "start_app", seconds=60)
        ctx.changed(f"{host.name}:join {nodename(seed)}")

    def ensure_user(self, ctx: Context, node: Host) -> None:
        """User ``openstack`` with the lab's password and full rights on /; no guest."""
        users = {u["user"] for u in ctl_json(ctx, node.name, "list_users") or []}
        password = ctx.secrets.password("rabbit_openstack")
        if USER not in users:  # the password goes on stdin, not into argv
            ctl(ctx, node.name, "add_user", USER, input=password)
            ctx.changed(f"{node.name}:rabbitmq user {USER}")
        elif not ctl(ctx, node.name, "authenticate_user", USER, input=password, check=False).ok:
            ctl(ctx, node.name, "change_password", USER, input=password)
            ctx.changed(f"{node.name}:rabbitmq password of {USER}")
        perms = ctl_json(ctx, node.name, "list_user_permissions", USER) or []
        if not any(p.get("vhost") == "/" and (p["configure"], p["write"], p["read"]) == (".*", ".*", ".*")
                   for p in perms):
            ctl(ctx, node.name, "set_permissions", "-p", "/", USER, ".*", ".*", ".*")
            ctx.changed(f"{node.name}:rabbitmq permissions of {USER}")
        if "guest" in users:
            ctl(ctx, node.name, "delete_user", "guest")
            ctx.changed(f"{node.name}:rabbitmq guest removed")

    def ensure_policy(self, ctx: Context, node: Host) -> None:
        """Mirroring for classic queues; none for quorum queues (see the module doc)."""
        name, pattern, definition = HA_POLICY
        have = {p["name"]: p for p in ctl_json(ctx, node.name, "list_policies") or []}
        if ctx.cloud.rabbitmq.queue_type == "classic":
            current = have.get(name)
            if current and current["pattern"] == pattern and _definition(current) == definition:
                return
            ctl(ctx, node.name, "set_policy", "--apply-to", "queues", name, pattern, json.dumps(definition))
            ctx.changed(f"{node.name}:rabbitmq policy {name}")
        elif name in have:
            ctl(ctx, node.name, "clear_policy", name)
            ctx.changed(f"{node.name}:rabbitmq policy {name} removed")

    def ready(self, ctx: Context) -> None:
        """Every node sees every node running and no partition."""
        ctls = self.hosts(ctx)
        want = {nodename(h) for h in ctls}

        def one(host: Host) -> None:
            def clustered() -> bool:
                status = ctl_json(ctx, host.name, "cluster_status")
                return bool(status) and want <= set(status.get("running_nodes", [])) and not status.get("partitions")

            ctx.wait(f"{host.name} to see {len(want)} running RabbitMQ nodes and no partition", clustered,
                     timeout=READY_TIMEOUT, node=host.name, unit="rabbitmq-server")

        ctx.parallel(ctls, one)


def _definition(policy: dict[str, Any]) -> Any:
    """A listed policy's definition (rabbitmqctl gives it as a JSON string)."""
    value = policy.get("definition")
    return json.loads(value) if isinstance(value, str) else value
