"""The report's figures, drawn with matplotlib on the host (files only: no lab traffic),
returned as PNG bytes for embedding.

The timeline stacks one axis per panel the run's evidence declares (``checks.panels``),
under a track of the steps, all on one time axis (seconds since the first step) with
the fault (red) and heal (green) steps marked across every axis.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, whatever the environment says

import matplotlib.pyplot as plt
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from checks.panels import Panel
from stacklab.report.data import RunData, Source

STATUS_COLOURS = {"passed": "#4c9f50", "failed": "#d62728", "error": "#9467bd", "skipped": "#aaaaaa"}
MARKER_COLOURS = {"fault": "#d62728", "heal": "#2ca02c"}


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def timeline(run: RunData, width: float = 13.0) -> bytes:
    panels = [(src, p) for src in run.sources for p in src.panels]
    heights = [max(1.2, 0.28 * len(run.result.get("steps", [])))] + [1.7] * len(panels)
    fig, axes = plt.subplots(len(heights), 1, figsize=(width, sum(heights) + 0.6), sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": heights})
    steps_track(axes[0][0], run)
    for ax, (src, panel) in zip((a[0] for a in axes[1:]), panels, strict=True):
        draw_panel(ax, run, src, panel)
    for ax in (a[0] for a in axes):
        for m in run.markers():
            ax.axvline(m["t"], color=MARKER_COLOURS[m["kind"]], linestyle="--", linewidth=1)
    axes[-1][0].set_xlabel("seconds since the first step")
    fig.align_ylabels([a[0] for a in axes])
    return png(fig)


def steps_track(ax: Axes, run: RunData) -> None:
    spans = run.spans()
    for i, s in enumerate(spans):
        ax.barh(i, max(s["end"] - s["start"], 0.2), left=s["start"], color=STATUS_COLOURS.get(s["status"], "#888"))
        ax.text(s["end"] + 0.5, i, s["label"], va="center", fontsize=7)
    ax.set_yticks([])
    ax.invert_yaxis()
    ax.set_title(f"{run.name}: steps (red dashes: faults, green: heals)", fontsize=9, loc="left")


def draw_panel(ax: Axes, run: RunData, src: Source, panel: Panel) -> None:
    samples = src.samples(panel)
    ax.set_title(f"{panel.title}  [{src.name}{' on ' + src.node if src.node else ''}, {len(samples)} samples]",
                 fontsize=9, loc="left")
    if not samples:
        ax.text(0.5, 0.5, "no samples", transform=ax.transAxes, ha="center", color="#888")
        return
    {"outcome": outcome, "rate": rate, "state": state, "value": value}[panel.style](ax, run, src, panel, samples)


def outcome(ax: Axes, run: RunData, src: Source, panel: Panel, samples: list[dict[str, Any]]) -> None:
    good = [(run.rel(s["t"]), s.get("lat") or 0.0) for s in samples if s.get("ok")]
    bad = [(run.rel(s["t"]), s.get("lat") or 0.0) for s in samples if not s.get("ok")]
    if good:
        ax.scatter([t for t, _ in good], [lat for _, lat in good], s=3, color="#1f77b4", label=f"ok ({len(good)})")
    if bad:
        ax.scatter([t for t, _ in bad], [lat for _, lat in bad], s=12, color="#d62728", marker="x",
                   label=f"failed ({len(bad)})")
    ax.set_ylabel(f"latency {panel.unit}", fontsize=8)
    ax.legend(loc="upper right", fontsize=7)


def rate(ax: Axes, run: RunData, src: Source, panel: Panel, samples: list[dict[str, Any]]) -> None:
    ok = Counter(int(run.rel(s["t"]) // 1) for s in samples if s.get("ok"))
    bad = Counter(int(run.rel(s["t"]) // 1) for s in samples if not s.get("ok"))
    seconds = range(min(ok | bad), max(ok | bad) + 1)
    ax.step(list(seconds), [ok.get(t, 0) for t in seconds], where="post", color="#1f77b4",
            label=f"ok/s ({sum(ok.values())})")
    if bad:
        ax.bar(list(bad), list(bad.values()), width=1.0, align="edge", color="#d62728", alpha=0.7,
               label=f"failed/s ({sum(bad.values())})")
    ax.set_ylabel("per second", fontsize=8)
    ax.legend(loc="upper right", fontsize=7)


def state(ax: Axes, run: RunData, src: Source, panel: Panel, samples: list[dict[str, Any]]) -> None:
    names = [src.name_of(panel.field, s.get(panel.field)) if s.get("ok", True) else "unresolved" for s in samples]
    levels = list(dict.fromkeys(names))
    times = [run.rel(s["t"]) for s in samples]
    end = max(run.rel(ln["t"]) for ln in src.lines if "t" in ln)  # the probe's last word: no later claim
    ax.step([*times, end], [levels.index(n) for n in [*names, names[-1]]], where="post", color="#ff7f0e")
    for t, n in zip(times, names, strict=True):
        ax.annotate(n, (t, levels.index(n)), fontsize=7, xytext=(2, 3), textcoords="offset points")
    ax.set_yticks(range(len(levels)), levels, fontsize=7)
    ax.set_ylim(-0.5, len(levels) - 0.5)


def value(ax: Axes, run: RunData, src: Source, panel: Panel, samples: list[dict[str, Any]]) -> None:
    points = [(run.rel(s["t"]), float(s[panel.field])) for s in samples if isinstance(s.get(panel.field), int | float)]
    if points:
        ax.step(*zip(*points, strict=True), where="post", color="#2ca02c")
    ax.set_ylabel(panel.unit or panel.field, fontsize=8)


def lab_drawing(lab: dict[str, Any]) -> bytes:
    """Nodes (boxes with roles) above the networks (bars) they attach to, with addresses; VIPs as diamonds."""
    nodes, nets = list(lab.get("nodes", {})), list(lab.get("networks", {}))
    fig, ax = plt.subplots(figsize=(min(2 + 1.6 * max(len(nodes), 3), 24), 1.6 + 0.7 * len(nets)))
    y_net = {n: -1.0 - i for i, n in enumerate(nets)}
    for net, y in y_net.items():
        ax.plot([-0.6, len(nodes) - 0.4], [y, y], color="#555", linewidth=3)
        ax.text(-0.7, y, f"{net}\n{lab['networks'][net]}", ha="right", va="center", fontsize=8)
    for col, name in enumerate(nodes):
        x = float(col)
        node = lab["nodes"][name]
        for net, addr in node.get("addresses", {}).items():
            if net in y_net:
                ax.plot([x, x], [0, y_net[net]], color="#999", linewidth=1, zorder=0)
                ax.text(x + 0.04, y_net[net] + 0.12, addr.split("/")[0], fontsize=6)
        ax.text(x, 0.2, f"{name}\n{', '.join(node.get('roles', []))}", ha="center", va="center", fontsize=7,
                bbox={"boxstyle": "round", "facecolor": "#e8f0fe", "edgecolor": "#4a74c9"})
    for i, (name, vip) in enumerate(lab.get("vips", {}).items()):
        if vip["network"] in y_net:
            x = len(nodes) - 0.2 + 0.5 * i
            ax.plot([x], [y_net[vip["network"]]], marker="D", color="#ff7f0e", markersize=8)
            ax.text(x, y_net[vip["network"]] - 0.3, f"VIP {name}\n{vip['address']}", ha="center", fontsize=7)
    ax.set_xlim(-2.2, len(nodes) + 0.3 + 0.5 * len(lab.get("vips", {})))
    ax.set_ylim(min(y_net.values(), default=-1) - 0.7, 0.8)
    ax.axis("off")
    return png(fig)


def side_by_side(values: dict[str, list[float | None]], runs: list[str]) -> bytes:
    """One bar group per figure, one bar per run (compare)."""
    names = list(values)
    fig, ax = plt.subplots(figsize=(min(2 + 1.2 * len(names), 20), 3.2))
    width = 0.8 / max(len(runs), 1)
    for i, run in enumerate(runs):
        ax.bar([n + i * width for n in range(len(names))], [values[k][i] or 0.0 for k in names], width, label=run)
    ax.set_xticks([n + 0.4 - width / 2 for n in range(len(names))], names, rotation=30, ha="right", fontsize=7)
    ax.legend(fontsize=7)
    return png(fig)
