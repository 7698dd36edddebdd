"""Checks of the Ceph storage roles: cluster health and data integrity.

Both ask from a node with the admin keyring (a controller, else a mon: see
``checks.ceph.client_nodes``). The data check keeps its manifest of objects and
checksums in the lab's run dir: the first run writes the objects, every later run
(after a fault, after heal) reads them all back and compares.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from checks.registry import Verdict, check
from lab import state as labstate
from lab.errors import LabError

if TYPE_CHECKING:
    from checks.infra.base import Lab

DATA_OBJECTS = 32
MANIFEST = "ceph-objects.json"


@check("ceph_health_ok", "HEALTH_OK, OSDs up+in, PGs active+clean, mons in quorum",
       roles=("ceph-mon",), needs="ceph-mon")
def ceph_health_ok(lab: Lab, v: Verdict) -> None:
    """HEALTH_OK, every OSD up and in, every PG active+clean, every mon in quorum, every
    mgr registered (a dead standby mgr raises no health warning)."""
    from checks import ceph  # here: check modules stay cheap to import (validate)

    try:
        h = ceph.health(lab)
    except LabError as exc:
        v.fail(f"ceph status: {exc}")
        return
    want_osds, want_mons = ceph.expected_osds(lab), ceph.expected_mons(lab)
    v.figures.update({"health": h.status, "osds": h.osds, "osds_up": h.up, "osds_in": h.in_, "pgs": h.num_pgs,
                      "pgs_active_clean": h.pgs.get("active+clean", 0), "ceph_degraded_pgs": h.degraded_pgs,
                      "mons_in_quorum": len(h.quorum), "mgr_standbys": h.mgr_standbys})
    if h.status != "HEALTH_OK":
        v.fail(f"{h.status}: " + "; ".join(f"{code}: {msg}" for code, msg in sorted(h.checks.items())))
    if not h.osds == h.up == h.in_ == want_osds:
        v.fail(f"OSDs {h.up} up, {h.in_} in of {h.osds} (expected {want_osds})")
    if not h.clean:
        v.fail(f"PGs not all active+clean: {h.pgs}")
    if not h.mgr_available or h.mgr_standbys != len(want_mons) - 1:
        v.fail(f"mgrs: {'one' if h.mgr_available else 'no'} active, {h.mgr_standbys} standby "
               f"(expected one active, {len(want_mons) - 1} standby)")
    if sorted(h.quorum) != sorted(want_mons):
        missing = sorted(set(want_mons) - set(h.quorum))
        v.fail(f"mons in quorum {h.quorum}, missing {missing}")


def manifest_path(lab: Lab) -> Any:
    return labstate.lab_run_dir(lab.name) / MANIFEST


@check("ceph_objects_intact", "every object written by the data check reads back with its checksum",
       roles=("ceph-mon",), needs="ceph-osd")
def ceph_objects_intact(lab: Lab, v: Verdict) -> None:
    """Every object the data check wrote (on its first run) reads back with its checksum."""
    from checks import ceph

    path = manifest_path(lab)
    try:
        if not path.exists():
            manifest = ceph.write_objects(lab, DATA_OBJECTS, prefix="stacklab-check")
            path.write_text(json.dumps(manifest))
            v.figures["written"] = len(manifest["objects"])
        manifest = json.loads(path.read_text())
        result = ceph.read_back(lab, manifest)
    except LabError as exc:
        v.fail(f"rados: {exc}")
        return
    v.figures.update({"objects": result.checked, "read_s": result.seconds, "missing": len(result.missing),
                      "mismatched": len(result.mismatched)})
    for name in result.missing:
        v.fail(f"{name}: unreadable ({result.errors.get(name, 'no answer')})")
    for name in result.mismatched:
        v.fail(f"{name}: checksum differs from the one written")
