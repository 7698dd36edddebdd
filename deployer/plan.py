"""The order of a deploy, the OCI way: time first, then storage, then the control plane,
then computes and network nodes. Components are named here and imported lazily.

>>> [s.name for s in STAGES]
['base', 'ceph-mon', 'ceph-osd', 'controller', 'compute', 'finish']
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from deployer.roles.base import Component


@dataclass(frozen=True)
class Stage:
    name: str
    components: tuple[str, ...]  # keys of COMPONENTS, in order


# name -> "module:Class"
COMPONENTS: dict[str, str] = {
    "chrony": "deployer.roles.chrony:Chrony",
    "memcached": "deployer.roles.memcached:Memcached",
    "galera": "deployer.roles.galera:Galera",
    "garbd": "deployer.roles.galera:Arbitrator",
    "rabbitmq": "deployer.roles.rabbitmq:RabbitMQ",
    "haproxy": "deployer.roles.haproxy:HAProxy",
    "keepalived": "deployer.roles.keepalived:Keepalived",
    "keystone": "deployer.roles.keystone:Keystone",
    "clouds": "deployer.roles.keystone:CloudsYaml",
    "ceph-mon": "deployer.roles.ceph:CephMon",
    "ceph-osd": "deployer.roles.ceph_osd:CephOsd",
    "ceph-client": "deployer.roles.ceph:CephClient",
}

STAGES: tuple[Stage, ...] = (
    Stage("base", ("chrony",)),
    Stage("ceph-mon", ("ceph-mon",)),
    Stage("ceph-osd", ("ceph-osd",)),
    Stage("controller", ("memcached", "galera", "garbd", "rabbitmq", "haproxy", "keepalived", "keystone")),
    Stage("compute", ()),
    Stage("finish", ("clouds", "ceph-client")),
)

# Roles whose components are not written yet: the deploy says so instead of pretending.
PENDING_ROLES = {"compute": "compute nodes",
                 "network": "network nodes"}


def component(name: str) -> Component:
    module, cls = COMPONENTS[name].split(":")
    obj: Component = getattr(importlib.import_module(module), cls)()
    return obj
