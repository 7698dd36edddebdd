"""Names that scenario steps may use: checks, metrics and load targets.

The scenario schema's enums are built from these tables, so adding a check here is
what makes it valid in a file.

>>> METRICS["vip_failover_s"].unit
's'
"""

from __future__ import annotations

from dataclasses import dataclass

from checks.load import TARGETS


@dataclass(frozen=True)
class CheckSpec:
    summary: str
    roles: tuple[str, ...] = ()  # the check only makes sense when some node has one of these roles
    # Run once per healthy step, after the polled checks pass, instead of on every poll:
    # for checks that take seconds or write to the cloud.
    once: bool = False


@dataclass(frozen=True)
class MetricSpec:
    unit: str
    summary: str


CHECKS: dict[str, CheckSpec] = {
    "healthy": CheckSpec("every health check of every deployed role"),
    "services_active": CheckSpec("every role's systemd units active"),
    "vip_single_holder": CheckSpec("the API VIP on exactly one node",
                                   ("controller",)),
    "haproxy_backends_up": CheckSpec("haproxy sees every backend UP",
                                     ("controller",)),
    "galera_synced": CheckSpec("Galera cluster complete, Primary and Synced", ("controller",)),
    "galera_quorum": CheckSpec("the controllers that are up are in a Primary component (quorum held)",
                               ("controller",)),
    "rabbitmq_cluster": CheckSpec("all RabbitMQ members running, no partition", ("controller",)),
    "chrony_synced": CheckSpec("every node within 100 ms of the controllers' clock"),
    "keystone_token": CheckSpec("a token issued through the VIP over TLS and valid on every controller",
                                ("controller",)),
    "keystone_coherent": CheckSpec("an update through any controller's Keystone is read back from every one",
                                   ("controller",), once=True),
    "keystone_disable_enforced": CheckSpec("a disabled project or user gets no token from any controller",
                                           ("controller",), once=True),
    "api_available": CheckSpec("Keystone answers through the VIP",
                               ("controller",)),
    "ceph_health_ok": CheckSpec("HEALTH_OK, OSDs up+in, PGs active+clean, mons in quorum", ("ceph-mon",)),
    "ceph_objects_intact": CheckSpec("every object written by the data check reads back with its checksum",
                                     ("ceph-mon",)),
}

METRICS: dict[str, MetricSpec] = {
    "vip_failover_s": MetricSpec("s", "VIP unreachable from a lab node, first miss to first answer"),
    "api_downtime_s": MetricSpec("s", "first to last failed API request the fault could have touched"),
    "api_mttr_s": MetricSpec("s", "fault to API latency back at its baseline"),
    "api_error_rate": MetricSpec("ratio", "failed API requests / all API requests"),
    "api_latency_p95_s": MetricSpec("s", "95th percentile API latency"),
    "galera_writes_lost": MetricSpec("count", "acknowledged writes missing after heal"),
    "galera_writes_duplicated": MetricSpec("count", "sequence numbers present more than once"),
    "haproxy_detect_s": MetricSpec("s", "fault to haproxy marking the backend DOWN"),
    "rabbit_messages_lost": MetricSpec("count", "published and confirmed messages missing after heal"),
    "ceph_degraded_pgs": MetricSpec("count", "placement groups degraded"),
    "ceph_recovery_s": MetricSpec("s", "heal to all PGs active+clean"),
    "rados_write_mbps": MetricSpec("MB/s", "rados bench write throughput"),
    "rados_read_mbps": MetricSpec("MB/s", "rados bench sequential read throughput"),
}

# A load step's targets are its locustfiles (checks/load); their gates are the load's `sla`, not metrics.
LOAD_TARGETS: dict[str, str] = {name: target.summary for name, target in TARGETS.items()}
