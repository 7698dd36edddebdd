"""No default or literal password reaches a rendered config: every secret-looking value in
every template's output is one of the secrets the deployer passed in (which come from
``ctx.secrets``, random per lab), and none is a well-known default.

Every template in deployer/templates is rendered through the real render path with
the example values of the golden template tests (and Ceph's through its role helpers
with a real per-lab ``Secrets``); a new template that no case renders fails here.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

from deployer.context import TEMPLATES, Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.pki import CA, Secrets
from deployer.roles.ceph_common import conf, key, keyring
from tests.unit.test_templates_api import CASES as API_CASES
from tests.unit.test_templates_cluster import CASES as CLUSTER_CASES
from tests.unit.test_templates_neutron import CASES as NEUTRON_CASES

DEFAULTS = {"guest", "password", "passw0rd", "admin", "secret", "changeme", "openstack", "stack", "root",
            "toor", "test", "default", "keystone", "rabbit", "rabbitmq", "mysql", "galera", "123456", "qwerty"}
_SECRET_VALUES = [
    re.compile(r"(?im)^\s*[\w.-]*(?:pass|passwd|password|secret)\s*[=:]\s*(\S+)"),  # ini, yaml, keepalived
    re.compile(r"(?im)^\s*wsrep_sst_auth\s*=\s*[^:\s]+:(\S+)"),
    re.compile(r"IDENTIFIED BY '([^']*)'|PASSWORD\('([^']*)'\)"),  # SQL
    re.compile(r"://[^:/@\s]+:([^@\s]+)@"),  # user:password@ in URLs
    re.compile(r"(?im)^\s*key\s*=\s*(\S+)"),  # Ceph keyrings
]
_SECRET_KEY = re.compile(r"pass|secret|key", re.I)


def secret_values(text: str) -> list[str]:
    """Every value in ``text`` that sits where a password or key goes.

    >>> secret_values("default_pass = guest\\nconnection = mysql+pymysql://root:pw1@h/db\\n")
    ['guest', 'pw1']
    """
    found = [v for pattern in _SECRET_VALUES for m in pattern.finditer(text) for v in m.groups() if v]
    return sorted(found, key=text.index)


def ceph_renders(tmp: Path) -> dict[str, tuple[str, set[str]]]:
    """Ceph's templates through its role helpers: (text, the lab's secrets)."""
    hosts = {f"stor{i}": Host(f"stor{i}", ("ceph-mon", "ceph-osd"), {"mgmt": f"10.20.0.{20 + i}/24"})
             for i in (1, 2, 3)}
    secrets = Secrets(tmp / "secrets")
    ctx = cast(Context, SimpleNamespace(inv=Inventory("demo", hosts, vip="10.20.0.5", vip_prefix=24),
                                        cloud=Cloud.model_validate({}), secrets=secrets))
    entities = {"client.admin": {"mon": "allow *"}, "mon.": {"mon": "allow *"}}
    return {"ceph.conf.j2": (render("ceph.conf.j2", **conf(ctx)), set()),
            "ceph.keyring.j2": (keyring(ctx, entities), {key(ctx, e) for e in entities})}


def other_renders(tmp: Path) -> dict[str, tuple[str, set[str]]]:
    """Templates without a golden case, rendered with what their role passes."""
    return {"memcached.conf.j2": (render("memcached.conf.j2", listen="10.40.0.10", memory_mib=64), set()),
            **ceph_renders(tmp)}


def inputs(values: dict[str, Any]) -> set[str]:
    """The secrets a case passes in: string values under password/secret/key-like names."""
    return {v for k, v in values.items() if isinstance(v, str) and _SECRET_KEY.search(k)}


def all_renders(tmp: Path) -> dict[str, tuple[str, set[str]]]:
    cases = {**API_CASES, **CLUSTER_CASES, **NEUTRON_CASES}
    out = {name: (render(template, **values), inputs(values)) for name, (template, values) in cases.items()}
    return out | other_renders(tmp)


def test_every_template_is_rendered_here(tmp_path: Path) -> None:
    rendered = {t for t, _ in {**API_CASES, **CLUSTER_CASES, **NEUTRON_CASES}.values()} | set(other_renders(tmp_path))
    assert {p.name for p in TEMPLATES.glob("*.j2")} - rendered == set()


@pytest.mark.parametrize("name", sorted({*API_CASES, *CLUSTER_CASES, *NEUTRON_CASES, "ceph.conf.j2", "ceph.keyring.j2",
                                         "memcached.conf.j2"}))
def test_secrets_come_only_from_the_lab(name: str, tmp_path: Path) -> None:
    text, passed = all_renders(tmp_path)[name]
    values = secret_values(text)
    assert [v for v in values if v.lower().strip("'\"") in DEFAULTS] == []
    assert [v for v in values if v not in passed] == [], f"{name}: a secret that the deployer did not pass"


def test_the_scanner_finds_defaults() -> None:
    sample = "default_pass = guest\nwsrep_sst_auth = sst:changeme\nCREATE USER 'a' IDENTIFIED BY 'admin';\n"
    assert secret_values(sample) == ["guest", "changeme", "admin"]


def test_lab_secrets_are_private_and_per_lab(tmp_path: Path) -> None:
    """Each lab's secrets live in its own 0700 dir, every file 0600, and differ per lab."""
    made = {}
    for lab in ("one", "two"):
        secrets = Secrets(tmp_path / lab / "secrets")
        made[lab] = (secrets.password("db_root"), secrets.fernet_key("fernet_0"))
        CA(tmp_path / lab / "secrets" / "pki", lab).issue("vip", dns=[f"api.{lab}"], ips=["10.0.0.5"])
        files = [p for p in (tmp_path / lab / "secrets").rglob("*") if p.is_file()]
        assert len(files) == 5 and {stat.S_IMODE(p.stat().st_mode) for p in files} == {0o600}
        assert stat.S_IMODE((tmp_path / lab / "secrets").stat().st_mode) == 0o700
    assert made["one"][0] != made["two"][0] and made["one"][1] != made["two"][1]
