"""The Ceph roles' pure parts: derived keys and fsid, network choice, ceph.conf values,
OSD ids, and the check helpers' parsing (no lab needed)."""

from __future__ import annotations

import base64
import struct
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

from checks.ceph import Health, parse_bench
from deployer.context import Context, render
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.pki import Secrets
from deployer.roles.ceph_common import cephx_key, conf, fsid, mon_hosts, networks
from deployer.roles.ceph_osd import osd_ids, osd_uuid


def example_ctx(tmp: Path, controllers_on_storage: bool, **ceph: Any) -> Context:
    """3 storage nodes (mon+osd) and 2 controllers, with or without a storage link."""
    hosts = {f"stor{i}": Host(f"stor{i}", ("ceph-mon", "ceph-osd"),
                              {"mgmt": f"10.20.0.{20 + i}/24", "storage": f"10.20.3.{20 + i}/24"}) for i in (1, 2, 3)}
    for i in (1, 2):
        storage = {"storage": f"10.20.3.{10 + i}/24"} if controllers_on_storage else {}
        nets = {"mgmt": f"10.20.0.{10 + i}/24"} | storage
        hosts[f"ctl{i}"] = Host(f"ctl{i}", ("controller",), nets)
    inv = Inventory("demo", hosts, vip="10.20.0.5", vip_prefix=24)
    return cast(Context, SimpleNamespace(inv=inv, cloud=Cloud.model_validate({"ceph": ceph}), secrets=Secrets(tmp)))


def test_cephx_key_has_ceph_authtool_layout() -> None:
    raw = base64.b64decode(cephx_key("seed", "client.admin"))
    kind, _sec, _nsec, length = struct.unpack("<HIIH", raw[:12])
    assert (kind, length, len(raw)) == (1, 16, 28)
    assert cephx_key("seed", "client.admin") == cephx_key("seed", "client.admin")
    assert cephx_key("seed", "client.admin") != cephx_key("seed", "mon.")
    assert cephx_key("seed", "mon.") != cephx_key("other", "mon.")


def test_fsid_is_stable_per_lab(tmp_path: Path) -> None:
    ctx = example_ctx(tmp_path, True)
    assert fsid(ctx) == fsid(example_ctx(tmp_path, True))
    assert fsid(ctx) != fsid(example_ctx(tmp_path / "other", True))


def test_public_network_is_storage_only_when_the_clients_have_it(tmp_path: Path) -> None:
    assert networks(example_ctx(tmp_path, True)) == ("storage", "storage")
    assert networks(example_ctx(tmp_path, False)) == ("mgmt", "storage")


def test_mon_count_and_conf(tmp_path: Path) -> None:
    one = example_ctx(tmp_path, False, mons=1, osd_heartbeat_interval=0.4, mon_osd_down_out_interval=12.6)
    assert [h.name for h in mon_hosts(one)] == ["stor1"]
    values = conf(one)
    assert values["public_network"] == "10.20.0.0/24" and values["cluster_network"] == "10.20.3.0/24"
    assert values["heartbeat_interval"] == 1 and values["down_out_interval"] == 13  # whole seconds for Ceph
    text = render("ceph.conf.j2", **values)
    assert "mon_host = [v2:10.20.0.21:3300,v1:10.20.0.21:6789]\n" in text
    assert "osd_memory_target = 939524096" in text and "auth_allow_insecure_global_id_reclaim = false" in text
    three = render("ceph.conf.j2", **conf(example_ctx(tmp_path, False)))
    assert "mon_initial_members = stor1, stor2, stor3" in three


def test_osd_ids_and_uuids_are_fixed_by_position(tmp_path: Path) -> None:
    assert [osd_ids(i, 2) for i in range(3)] == [[0, 1], [2, 3], [4, 5]]
    ctx = example_ctx(tmp_path, True)
    assert osd_uuid(ctx, 0) == osd_uuid(ctx, 0) != osd_uuid(ctx, 1)


def test_bench_parse_and_health_digest() -> None:
    b = parse_bench("seq", "Total time run:       5.0\nBandwidth (MB/sec):   100.5\nAverage IOPS:         25\n"
                           "Average Latency(s):   0.16\nMax latency(s):       0.5\nnoise line\n")
    assert (b.mb_s, b.iops, b.avg_latency_s, b.seconds) == (100.5, 25.0, 0.16, 5.0)
    h = Health("HEALTH_WARN", {}, 3, 2, 3, {"active+undersized+degraded": 30, "active+undersized": 3}, 33, ["stor1"],
               True, 0)
    assert (h.clean, h.degraded_pgs, h.inactive_pgs) == (False, 30, 0)
    peered = Health("HEALTH_WARN", {}, 3, 1, 3, {"undersized+degraded+peered": 33}, 33, ["stor1"], True, 0)
    assert peered.inactive_pgs == 33


def test_services_active_expects_each_ceph_instance(tmp_path: Path) -> None:
    from checks.infra.base import Lab
    from checks.infra.common import expected_units

    ctx = example_ctx(tmp_path, True, mons=1, osds_per_node=2)
    lab = Lab("demo", ctx.inv, {"chrony", "ceph-mon", "ceph-osd"}, ctx.cloud)
    units = expected_units(lab)
    assert ("stor1", "ceph-mon@stor1") in units and ("stor1", "ceph-mgr@stor1") in units
    assert not [u for n, u in units if n != "stor1" and u.startswith(("ceph-mon", "ceph-mgr"))]
    assert [u for n, u in units if n == "stor3" and u.startswith("ceph-osd")] == ["ceph-osd@4", "ceph-osd@5"]
    assert sum(u == "chrony" for _, u in units) == 5

