"""What the deployer can install: roles, the services they run and the packages they need.

This is data, not code: the scenario schema, the image builder (which takes a plain
package list and knows no role names) and the validator all read it; the components
that deploy each role are named in ``deployer.plan``.

>>> ROLES["compute"].networks
('mgmt', 'overlay')
>>> "keepalived" in SERVICES
True
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Service:
    """A systemd unit on a node, as scenarios name it (``stop_service keystone``)."""

    unit: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class RoleSpec:
    summary: str
    networks: tuple[str, ...]
    services: tuple[str, ...]
    tools: tuple[str, ...] = ()  # packages with no service of their own (clients run on the role's nodes)


SERVICES: dict[str, Service] = {
    "chrony": Service("chrony.service", ("chrony",)),
    "keepalived": Service("keepalived.service", ("keepalived",)),
    "haproxy": Service("haproxy.service", ("haproxy",)),
    "mariadb": Service("mariadb.service", ("mariadb-server", "mariadb-client", "galera-4", "rsync")),
    "garbd": Service("garb.service", ("galera-arbitrator-4",)),
    "rabbitmq": Service("rabbitmq-server.service", ("rabbitmq-server",)),
    "memcached": Service("memcached.service", ("memcached",)),
    "keystone": Service(
        "keystone.service", ("keystone", "python3-pymemcache", "python3-pymysql", "python3-openstackclient")
    ),
    "ceph-mon": Service("ceph-mon@*.service", ("ceph-mon", "ceph-common")),
    "ceph-mgr": Service("ceph-mgr@*.service", ("ceph-mgr",)),
    "ceph-osd": Service("ceph-osd@*.service", ("ceph-osd",)),
    # Neutron (Zed): the monolithic server (API + RPC + the plugin's periodic workers in one
    # unit the deployer writes; Debian's neutron-api/neutron-rpc-server split leaves the
    # workers unrun) and the linuxbridge/L3/DHCP agents. ipset: the iptables firewall's
    # remote-group sets.
    "neutron-server": Service("neutron-server.service", ("neutron-server",)),
    "neutron-linuxbridge-agent": Service("neutron-linuxbridge-agent.service",
                                         ("neutron-linuxbridge-agent", "ipset")),
    "neutron-l3-agent": Service("neutron-l3-agent.service", ("neutron-l3-agent",)),
    "neutron-dhcp-agent": Service("neutron-dhcp-agent.service", ("neutron-dhcp-agent",)),
    # The management network's DHCP/DNS server (role infra); the image keeps it disabled,
    # so Neutron's DHCP agent (its own dnsmasq processes in namespaces) is unaffected.
    "dnsmasq": Service("dnsmasq.service", ("dnsmasq",)),
}

ROLES: dict[str, RoleSpec] = {
    "controller": RoleSpec(
        "HA control plane: keepalived VIP, haproxy, Galera, RabbitMQ, memcached, Keystone, chrony server",
        ("mgmt",),
        ("chrony", "keepalived", "haproxy", "mariadb", "rabbitmq", "memcached", "keystone", "neutron-server"),
    ),
    "compute": RoleSpec("hypervisor with VXLAN tenant overlay and instances (network namespaces on real "
                        "Neutron ports)", ("mgmt", "overlay"), ("chrony", "neutron-linuxbridge-agent"),
                        # dhclient: an instance's DHCP client; iperf3: throughput between instances
                        tools=("isc-dhcp-client", "iperf3")),
    "network": RoleSpec("network node: tenant routers (L3 HA), DHCP, floating IPs", ("mgmt", "overlay"),
                        ("chrony", "neutron-linuxbridge-agent", "neutron-l3-agent", "neutron-dhcp-agent")),
    "ceph-mon": RoleSpec("Ceph monitor and manager", ("mgmt",), ("chrony", "ceph-mon", "ceph-mgr")),
    "ceph-osd": RoleSpec("Ceph OSDs on file-backed BlueStore", ("mgmt",), ("chrony", "ceph-osd")),
    "galera-arbitrator": RoleSpec("garbd: a Galera vote without data, for 2-controller clusters", ("mgmt",),
                                  ("chrony", "garbd")),
    "infra": RoleSpec("management services, as the controller of a lab on the cheap runs them: DHCP with "
                      "static leases by MAC and DNS for the lab's names (dnsmasq) on its networks with dhcp: true",
                      ("mgmt",), ("chrony", "dnsmasq")),
    "client": RoleSpec("a plain node playing the outside world: probes, load and conformance tests run here",
                       ("mgmt",), ("chrony",),
                       # tempest: the upstream API conformance suite; locust: load generator
                       tools=("tempest", "python3-locust")),
}

# Packages every node gets on top of the lab's own baseline (tools the checks use).
COMMON_PACKAGES = ("chrony", "python3-openstackclient", "ceph-common", "faketime", "socat", "netcat-openbsd",
                   "python3-scapy",  # scapy: the packet probes run in nodes (checks/probes/net_paths.py, sg_scan.py)
                   "nmap")  # the yardstick the security-group scanner is benched against (tests/bench/bench_net.py)


def image_packages() -> list[str]:
    """Every Debian package any role needs: one image serves every node."""
    pkgs = set(COMMON_PACKAGES)
    for svc in SERVICES.values():
        pkgs.update(svc.packages)
    for role in ROLES.values():
        pkgs.update(role.tools)
    return sorted(pkgs)
