"""Ceph as checks, tests, benches and scenarios see it: status, data written with known
checksums and read back, bounded waits and a "writes blocked" detector that never hangs.

Everything runs inside a lab node that has the admin keyring: a controller when the
``ceph-client`` component is deployed, else a mon node; a node that is powered off or
frozen is skipped. Object I/O uses python3-rados in the node with explicit op
timeouts, so a cluster that cannot serve I/O gives an answer, not a hang.

Example::

    h = health("storage")                    # Health(status='HEALTH_OK', ...)
    manifest = write_objects("storage", 32)  # {"pool": ..., "objects": {name: sha256}}
    read_back("storage", manifest).intact    # True
    wait_for_health("storage", lambda h: h.clean, timeout=120, what="active+clean")
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.infra.base import Lab, open_lab
from deployer.deploy import deployed_cloud
from lab import engine
from lab.errors import LabError

POOL = "stacklab"  # deployer.roles.ceph_pool.POOL: the test pool
CEPH = "ceph --connect-timeout 10"
Where = Lab | engine.LabRef  # a checks Lab, or a lab (name or open) turned into one on use


@dataclass
class Health:
    """A digest of ``ceph status``."""

    status: str
    checks: dict[str, str]  # health check code -> message
    osds: int
    up: int
    in_: int
    pgs: dict[str, int]  # PG state -> count
    num_pgs: int
    quorum: list[str]
    mgr_available: bool
    mgr_standbys: int
    raw: dict[str, Any] = field(repr=False, default_factory=dict)

    @property
    def clean(self) -> bool:
        """Every PG active+clean."""
        return self.num_pgs > 0 and self.pgs.get("active+clean", 0) == self.num_pgs

    @property
    def recovered(self) -> bool:
        """Every PG active+clean and every OSD up and in: the cluster as before a fault."""
        return self.clean and self.up == self.osds == self.in_

    @property
    def degraded_pgs(self) -> int:
        return sum(n for state, n in self.pgs.items() if "degraded" in state)

    @property
    def inactive_pgs(self) -> int:
        return sum(n for state, n in self.pgs.items() if "active" not in state.split("+"))


def as_lab(where: Where) -> Lab:
    return where if isinstance(where, Lab) else open_lab(where)


def expected_mons(lab: Lab) -> list[str]:
    """The nodes running a mon+mgr: the first ``cloud.ceph.mons`` ceph-mon nodes."""
    cloud = deployed_cloud(lab.name)
    return lab.inv.names("ceph-mon")[: cloud.ceph.mons if cloud else 3]


def client_nodes(lab: Lab) -> list[str]:
    """Nodes with the admin keyring, best first: controllers (ceph-client), then the mons."""
    return (lab.controllers() if "ceph-client" in lab.deployed else []) + expected_mons(lab)


def expected_osds(lab: Lab) -> int:
    cloud = deployed_cloud(lab.name)
    return len(lab.inv.names("ceph-osd")) * (cloud.ceph.osds_per_node if cloud else 1)


def run(where: Where, script: str, *, input: str | None = None, timeout: float = 60) -> engine.Completed:
    """Run ``script`` on the first client node that answers; LabError if none does."""
    lab, errors = as_lab(where), []
    for node in client_nodes(lab):
        try:
            return engine.run(lab.name, node, ["/bin/sh", "-c", script], input=input, timeout=timeout)
        except LabError as exc:  # powered off, frozen: the next one
            errors.append(f"{node}: {str(exc).splitlines()[0]}")
    raise LabError(f"no Ceph client node of lab '{lab.name}' answered: " + "; ".join(errors))


def ceph_json(where: Where, args: str, timeout: float = 30) -> Any:
    """``ceph ARGS -f json`` parsed; LabError with ceph's message when it fails."""
    done = run(where, f"{CEPH} {args} -f json", timeout=timeout)
    if done.returncode != 0:
        raise LabError(f"`ceph {args}` failed: {(done.stderr or done.stdout).strip()[-300:]}")
    return json.loads(done.stdout)


def health(where: Where) -> Health:
    """``ceph status`` digested (LabError when no mon answers within 10 s)."""
    s = ceph_json(where, "status")
    osd = s.get("osdmap", {})
    osd = osd.get("osdmap", osd)  # older releases nest it once more
    pgmap = s.get("pgmap", {})
    return Health(status=s["health"]["status"],
                  checks={k: v.get("summary", {}).get("message", "") for k, v in s["health"].get("checks", {}).items()},
                  osds=osd.get("num_osds", 0), up=osd.get("num_up_osds", 0), in_=osd.get("num_in_osds", 0),
                  pgs={p["state_name"]: p["count"] for p in pgmap.get("pgs_by_state", [])},
                  num_pgs=pgmap.get("num_pgs", 0), quorum=list(s.get("quorum_names", [])),
                  mgr_available=bool(s.get("mgrmap", {}).get("available")),
                  mgr_standbys=int(s.get("mgrmap", {}).get("num_standbys", 0)), raw=s)


def wait_for_health(where: Where, want: Callable[[Health], bool], *, timeout: float = 120, what: str = "",
                    interval: float = 0.5) -> tuple[Health, float]:
    """Poll ``health`` until ``want(h)``; (health, seconds waited). TimeoutError names what
    was awaited and the last status seen. A mon that does not answer counts as "not yet"."""
    lab, start, last = as_lab(where), time.monotonic(), "no answer"
    while True:
        try:
            h = health(lab)
            if want(h):
                return h, round(time.monotonic() - start, 2)
            last = f"{h.status} {h.pgs} osds {h.up}/{h.in_}/{h.osds} up/in/all {sorted(h.checks)}"
        except (LabError, ValueError) as exc:
            last = str(exc).splitlines()[0]
        if time.monotonic() - start > timeout:
            raise TimeoutError(f"Ceph of lab '{lab.name}': {what or 'wanted health'} not reached after "
                               f"{timeout:.0f} s; last: {last}")
        time.sleep(interval)


# --- data: objects with known checksums ---------------------------------------------

IO_SCRIPT = (Path(__file__).with_name("ceph_io.py")).read_text()


@dataclass
class ReadBack:
    checked: int
    missing: list[str]  # unreadable (not found, timed out)
    mismatched: list[str]  # read, but the checksum differs
    seconds: float
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def intact(self) -> bool:
        return not self.missing and not self.mismatched


def _io(where: Where, args: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run ceph_io.py in a client node; the node-side op timeout sits inside ours."""
    lab, errors = as_lab(where), []
    argv = ["/usr/bin/python3", "-c", IO_SCRIPT, json.dumps({"pool": POOL, **args})]
    for node in client_nodes(lab):
        try:
            done = engine.run(lab.name, node, argv, timeout=timeout)
        except LabError as exc:
            errors.append(f"{node}: {str(exc).splitlines()[0]}")
            continue
        if done.returncode != 0:
            detail = done.stdout.strip() or done.stderr.strip()[-400:]
            raise LabError(f"{node}: rados {args['action']} failed: {detail}")
        result: dict[str, Any] = json.loads(done.stdout)
        return result
    raise LabError(f"no Ceph client node of lab '{lab.name}' answered: " + "; ".join(errors))


def write_objects(where: Where, n: int, *, size: int = 64 * 1024, prefix: str = "", op_timeout: float = 30
                  ) -> dict[str, Any]:
    """Write ``n`` objects of random data; the manifest to give ``read_back`` later."""
    prefix = prefix or f"stacklab-{int(time.time() * 1000)}"
    out = _io(where, {"action": "write", "n": n, "size": size, "prefix": prefix, "op_timeout": op_timeout},
              timeout=op_timeout * n + 60)
    return {"pool": POOL, "prefix": prefix, "size": size, "objects": out["objects"], "seconds": out["seconds"]}


def read_back(where: Where, manifest: dict[str, Any], *, op_timeout: float = 30) -> ReadBack:
    """Read every object of ``manifest`` and compare checksums."""
    objects: dict[str, str] = manifest["objects"]
    out = _io(where, {"action": "read", "names": sorted(objects), "op_timeout": op_timeout},
              timeout=op_timeout * max(len(objects), 1) + 60)
    sums = out["sums"]
    return ReadBack(checked=len(objects), missing=sorted(n for n in objects if sums.get(n) is None),
                    mismatched=sorted(n for n, s in objects.items() if sums.get(n) not in (None, s)),
                    seconds=out["seconds"], errors=out["errors"])


def remove_objects(where: Where, names: list[str], *, op_timeout: float = 30) -> int:
    """Remove objects (those a probe wrote); how many were there to remove."""
    if not names:
        return 0
    out = _io(where, {"action": "delete", "names": names, "op_timeout": op_timeout}, timeout=op_timeout + 120)
    return int(out["removed"])


@dataclass
class WriteProbe:
    blocked: bool
    seconds: float
    detail: str


def writes_blocked(where: Where, timeout: float = 10) -> WriteProbe:
    """Try one write with a ``timeout`` s op timeout: blocked (a PG below min_size, no
    quorum) or not. Bounded: returns within ≈ timeout + 20 s whatever the cluster does."""
    start = time.monotonic()
    try:
        out = _io(where, {"action": "probe", "prefix": "stacklab-probe", "op_timeout": timeout}, timeout=timeout + 20)
    except LabError as exc:  # the node-side connect gave up, or the whole call timed out
        return WriteProbe(True, round(time.monotonic() - start, 2), str(exc).splitlines()[0])
    return WriteProbe(not out["written"], round(time.monotonic() - start, 2), out["error"])


# --- rados bench ----------------------------------------------------------------------

@dataclass
class Bench:
    mode: str  # write, seq, rand
    mb_s: float
    iops: float
    avg_latency_s: float
    max_latency_s: float
    seconds: float
    raw: dict[str, float] = field(repr=False, default_factory=dict)


def parse_bench(mode: str, text: str) -> Bench:
    """Figures from ``rados bench`` output.

    >>> parse_bench("write", "Total time run:   10.1\\nBandwidth (MB/sec):  42.5\\nAverage IOPS:  10\\n"
    ...             "Average Latency(s):  1.2\\nMax latency(s):  2.5\\n").mb_s
    42.5
    """
    raw: dict[str, float] = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        try:
            raw[key.strip()] = float(value.strip()) if sep else raw.get(key.strip(), 0.0)
        except ValueError:
            continue
    return Bench(mode, raw.get("Bandwidth (MB/sec)", 0.0), raw.get("Average IOPS", 0.0),
                 raw.get("Average Latency(s)", 0.0), raw.get("Max latency(s)", 0.0), raw.get("Total time run", 0.0),
                 raw)


def rados_bench(where: Where, seconds: int, mode: str = "write", *, block_size: int = 4 * 2**20, threads: int = 16,
                run_name: str = "stacklab-bench") -> Bench:
    """``rados bench`` on the test pool. ``write`` keeps its objects (``--no-cleanup``) so
    ``seq``/``rand`` can read them; ``bench_cleanup`` removes them."""
    if mode not in ("write", "seq", "rand"):
        raise ValueError(f"rados bench mode must be write, seq or rand, not {mode!r}")
    extra = f"-b {block_size} --no-cleanup" if mode == "write" else ""
    done = run(where, f"rados -p {POOL} bench {seconds} {mode} -t {threads} --run-name {run_name} {extra} "
                      "2>&1", timeout=seconds * 3 + 60)
    if done.returncode != 0:
        raise LabError(f"rados bench {mode} failed: {done.stdout.strip()[-400:]}")
    return parse_bench(mode, done.stdout)


def bench_cleanup(where: Where, run_name: str = "stacklab-bench") -> None:
    run(where, f"rados -p {POOL} cleanup --run-name {run_name} >/dev/null 2>&1", timeout=300)
