"""The cloud deployed onto a lab: role options and tenant resources.

Every option has a lab-sized default, so ``cloud: {}`` is a valid cloud; the
values chosen are the ones measured to work on a 2-core machine (see docs/facts.md).

>>> Cloud.model_validate({}).keepalived.advert_int
1.0
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lab.modelbase import Duration, IPv4Addr, IPv4Net, Name, StrictModel


class Keepalived(StrictModel):
    advert_int: float = Field(1.0, ge=0.01, le=255, description="VRRP advertisement interval, seconds")
    vrrp_version: Literal[2, 3] = 2
    nopreempt: bool = True


class HAProxy(StrictModel):
    inter_ms: int = Field(2000, ge=100, le=60000, description="health check interval")
    fall: int = Field(3, ge=1, le=20)
    rise: int = Field(2, ge=1, le=20)
    timeout_connect_ms: int = Field(1000, ge=100, le=60000)
    timeout_check_ms: int = Field(1000, ge=100, le=60000)


class Galera(StrictModel):
    sst: Literal["rsync", "mariabackup"] = "rsync"
    buffer_pool_mib: int = Field(64, ge=16, le=4096)


class RabbitMQ(StrictModel):
    partition_handling: Literal["ignore", "pause_minority", "autoheal"] = "pause_minority"
    queue_type: Literal["quorum", "classic"] = "quorum"


class Keystone(StrictModel):
    processes: int = Field(2, ge=1, le=16)
    token_expiration: Duration = 3600.0
    cache: Literal["vip", "pool", "local", "naive", "off"] = Field(
        "vip", description="vip: one memcached at a time, chosen by haproxy on the API VIP, the others "
        "backups (coherent, the default); pool: one memcached pool over every controller, dead servers "
        "skipped (coherent; stalls while one is dead); local: each Keystone its own memcached (stale reads "
        "across controllers); naive: every controller's memcached with the client's defaults (hangs when "
        "one dies); off: no cache")


class Tls(StrictModel):
    public_cert: str | None = Field(None, description="the operator's PEM certificate chain for the API VIP "
                                    "(leaf first, up to its root), relative to the lab file; default: one "
                                    "from the lab CA")
    public_key: str | None = Field(None, description="its PEM private key (unencrypted), relative to the lab file")
    public_name: str | None = Field(None, pattern=r"^[A-Za-z0-9*]([A-Za-z0-9.-]*[A-Za-z0-9])?$",
                                    description="the API VIP's DNS name (the endpoint URLs and the "
                                    "certificate carry it); default: api.<lab>.stacklab")


class Ceph(StrictModel):
    mons: Literal[1, 3] = Field(3, description="mon+mgr count: the first N ceph-mon nodes (all if fewer)")
    pool_size: int = Field(3, ge=1, le=10)
    min_size: int = Field(2, ge=1, le=10)
    pg_num: int = Field(32, ge=1, le=1024)
    osds_per_node: int = Field(1, ge=1, le=8)
    osd_size_gib: int = Field(4, ge=1, le=64)
    mon_osd_down_out_interval: Duration = 30.0
    osd_heartbeat_interval: Duration = 1.0
    osd_heartbeat_grace: Duration = 5.0


class TenantNetwork(StrictModel):
    name: Name
    type: Literal["vxlan", "vlan", "flat"] = Field("vxlan", description="vxlan (tenant overlay) or flat (the "
                                                   "provider network on the lab's 'public' network); vlan is "
                                                   "refused: this kernel has no 8021q")
    segment: int | None = Field(None, ge=1, le=16777215, description="VNI or VLAN id")
    mtu: int | None = Field(None, ge=576, le=9000)
    external: bool = False


class Subnet(StrictModel):
    name: Name
    network: str
    cidr: IPv4Net
    gateway: IPv4Addr | None = Field(None, description="unset: Neutron's default (the first address) on a tenant "
                                     "subnet, none on an external one")
    dhcp: bool = True
    pool: list[IPv4Addr] | None = Field(None, min_length=2, max_length=2,
                                        description="[first, last] address Neutron may hand out (ports, floating IPs)")


class Router(StrictModel):
    name: Name
    external_network: str | None = None
    subnets: list[str] = Field(default_factory=list)


class Rule(StrictModel):
    direction: Literal["ingress", "egress"] = "ingress"
    protocol: Literal["tcp", "udp", "icmp", "any"] = "tcp"
    port_min: int | None = Field(None, ge=1, le=65535)
    port_max: int | None = Field(None, ge=1, le=65535)
    remote_cidr: IPv4Net | None = None
    remote_group: str | None = None


class SecurityGroup(StrictModel):
    name: Name
    rules: list[Rule] = Field(default_factory=list)


class Instance(StrictModel):
    name: Name
    subnet: str
    compute: str | None = Field(None, description="compute node to place it on; any when unset")
    security_groups: list[str] = Field(default_factory=lambda: ["default"])
    address: IPv4Addr | None = None
    mtu: int | None = Field(None, ge=576, le=9000)


class FloatingIP(StrictModel):
    instance: str = Field(description="the instance, or the load balancer (its VIP port), it points at")
    network: str


class LoadBalancer(StrictModel):
    """A load balancer the way Liberty's neutron-lbaas v1 haproxy namespace driver built one
    (an emulation: see deployer/roles/lbaas.py)."""

    name: Name
    subnet: str
    members: list[str] = Field(min_length=1, description="instances, served on their own 'port'")
    protocol: Literal["tcp", "http"] = "http"
    port: int = Field(80, ge=1, le=65535)
    mtu: int | None = Field(None, ge=576, le=9000, description="the VIP interface's MTU; unset: 1500, as the v1 "
                            "driver left it, whatever the network's MTU")
    security_groups: list[str] = Field(default_factory=lambda: ["default"], description="the VIP port's groups; "
                                       "unset: 'default', as the v1 driver created the port without any")
    host: str | None = Field(None, description="the network node that runs it; unset: the first")
    health_inter_s: int = Field(2, ge=1, le=60, description="health monitor delay (haproxy 'check inter')")
    health_fall: int = Field(2, ge=1, le=10, description="health monitor max_retries (haproxy 'fall')")


class Tenant(StrictModel):
    networks: list[TenantNetwork] = Field(default_factory=list)
    subnets: list[Subnet] = Field(default_factory=list)
    routers: list[Router] = Field(default_factory=list)
    security_groups: list[SecurityGroup] = Field(default_factory=list)
    instances: list[Instance] = Field(default_factory=list)
    floating_ips: list[FloatingIP] = Field(default_factory=list)
    load_balancers: list[LoadBalancer] = Field(default_factory=list)


class Cloud(StrictModel):
    vip: str = Field("api", description="name of the topology VIP that fronts the APIs (on mgmt)")
    keepalived: Keepalived = Keepalived()
    haproxy: HAProxy = HAProxy()
    galera: Galera = Galera()
    rabbitmq: RabbitMQ = RabbitMQ()
    keystone: Keystone = Keystone()
    tls: Tls = Tls()
    ceph: Ceph = Ceph()
    neutron: bool | None = Field(None, description="deploy Neutron (server and agents); unset: when some node "
                                 "has the network or compute role")
    tenant: Tenant = Tenant()
