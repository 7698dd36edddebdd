"""A run directory read back for the report: result.json, the evidence sources and
their samples, the expectation rows, and the timeline's facts (fault and heal times,
VIP holder changes) as plain data.

Times in the report are seconds since the run's ``zero`` (its first step's start, on
CLOCK_MONOTONIC; see ``stacklab.runner.evidence``).
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checks.ha_run import parse_lines
from checks.panels import Panel

MAX_LOG_LINES = 200  # per node on the page; the full file stays in logs/


@dataclass
class Source:
    name: str
    panels: list[Panel]
    lines: list[dict[str, Any]]
    node: str = ""
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def samples(self, panel: Panel) -> list[dict[str, Any]]:
        return sorted((ln for ln in self.lines if panel.picks(ln)), key=lambda ln: float(ln["t"]))

    def name_of(self, fld: str, value: Any) -> str:
        return self.labels.get(fld, {}).get(str(value), str(value))


@dataclass
class Row:
    """One expectation: what it bounds, the bound, the figure measured, the outcome."""

    label: str
    what: str
    bound: str
    measured: str
    ok: bool
    detail: str = ""


@dataclass
class RunData:
    dir: Path
    result: dict[str, Any]
    sources: list[Source]
    zero: float

    @property
    def name(self) -> str:
        return str(self.result.get("scenario", self.dir.name))

    def rel(self, t: float) -> float:
        return float(t) - self.zero

    def markers(self) -> list[dict[str, Any]]:
        """Fault and heal steps: ``{"kind": "fault"|"heal", "label", "t"}`` (seconds since zero)."""
        out = []
        for step in self.result.get("steps", []):
            kind = step["label"].split(" ", 1)[0]
            if kind in ("fault", "heal"):
                out.append({"kind": kind, "label": step["label"], "t": round(self.rel(step["at"]), 3),
                            "nodes": step.get("figures", {}).get("nodes", [])})
        return out

    def spans(self) -> list[dict[str, Any]]:
        return [{"label": s["label"], "status": s["status"], "start": round(self.rel(s["at"]), 3),
                 "end": round(self.rel(s["at"]) + float(s["seconds"]), 3)} for s in self.result.get("steps", [])]

    def holders(self) -> list[dict[str, Any]]:
        """Who answered for the VIP over time, from every ``state`` panel on a ``mac`` field."""
        out: list[dict[str, Any]] = []
        for src in self.sources:
            for panel in (p for p in src.panels if p.style == "state" and p.field == "mac"):
                for s in src.samples(panel):
                    node = src.name_of("mac", s.get("mac")) if s.get("ok", True) else "unresolved"
                    if not out and node == "unresolved":  # the client's ARP entry warming up, not a move
                        continue
                    if not out or out[-1]["node"] != node:
                        out.append({"t": round(self.rel(s["t"]), 3), "node": node})
        return out

    def timeline(self) -> dict[str, Any]:
        """The facts the timeline image shows, as data (embedded beside it in the page)."""
        holders = self.holders()
        moves = [{"t": b["t"], "from": a["node"], "to": b["node"]} for a, b in itertools.pairwise(holders)]
        return {"zero_monotonic": self.zero, "markers": self.markers(), "steps": self.spans(),
                "vip_holders": holders, "vip_moves": moves,
                "sources": {s.name: {"node": s.node, "lines": len(s.lines), "panels": [p.title for p in s.panels]}
                            for s in self.sources}}

    def rows(self) -> list[Row]:
        """Every expectation of the run: metric and check expects, then each load gate."""
        rows = []
        for s in self.result.get("steps", []):
            figures, ok = s.get("figures", {}), s["status"] == "passed"
            if s["label"].startswith("expect "):
                rows.append(expect_row(s, figures, ok))
            for name, load in figures.items():
                if isinstance(load, dict) and "gates" in load:
                    rows += [Row(f"load {name} {g['name']}", g["name"], gate_bound(g),
                                 "not measured" if g["measured"] is None else f"{g['measured']:.4g}", bool(g["ok"]))
                             for g in load["gates"]]
        return rows

    def journal(self) -> dict[str, list[str]]:
        out = {}
        for log in sorted((self.dir / "logs").glob("*.log")):
            lines = log.read_text(errors="replace").splitlines()
            out[log.stem] = lines[:MAX_LOG_LINES] + ([f"... {len(lines) - MAX_LOG_LINES} more in logs/{log.name}"]
                                                     if len(lines) > MAX_LOG_LINES else [])
        return out


def expect_row(step: dict[str, Any], figures: dict[str, Any], ok: bool) -> Row:
    label = step["label"]
    if "passed" in figures:  # expect: {check: NAME, outcome: pass|fail}
        want = label.rsplit(" ", 1)[-1]
        return Row(label, label.split(" ")[2], f"outcome {want}", "passed" if figures["passed"] else "failed", ok,
                   step.get("detail", ""))
    metric = label.split(" ")[1]
    value = figures.get(metric)
    bound = " ".join(f"{k} {v:g}" for k, v in step.get("bound", {}).items())
    shown = "not measured" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)
    return Row(label, metric, bound, shown, ok, step.get("detail", ""))


def gate_bound(gate: dict[str, Any]) -> str:
    kind = "min" if gate["name"].startswith("min_") else "max"
    return f"{kind} {gate['bound']:g}"


def load_panels(folder: str) -> tuple[Panel, ...]:
    """A load's panels for its folder ``NN-TARGET`` (declared in ``stacklab.runner.loads``)."""
    from stacklab.runner.loads import LOAD_PANELS

    target = folder.split("-", 1)[-1]
    return tuple(Panel(p.title.format(target=target), p.kind, p.style, p.field, p.unit) for p in LOAD_PANELS)


def load_run(run_dir: Path) -> RunData:
    """A run directory as the report sees it; a clear error when it is not one."""
    path = Path(run_dir) / "result.json"
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir}: no result.json (not a run directory of stacklab run)")
    result = json.loads(path.read_text())
    evidence = result.get("evidence") or {}
    sources = []
    for name, spec in evidence.get("sources", {}).items():
        file = Path(run_dir) / spec["file"]
        lines = parse_lines(file.read_text()) if file.is_file() else []
        sources.append(Source(name, [Panel.from_json(p) for p in spec.get("panels", [])], lines,
                              spec.get("node", ""), spec.get("labels", {})))
    if not evidence:  # a run from before the evidence was kept: its loads' event logs still are
        sources += [Source(f"load/{e.parent.name}", list(load_panels(e.parent.name)), parse_lines(e.read_text()))
                    for e in sorted(Path(run_dir).glob("load/*/events.jsonl"))]
    steps = result.get("steps", [])
    zero = float(evidence.get("zero") or min((s["at"] for s in steps), default=0.0))
    return RunData(Path(run_dir), result, sources, zero)
