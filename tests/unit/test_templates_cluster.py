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

import jinja2
import pytest

from deployer.context import render

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
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_template_renders_its_golden_file(name: str) -> None:
    template, values = CASES[name]
    text = render(template, **values)
    golden = RENDERED / name
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert golden.exists(), f"no golden file {golden}: run with STACKLAB_UPDATE_GOLDEN=1 and review it"
    assert text == golden.read_text()


@pytest.mark.parametrize("name", sorted(n for n in CASES if CASES[n][1]))
def test_template_refuses_missing_values(name: str) -> None:
    """StrictUndefined: a value the code forgets to pass is an error, not an empty string."""
    with pytest.raises(jinja2.UndefinedError):
        render(CASES[name][0])


def test_secrets_are_not_in_templates() -> None:
    """Passwords reach configs only as values (ctx.secrets), never as literals."""
    for template, _ in CASES.values():
        source = (Path(__file__).parents[2] / "deployer" / "templates" / template).read_text()
        assert "EXAMPLE" not in source
