"""Golden tests of the cluster templates (chrony, Galera, garbd, RabbitMQ): each case
renders a template with fixed example values and must equal
``tests/unit/data/rendered/<name>`` byte for byte.

To update after a deliberate template change::

    STACKLAB_UPDATE_GOLDEN=1 pytest tests/unit/test_templates_cluster.py

then review the diff of the rendered files like any other code change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.unit.golden import template_tests

RENDERED = Path(__file__).parent / "data" / "rendered"
UPDATE = os.environ.get("STACKLAB_UPDATE_GOLDEN") == "1"

# Example values only: real passwords come from ctx.secrets per lab.
ACCOUNTS: dict[str, Any] = {
    "lab": "demo", "app_db": "stacklab", "app_user": "stacklab", "app_host": "10.40.0.0/255.255.255.0",
    "app_password": "EXAMPLEappPassword0000000000000", "check_user": "haproxy",
    "check_hosts": ["10.40.0.10", "10.40.0.11", "10.40.0.12", "10.40.0.5"], "sst_user": "sst",
    "sst_password": "EXAMPLEsstPassword0000000000000",
}
RABBIT: dict[str, Any] = {"lab": "demo", "nodename": "rabbit@ctl2", "ip": "10.40.0.11"}

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "chrony-server.conf": ("chrony.conf.j2", {
        "lab": "demo", "serve": True, "allow": "10.40.0.0/24",
        "servers": [{"name": "ctl2", "ip": "10.40.0.11"}, {"name": "ctl3", "ip": "10.40.0.12"}]}),
    "chrony-client.conf": ("chrony.conf.j2", {
        "lab": "demo", "serve": False, "allow": "10.40.0.0/24",
        "servers": [{"name": f"ctl{i}", "ip": f"10.40.0.{9 + i}"} for i in (1, 2, 3)]}),
    "chrony-default": ("chrony-default.j2", {}),
    "chrony-container.conf": ("chrony-container.conf.j2", {}),
    "galera.cnf": ("galera.cnf.j2", {
        "lab": "demo", "node_name": "ctl2", "ip": "10.40.0.11", "cluster_name": "stacklab-demo",
        "members": ["10.40.0.10", "10.40.0.11", "10.40.0.12"], "sst": "rsync", "buffer_pool_mib": 64,
        "sst_user": "sst", "sst_password": "EXAMPLEsstPassword0000000000000"}),
    "galera-accounts.sql": ("galera-accounts.sql.j2", ACCOUNTS),
    "galera-accounts-check.sql": ("galera-accounts-check.sql.j2", ACCOUNTS),
    "garb": ("garb.j2", {
        "lab": "demo", "nodes": ["10.40.0.10:4567", "10.40.0.11:4567"], "group": "stacklab-demo",
        "ip": "10.40.0.12", "work_dir": "/var/lib/garbd"}),
    "rabbitmq-env.conf": ("rabbitmq-env.conf.j2", RABBIT),
    "rabbitmq.conf": ("rabbitmq.conf.j2", {
        **RABBIT, "partition_handling": "pause_minority", "memory_high_watermark_mib": 384, "net_ticktime": 10,
        "user": "openstack", "password": "EXAMPLErabbitPassword00000000000"}),
    "dnsmasq.conf": ("dnsmasq.conf.j2", {
        "lab": "demo", "hosts": "/etc/stacklab/dnsmasq.hosts", "interfaces": ["mgmt0"],
        "ranges": [("10.60.0.0", "255.255.255.0")], "lease_s": 3600, "ntp": "10.60.0.10",
        "leases": [("be:ef:00:00:00:01", "10.60.0.11", "cmp1"), ("be:ef:00:00:00:02", "10.60.0.12", "cmp2")]}),
    "networkd-dhcp.network": ("networkd-dhcp.network.j2", {"ifname": "mgmt0"}),
    "networkd-stacklab.conf": ("networkd-stacklab.conf.j2", {}),
}


TestTemplates = template_tests(CASES)
