"""In-node Ceph probe: cluster status over time plus a steady client writing and reading
objects with known checksums, all through one python3-rados connection of the node.

Three threads, each bounded by the run (deadline, sample limit, stop file):

* status, every ``status_interval`` s: ``{"k": "st", "t", "ok", "lat", "health", "pgs":
  {state: count}, "num_pgs", "osds", "up", "quorum", "degraded", "misplaced", "wr_bps",
  "rd_bps", "rec_bps"}``; a mon that does not answer within ``rados_mon_op_timeout``
  (no quorum: ``ceph -s`` would hang) is ``{"k": "st", "ok": false, "err"}``.
* writer, back to back: ``{"k": "w", "t", "seq", "name", "ok", "lat", "bytes", "sha"}``;
  names cycle over ``ring`` objects (``PREFIX-wNNNN``) so the pool stays small. ``ok``
  false means not acknowledged within ``op_timeout``: the object may hold either version.
* reader, back to back: reads the seed objects written before the loop (never
  overwritten) and compares checksums: ``{"k": "r", "t", "ok", "lat", "bytes", "name",
  "bad"}`` (``bad``: read, but not what was written).

The seed objects and their checksums are the ``seeds`` event. Uses only the node's
python3-rados and the standard library.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from typing import Any

from probe_common import Run, error_text  # shipped beside this script


def connect(cfg: dict[str, Any]) -> Any:
    import rados  # python3-rados: the node's Ceph client

    cluster = rados.Rados(conffile="/etc/ceph/ceph.conf", conf={
        "client_mount_timeout": "15", "rados_mon_op_timeout": str(int(cfg["mon_timeout"])),
        "rados_osd_op_timeout": str(int(cfg["op_timeout"]))})
    cluster.connect(timeout=15)
    return cluster


def status_sample(cluster: Any) -> dict[str, Any]:
    ret, out, err = cluster.mon_command(json.dumps({"prefix": "status", "format": "json"}), b"")
    if ret != 0:
        raise RuntimeError(f"status: {ret} {err}")
    s = json.loads(out)
    osd = s.get("osdmap", {})
    osd = osd.get("osdmap", osd)
    pg = s.get("pgmap", {})
    return {"health": s["health"]["status"], "pgs": {p["state_name"]: p["count"] for p in pg.get("pgs_by_state", [])},
            "num_pgs": pg.get("num_pgs", 0), "osds": osd.get("num_osds", 0), "up": osd.get("num_up_osds", 0),
            "quorum": len(s.get("quorum_names", [])), "degraded": pg.get("degraded_objects", 0),
            "misplaced": pg.get("misplaced_objects", 0), "wr_bps": pg.get("write_bytes_sec", 0),
            "rd_bps": pg.get("read_bytes_sec", 0), "rec_bps": pg.get("recovering_bytes_per_sec", 0)}


def watch_status(run: Run, cluster: Any) -> None:
    while run.go():
        t = time.monotonic()
        try:
            run.emit({"k": "st", "t": t, "ok": True, "lat": round(time.monotonic() - t, 4), **status_sample(cluster)})
        except Exception as exc:  # a mon timeout (no quorum) is a sample, not an end
            run.emit({"k": "st", "t": t, "ok": False, "lat": round(time.monotonic() - t, 4),
                      "err": error_text(exc)})
        run.pause(float(run.cfg["status_interval"]))


def write_loop(run: Run, cluster: Any) -> None:
    io, cfg, seq = cluster.open_ioctx(run.cfg["pool"]), run.cfg, 0
    while run.go():
        seq += 1
        name, data = f"{cfg['prefix']}-w{seq % int(cfg['ring']):04d}", os.urandom(int(cfg["size"]))
        t = time.monotonic()
        sample = {"k": "w", "t": t, "seq": seq, "name": name, "bytes": len(data)}
        try:
            io.write_full(name, data)
            run.emit({**sample, "ok": True, "lat": round(time.monotonic() - t, 4),
                      "sha": hashlib.sha256(data).hexdigest()})
        except Exception as exc:  # TimedOut: a blocked PG; the write may or may not have landed
            run.emit({**sample, "ok": False, "lat": round(time.monotonic() - t, 4), "err": error_text(exc)})
        run.pause(float(cfg["write_interval"]))


def read_loop(run: Run, cluster: Any, seeds: dict[str, str]) -> None:
    io, names, i = cluster.open_ioctx(run.cfg["pool"]), sorted(seeds), 0
    while run.go():
        name, i = names[i % len(names)], i + 1
        t = time.monotonic()
        try:
            data = io.read(name, length=int(run.cfg["size"]) + 1)
            run.emit({"k": "r", "t": t, "ok": True, "lat": round(time.monotonic() - t, 4), "bytes": len(data),
                      "name": name, "bad": hashlib.sha256(data).hexdigest() != seeds[name]})
        except Exception as exc:
            run.emit({"k": "r", "t": t, "ok": False, "lat": round(time.monotonic() - t, 4), "name": name,
                      "err": error_text(exc)})
        run.pause(float(run.cfg["read_interval"]))


def write_seeds(run: Run, cluster: Any) -> dict[str, str]:
    """The objects the reader verifies: written once, retried until the deadline."""
    io, seeds = cluster.open_ioctx(run.cfg["pool"]), {}
    for i in range(int(run.cfg["seeds"])):
        name, data = f"{run.cfg['prefix']}-s{i:04d}", os.urandom(int(run.cfg["size"]))
        while run.go():
            try:
                io.write_full(name, data)
                seeds[name] = hashlib.sha256(data).hexdigest()
                break
            except Exception as exc:
                run.event("error", what=f"seed {name}: {error_text(exc)}")
                run.pause(1.0)
    run.event("seeds", objects=seeds)
    return seeds


def main() -> None:
    run = Run()
    try:
        cluster = connect(run.cfg)
    except Exception as exc:
        run.event("error", what=f"connect: {error_text(exc)}")
        run.end()
        return
    try:
        seeds = write_seeds(run, cluster)
        threads = [threading.Thread(target=watch_status, args=(run, cluster), daemon=True),
                   threading.Thread(target=write_loop, args=(run, cluster), daemon=True)]
        if seeds:
            threads.append(threading.Thread(target=read_loop, args=(run, cluster, seeds), daemon=True))
        for th in threads:
            th.start()
        for th in threads:  # each ends at the run's end; a stuck op is bounded by its timeout
            th.join(float(run.cfg["seconds"]) + 2 * float(run.cfg["op_timeout"]))
    finally:
        run.end()
        cluster.shutdown()


if __name__ == "__main__":
    main()
