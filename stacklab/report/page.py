"""``RUN_DIR/report.html``: one self-contained page (inline CSS, images as data URIs,
no script and nothing fetched) from a run directory.

Sections: the scenario (summary, source field report, verdict, lab, seed, packages),
the verdict table (each expectation: bound, measured, pass/fail), the timeline image
with its facts as JSON beside it (``<script type="application/json" id="timeline">``:
fault and heal times, steps, VIP holders and moves), the lab drawing, the service
states per node and the journal error lines.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any

from stacklab.report import plots
from stacklab.report.data import RunData, load_run

CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.4em}h2{font-size:1.1em;border-bottom:1px solid #ddd;margin-top:1.6em}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f4f4f4}.pass{background:#e6f4ea;color:#1e6b2e}.fail{background:#fce8e6;color:#a50e0e;font-weight:bold}
.verdict-passed{color:#1e6b2e}.verdict-failed{color:#a50e0e}.muted{color:#777}
pre{background:#f8f8f8;padding:.6em;overflow-x:auto;font-size:.8em}img{max-width:100%}
dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}dt{font-weight:bold}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:1em}
"""


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def cell(ok: bool, text: str) -> str:
    return f'<td class="{"pass" if ok else "fail"}">{escape(text)}</td>'


def page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def summary(run: RunData) -> str:
    r = run.result
    verdict = str(r.get("verdict", "?"))
    built = "built" if r.get("lab_created") else "reused"
    facts = {"summary": r.get("summary", ""), "source (field report)": r.get("source") or "-",
             "scenario file": r.get("file", ""), "lab": f"{r.get('lab')} ({built})", "seed": r.get("seed"),
             "duration": f"{r.get('seconds', 0):.0f} s (lab and deploy {r.get('prepare_seconds', 0)} s)",
             "packages": ", ".join(f"{k} {v}" for k, v in (r.get("packages") or {}).items())}
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in facts.items())
    return (f'<h1>{escape(run.name)}: <span class="verdict-{escape(verdict)}">{escape(verdict.upper())}</span></h1>'
            f"<dl>{items}</dl>")


def verdict_table(run: RunData) -> str:
    rows = "".join(f'<tr data-ok="{str(row.ok).lower()}"><td>{escape(row.label)}</td><td>{escape(row.bound)}</td>'
                   f"<td>{escape(row.measured)}</td>{cell(row.ok, 'pass' if row.ok else 'FAIL')}"
                   f"<td>{escape(row.detail[:300])}</td></tr>" for row in run.rows())
    steps = "".join(f"<tr><td>{escape(s['label'])}</td>{cell(s['status'] == 'passed', s['status'])}"
                    f"<td>{s['seconds']:.1f} s</td><td>{escape(s.get('detail', '')[:300])}</td></tr>"
                    for s in run.result.get("steps", []))
    return ("<h2>Verdict</h2><table id=\"expectations\"><tr><th>expectation</th><th>bound</th><th>measured</th>"
            f"<th>outcome</th><th>detail</th></tr>{rows or '<tr><td colspan=5>no expectation</td></tr>'}</table>"
            f"<h3>Steps</h3><table><tr><th>step</th><th>status</th><th>time</th><th>detail</th></tr>{steps}</table>")


def timeline_section(run: RunData) -> str:
    facts = json.dumps(run.timeline(), indent=1).replace("</", "<\\/")
    moves = "; ".join(f"{m['from']} → {m['to']} at {m['t']:.2f} s" for m in run.timeline()["vip_moves"])
    evidence = run.result.get("evidence") or {}
    lost = not_recorded("Samples", evidence) if "error" in evidence else ""
    return lost + (f'<h2>Timeline</h2><p class="muted">{escape(moves and "VIP moves: " + moves)}</p>'
            f'<img id="timeline-image" alt="timeline of {escape(run.name)}" src="{data_uri(plots.timeline(run))}">'
            f'\n<script type="application/json" id="timeline">{facts}</script>')


def not_recorded(title: str, part: Any) -> str:
    """A part the run could not record (result.json holds ``{"error": ...}`` in its place)."""
    return f'<h2>{escape(title)}</h2><p class="fail">not recorded: {escape(str(part.get("error")))}</p>'


def lab_section(run: RunData) -> str:
    lab = run.result.get("lab_drawing")
    if not lab:
        return ""
    if "error" in lab:
        return not_recorded("The lab", lab)
    return f'<h2>The lab</h2><img alt="the lab" src="{data_uri(plots.lab_drawing(lab))}">'


def services_section(run: RunData) -> str:
    states: dict[str, Any] = run.result.get("services") or {}
    if not states:
        return ""
    if "error" in states:
        return not_recorded("Services at the end of the steps", states)
    rows = "".join(f"<tr><td>{escape(node)}</td><td>" + " ".join(
        f'<span class="{"pass" if s == "active" else "fail"}">{escape(u)}: {escape(s)}</span>'
        for u, s in units.items()) + "</td></tr>" for node, units in states.items())
    return f"<h2>Services at the end of the steps</h2><table><tr><th>node</th><th>units</th></tr>{rows}</table>"


def journal_section(run: RunData) -> str:
    logs = run.journal()
    counts: dict[str, Any] = run.result.get("journal_errors") or {}
    if not logs:
        return "<h2>Journal errors</h2><p>none (after the list of known-harmless messages)</p>"
    parts = "".join(f"<details><summary>{escape(n)}: {counts.get(n, len(lines))} lines</summary>"
                    f"<pre>{escape(chr(10).join(lines))}</pre></details>" for n, lines in logs.items())
    return f"<h2>Journal errors</h2>{parts}"


def render(run_dir: Path) -> Path:
    """Write ``RUN_DIR/report.html``; returns its path."""
    run = load_run(Path(run_dir))
    body = "\n".join((summary(run), verdict_table(run), timeline_section(run), lab_section(run),
                      services_section(run), journal_section(run)))
    out = Path(run_dir) / "report.html"
    out.write_text(page(f"{run.name} - stacklab run {run.dir.name}", body))
    return out
