"""Golden tests of the API-tier templates (haproxy, keepalived, Keystone, clouds.yaml):
each case renders a template with fixed example values and must equal
``tests/unit/data/rendered/<name>`` byte for byte. haproxy and keepalived values come
from the roles' own ``config_values`` on an example inventory, so the tests cover what
the deployer would really pass.

To update after a deliberate template change::

    STACKLAB_UPDATE_GOLDEN=1 pytest tests/unit/test_templates_api.py

then review the diff of the rendered files like any other code change.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.roles import haproxy, keepalived, keystone, memcached
from tests.unit.golden import template_tests

RENDERED = Path(__file__).parent / "data" / "rendered"
UPDATE = os.environ.get("STACKLAB_UPDATE_GOLDEN") == "1"
VRRP_PASS = "EXAMPLEv"  # example only: real values come from ctx.secrets per lab
DB_PASS = "EXAMPLEdbPassword00000000000000"
ADMIN_PASS = "EXAMPLEadminPassword00000000000"


def example_ctx(**cloud: Any) -> Context:
    """What config_values reads (inventory and cloud) for a 3-controller lab 'demo' with
    an extra VIP on a 'provider' network only ctl1 and ctl2 are on."""
    hosts = {f"ctl{i}": Host(f"ctl{i}", ("controller",),
                             {"mgmt": f"10.40.0.{9 + i}/24", **({"provider": f"10.50.0.{9 + i}/24"} if i < 3 else {})})
             for i in (1, 2, 3)}
    hosts["cli1"] = Host("cli1", ("client",), {"mgmt": "10.40.0.13/24"})
    inv = Inventory("demo", hosts, vip="10.40.0.5", vip_prefix=24, extra_vips={"public": ("provider", "10.50.0.5", 24)})
    return cast(Context, SimpleNamespace(inv=inv, cloud=Cloud.model_validate(cloud)))


CTX = example_ctx(haproxy={"inter_ms": 1000, "fall": 2, "rise": 2})
CTX_V3 = example_ctx(keepalived={"advert_int": 0.1, "vrrp_version": 3, "nopreempt": True})
KEYSTONE_DB = {"db_name": "keystone", "db_user": "keystone", "db_host": "10.40.0.0/255.255.255.0",
               "db_password": DB_PASS}

CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "haproxy-ctl2.cfg": ("haproxy.cfg.j2", haproxy.config_values(CTX, CTX.inv.hosts["ctl2"])),
    "keepalived-ctl1-v2.conf": ("keepalived.conf.j2",
                                keepalived.config_values(CTX, CTX.inv.hosts["ctl1"], VRRP_PASS)),
    "keepalived-ctl3-v3.conf": ("keepalived.conf.j2", keepalived.config_values(CTX_V3, CTX_V3.inv.hosts["ctl3"], "")),
    **{f"keystone-{cache}.conf": ("keystone.conf.j2", {
        "lab": "demo", "hostname": "ctl1", "db_user": "keystone", "db_name": "keystone", "db_password": DB_PASS,
        "vip": "10.40.0.5", "token_expiration": 3600,
        **memcached.keystone_cache(example_ctx(keystone={"cache": cache}))})
       for cache in ("vip", "pool", "local", "naive", "off")},
    "memcached-acl.nft": ("memcached-acl.nft.j2", {"port": 11211, "allowed": memcached.allowed_sources(CTX)}),
    "keystone-uwsgi.ini": ("keystone-uwsgi.ini.j2", {"processes": 2, "threads": 4}),
    "keystone-default": ("keystone-default.j2", {"ip": "10.40.0.10", "port": 5001}),
    "keystone-db.sql": ("keystone-db.sql.j2", KEYSTONE_DB),
    "keystone-db-check.sql": ("keystone-db-check.sql.j2", KEYSTONE_DB),
    "keystone-bootstrap-check.sql": ("keystone-bootstrap-check.sql.j2", {
        "db_name": "keystone", "url": "https://api.demo.stacklab:5000/v3", "region": "RegionOne"}),
    "clouds.yaml": ("clouds.yaml.j2", {
        "lab": "demo", "auth_url": "https://api.demo.stacklab:5000/v3", "password": ADMIN_PASS,
        "region": "RegionOne", "cacert": "/usr/local/share/ca-certificates/stacklab-demo.crt"}),
}


TestTemplates = template_tests(CASES)



def test_haproxy_sends_galera_traffic_to_the_local_node_only() -> None:
    for host in CTX.inv.with_role("controller"):
        text = render("haproxy.cfg.j2", **haproxy.config_values(CTX, host))
        active = re.findall(r"^\s+server (\S+) \S+:3306 (?!.*backup)", text, re.M)
        assert active == [host.name]
        assert len(re.findall(r"^\s+server \S+ \S+:5001 check inter 1000ms fall 2 rise 2", text, re.M)) == 3


def test_keepalived_priorities_descend_and_extra_vip_only_where_its_network_is() -> None:
    confs = {h.name: render("keepalived.conf.j2", **keepalived.config_values(CTX, h, VRRP_PASS))
             for h in CTX.inv.with_role("controller")}
    prios = [int(re.findall(r"priority (\d+)", confs[n])[0]) for n in ("ctl1", "ctl2", "ctl3")]
    assert prios == sorted(prios, reverse=True) and len(set(prios)) == 3
    assert "10.50.0.5/24 dev provider0" in confs["ctl1"] and "10.50.0.5/24" not in confs["ctl3"]
    # Same router id for the same VIP on every node, whichever networks a node has.
    assert {re.findall(r"virtual_router_id (\d+)", c)[0] for c in confs.values()} == {"51"}


def test_keepalived_v3_has_subsecond_adverts_and_no_authentication() -> None:
    template, values = CASES["keepalived-ctl3-v3.conf"]
    text = render(template, **values)
    assert "vrrp_version 3" in text and "advert_int 0.1\n" in text
    assert "authentication" not in text and "state BACKUP" in text and "nopreempt" in text


def test_keystone_db_host_is_the_mgmt_network() -> None:
    assert keystone.db_host(CTX) == "10.40.0.0/255.255.255.0"
    assert keystone.auth_url(CTX) == "https://api.demo.stacklab:5000/v3"



def test_memcached_is_shared_only_by_the_settings_that_share_it() -> None:
    """The default lists the VIP only, pool every controller; local and off keep memcached on loopback."""
    shipped = memcached.keystone_cache(CTX)
    assert shipped["cache"] == "vip" and shipped["memcache_servers"] == "10.40.0.5:11211"
    pool = memcached.keystone_cache(example_ctx(keystone={"cache": "pool"}))
    assert pool["memcache_servers"] == "10.40.0.10:11211,10.40.0.11:11211,10.40.0.12:11211"
    assert [memcached.shared(example_ctx(keystone={"cache": c})) for c in ("vip", "pool", "naive", "local", "off")] == [
        True, True, True, False, False]
    assert "cli1" not in str(memcached.allowed_sources(CTX)) and "10.40.0.13" not in memcached.allowed_sources(CTX)


def test_haproxy_sends_every_keystone_to_one_memcached_in_the_same_order_everywhere() -> None:
    """One active server (the last controller's: keepalived prefers the first for the VIP),
    the same backups on every controller,
    sessions cut when the active one changes, and only controllers admitted."""
    listeners = set()
    for host in CTX.inv.with_role("controller"):
        text = render("haproxy.cfg.j2", **haproxy.config_values(CTX, host))
        listeners.add(text[text.index("listen memcached"):])
    (text,) = listeners
    servers = re.findall(r"^\s+server (\S+) (\S+):11211 .*?( backup)?$", text, re.M)
    assert servers == [("ctl3", "10.40.0.12", ""), ("ctl2", "10.40.0.11", " backup"), ("ctl1", "10.40.0.10", " backup")]
    assert text.count("on-marked-down shutdown-sessions on-marked-up shutdown-backup-sessions") == 3
    assert "reject unless { src 10.40.0.10 10.40.0.11 10.40.0.12 10.40.0.5 }" in text
    for cache in ("pool", "local", "naive", "off"):
        ctx = example_ctx(keystone={"cache": cache})
        assert "listen memcached" not in render("haproxy.cfg.j2", **haproxy.config_values(ctx, ctx.inv.hosts["ctl1"]))
