"""A run keeps its evidence: every probe's raw samples, beside ``result.json``, in a
documented format that the report (``stacklab.report``) and anyone else can read back.

Layout of a run directory (``runs/TIME-SCENARIO/``)::

    result.json                   verdict, steps (each with its start ``at``), metrics, figures,
                                  the lab drawn (``lab``), service states, and ``evidence`` below
    samples/FAMILY.jsonl          a probe family's raw lines, as its in-node probe wrote them
    load/NN-TARGET/events.jsonl   a load's per-request log (``stacklab.runner.loads``)
    logs/NODE.log                 journal error lines of the run's time window

Every line of a samples file is one JSON object: a sample ``{"k": kind, "t": send time,
"ok": bool, "lat": seconds, ...fields of its probe}`` or an event ``{"ev": name, "t":
..., ...}``. All times (samples, events, steps' ``at``) are CLOCK_MONOTONIC seconds: a
node shares the host's kernel clock (``checks.ha_run.check_clock``), so they line up.

``result.json["evidence"]``::

    {"clock": "CLOCK_MONOTONIC s", "zero": <first step's at>,
     "sources": {NAME: {"file": "samples/vip.jsonl", "node": "cli1", "lines": 2571,
                        "panels": [Panel.to_json(), ...], "labels": {FIELD: {VALUE: NAME}}}}}

A source's panels say how it is drawn (``checks.panels``); a new probe family plugs in
by declaring ``panels`` on its class: nothing here names a family.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from checks.panels import Panel
from stacklab.report.data import load_panels

if TYPE_CHECKING:
    from stacklab.runner.session import ScenarioRun


def write_samples(path: Path, lines: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")


def source(file: str, lines: int, panels: tuple[Panel, ...], node: str = "",
           labels: dict[str, dict[str, str]] | None = None) -> dict[str, Any]:
    return {"file": file, "node": node, "lines": lines, "panels": [p.to_json() for p in panels],
            "labels": labels or {}}


def keep_evidence(run: ScenarioRun, out: Path) -> dict[str, Any]:
    """Write every family's raw lines under ``out/samples/``; the index for result.json
    (loads already copied their event logs under ``out/load/``)."""
    sources: dict[str, Any] = {}
    for name, (fam, lines) in run.probes.evidence().items():
        if not lines:
            continue
        write_samples(out / "samples" / f"{name}.jsonl", lines)
        probe = getattr(fam.live, "probe", None)
        sources[name] = source(f"samples/{name}.jsonl", len(lines), fam.panels, getattr(probe, "node", ""),
                               getattr(fam.live, "labels", None))
    for events in sorted(out.glob("load/*/events.jsonl")):
        folder = events.parent.name
        count = sum(1 for _ in events.open())
        sources[f"load/{folder}"] = source(str(events.relative_to(out)), count, load_panels(folder))
    zero = min((r.at for r in run.results), default=0.0)
    return {"clock": "CLOCK_MONOTONIC s", "zero": zero, "sources": sources}


def lab_drawing(run: ScenarioRun) -> dict[str, Any]:
    """What the report draws of the lab: networks, nodes with roles and addresses, VIPs."""
    topo = run.topo
    return {
        "networks": {name: str(net.cidr) for name, net in topo.networks.items()},
        "nodes": {name: {"roles": list(h.roles), "addresses": dict(h.addresses)} for name, h in run.inv.hosts.items()},
        "vips": {name: {"network": v.network, "address": str(v.address)} for name, v in topo.vips.items()},
    }
