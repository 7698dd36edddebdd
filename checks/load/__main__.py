"""A baseline from inside a running lab: ``python -m checks.load LAB [--users N] [--run-time T]``.

Runs locust (headless, bounded) on the lab's client node against one target and prints
RPS, p50/p95/p99 and failures per request type. Results (event log, locust CSVs) go to
``runs/load-<time>-<lab>-<target>/``. ``nox -s load -- LAB ...`` runs this.

>>> print(table({"token issue": {"requests": 10, "failures": 1, "failure_rate": 0.1, "rps": 2.0,
...     "p50_s": 0.25, "p95_s": 0.5, "p99_s": 0.61}}))
request type          requests  failures     RPS   p50 ms   p95 ms   p99 ms
token issue                 10         1    2.00      250      500      610
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from checks.load import TARGETS
from lab.modelbase import parse_duration

COLUMNS = f"{'request type':<20} {'requests':>9} {'failures':>9} {'RPS':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f}"


def table(rows: dict[str, dict[str, Any]]) -> str:
    """One line per request type (then the total, when given as ``all``)."""
    lines = [COLUMNS]
    for name, s in rows.items():
        rps = "-" if s["rps"] is None else f"{s['rps']:.2f}"
        lines.append(f"{name:<20} {s['requests']:>9} {s['failures']:>9} {rps:>7} {_ms(s['p50_s']):>8} "
                     f"{_ms(s['p95_s']):>8} {_ms(s['p99_s']):>8}")
    return "\n".join(lines)


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as e:  # argparse reports it as a usage error (exit 2)
        raise argparse.ArgumentTypeError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    """Exit 0 with the table, 2 on bad input (an unknown or invalid lab), 1 when the lab failed."""
    from lab.errors import LabError, UsageError

    parser = argparse.ArgumentParser(prog="python -m checks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("lab", help="a running, deployed lab (stacklab status)")
    parser.add_argument("--target", default="keystone", choices=sorted(TARGETS))
    parser.add_argument("--users", type=int, default=5, help="locust users (default 5)")
    parser.add_argument("--spawn-rate", type=float, default=5.0, help="users started per second (default 5)")
    parser.add_argument("--run-time", default="30s", type=_duration, help="how long (default 30s; at most 30m)")
    parser.add_argument("--runs-dir", default="runs", type=Path)
    args = parser.parse_args(argv)
    run_time = args.run_time
    if not 0 < run_time <= 1800 or not 1 <= args.users <= 200 or not 0 < args.spawn_rate <= 100:
        parser.error("--run-time must be within (0, 30m], --users within [1, 200], --spawn-rate within (0, 100]")
    try:
        return baseline(args, run_time)
    except LabError as e:  # a message, never a traceback (as the stacklab command)
        print(f"python -m checks.load: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1


def baseline(args: argparse.Namespace, run_time: float) -> int:
    """Locust on the lab's client node for ``run_time``; print the table per request type."""
    from checks.ha_run import prober
    from checks.load.gates import LoadFigures
    from checks.load.node import CEILING_RPS, LocustRun

    node = prober(args.lab)
    dest = args.runs_dir / f"load-{time.strftime('%Y%m%d-%H%M%S')}-{args.lab}-{args.target}"
    print(f"locust on {args.lab}/{node}: {args.target}, {args.users} users, {run_time:g} s ...", flush=True)
    locust = LocustRun(args.lab, node, args.target, users=args.users, spawn_rate=args.spawn_rate,
                       run_time=run_time).start()
    try:
        while locust.active() and time.monotonic() < locust.started + run_time + 60:
            time.sleep(1)
    finally:
        events = locust.finish(dest)
    figures = LoadFigures(events)
    print(table({**figures.by_type, "all": figures.whole}))
    if (figures.whole["rps"] or 0) > 0.8 * CEILING_RPS:
        print(f"warning: {figures.whole['rps']} RPS is near locust's own ceiling on one node (≈ {CEILING_RPS:g}): "
              "the client, not the cloud, may be the limit")
    print(f"results: {dest}")
    return 0 if events else 1


if __name__ == "__main__":
    sys.exit(main())
