"""Secrets on a deployed lab: the host keeps them 0600 under the lab's own 0700 dir, and
the configs rendered onto a controller hold only this lab's generated secrets, never a
well-known default (the scanner of tests/unit/test_no_default_secrets.py)."""

from __future__ import annotations

import json
import stat

from deployer.roles import galera, haproxy, keepalived
from deployer.roles.keystone import CloudsYaml
from lab import engine
from lab import state as labstate
from tests.unit.test_no_default_secrets import DEFAULTS, secret_values

CONFIGS = ["/etc/keystone/keystone.conf", "/etc/rabbitmq/rabbitmq.conf", galera.CONF, keepalived.CONFIG,
           haproxy.CONFIG, CloudsYaml.NODE_PATH, "/etc/memcached.conf"]


def test_host_secret_files_are_private(control_lab: str) -> None:
    root = labstate.lab_run_dir(control_lab) / "secrets"
    files = [p for p in root.rglob("*") if p.is_file()]
    dirs = [root, *(p for p in root.rglob("*") if p.is_dir())]
    assert files and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
    assert {stat.S_IMODE(p.stat().st_mode) for p in dirs} == {0o700}


def test_rendered_configs_hold_only_this_labs_secrets(control_lab: str) -> None:
    generated = json.loads((labstate.lab_run_dir(control_lab) / "secrets" / "secrets.json").read_text()).values()
    found = 0
    for path in CONFIGS:
        done = engine.run(control_lab, "ctl1", ["cat", path], timeout=30)
        assert done.returncode == 0, (path, done.stderr)
        for value in secret_values(done.stdout):
            found += 1
            assert value.lower() not in DEFAULTS, (path, value)
            assert any(value in secret for secret in generated), f"{path}: a secret the lab did not generate"
    assert found >= 4  # keystone DB, RabbitMQ, Galera SST, clouds.yaml at least
