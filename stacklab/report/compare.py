"""``stacklab report --compare RUN_A RUN_B ...``: the runs' figures side by side, each
with its ratio to the first run (e.g. VRRPv2 advert 1 vs VRRPv3 advert 0.1; LXC vs
libvirt), and each run's timeline beside the others.

Figures compared: the metrics, every numeric probe figure, each load's whole-run
figures and gates, and the run's duration; a figure missing in a run is shown as -.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any

from stacklab.report import plots
from stacklab.report.data import RunData, load_run
from stacklab.report.page import data_uri, page


def figures(run: RunData) -> dict[str, float]:
    """Every number worth comparing, by a name that is the same across runs of a scenario."""
    r = run.result
    out: dict[str, float] = {}
    metrics = r.get("metrics") or {}
    out.update({k: v for k, v in (metrics.get("values") or {}).items() if _number(v)})
    for family in (metrics.get("figures") or {}).values():
        if isinstance(family, dict):
            out.update({k: v for k, v in family.items() if _number(v) and k not in out})
    for step in r.get("steps", []):
        for name, load in step.get("figures", {}).items():
            if isinstance(load, dict) and "gates" in load:
                out.update({f"load {name} {k}": v for k, v in (load.get("whole") or {}).items() if _number(v)})
                out.update({f"load {name} {k}": float(load[k]) for k in ("outage_s", "mttr_s") if _number(load.get(k))})
    out["run seconds"] = float(r.get("seconds") or 0.0)
    return out


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def ratio(value: float | None, base: float | None) -> str:
    """``value / base`` as text (× 2 decimals).

    >>> ratio(0.3, 3.0), ratio(3.0, 0.0), ratio(None, 1.0), ratio(0.0, 0.0)
    ('0.10×', '-', '-', '1.00×')
    """
    if value is None or base is None:
        return "-"
    if base == 0:
        return "1.00×" if value == 0 else "-"
    return f"{value / base:.2f}×"


def table(runs: list[RunData]) -> tuple[list[str], dict[str, list[float | None]]]:
    per_run = [figures(r) for r in runs]
    names = list(dict.fromkeys(k for f in per_run for k in f))
    return names, {k: [f.get(k) for f in per_run] for k in names}


def text_lines(runs: list[RunData], values: dict[str, list[float | None]]) -> list[str]:
    head = ["figure".ljust(34)] + [r.dir.name[-28:].rjust(28) for r in runs] + [f"ratio to {runs[0].dir.name[:15]}"]
    lines = ["  ".join(head)]
    for name, row in values.items():
        cells = ["-" if v is None else f"{v:.4g}" for v in row]
        ratios = [ratio(v, row[0]) for v in row[1:]]
        lines.append("  ".join([name.ljust(34), *(c.rjust(28) for c in cells), " ".join(ratios)]))
    return lines


def write(run_dirs: list[Path], out: Path) -> tuple[Path, list[str]]:
    if len(run_dirs) < 2:
        raise ValueError("--compare needs at least two run directories")
    runs = [load_run(d) for d in run_dirs]
    names, values = table(runs)
    scenarios = sorted({r.name for r in runs})
    note = "" if len(scenarios) == 1 else f"<p class=\"fail\">different scenarios: {escape(', '.join(scenarios))}</p>"
    head = "".join(f"<th>{escape(r.dir.name)}</th>" for r in runs) + "".join(
        f"<th>{escape(r.dir.name)} / {escape(runs[0].dir.name)}</th>" for r in runs[1:])
    rows = "".join(f"<tr><td>{escape(k)}</td>" + "".join(f"<td>{'-' if v is None else f'{v:.4g}'}</td>" for v in row)
                   + "".join(f"<td>{ratio(v, row[0])}</td>" for v in row[1:]) + "</tr>" for k, row in values.items())
    bars = {k: v for k, v in values.items() if k in names[:12] and all(x is not None for x in v)}
    images = "".join(f"<figure><figcaption>{escape(r.dir.name)} ({escape(str(r.result.get('verdict')))})"
                     f'</figcaption><img alt="timeline" src="{data_uri(plots.timeline(r, width=8))}"></figure>'
                     for r in runs)
    drawn = plots.side_by_side(bars, [r.dir.name for r in runs]) if bars else b""
    body = (f"<h1>{escape(' vs '.join(scenarios))}: {len(runs)} runs compared</h1>{note}"
            f'<table id="compare"><tr><th>figure</th>{head}</tr>{rows}</table>'
            + (f'<h2>Figures</h2><img alt="figures side by side" src="{data_uri(drawn)}">' if bars else "")
            + f'<h2>Timelines</h2><div class="grid">{images}</div>')
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page(f"compare {' '.join(r.dir.name for r in runs)}", body))
    return out, text_lines(runs, values)
