"""``stacklab report``: a run's report.html again (from its directory alone), or several
runs of a scenario compared side by side with ratios.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lab.errors import UsageError


def cmd_report(args: argparse.Namespace) -> int:
    from stacklab import report

    dirs = [Path(d) for d in args.runs]
    missing = [str(d) for d in dirs if not (d / "result.json").is_file()]
    if missing:
        raise UsageError(f"not a run directory (no result.json): {', '.join(missing)}")
    if args.compare:
        if len(dirs) < 2:
            raise UsageError("--compare needs two run directories or more")
        out, lines = report.compare_runs(dirs, Path(args.output or "compare.html"))
        print("\n".join(lines))
        print(f"compare: {out}")
        return 0
    if len(dirs) != 1 or args.output:
        raise UsageError("name one run directory (or use --compare RUN_A RUN_B ...)")
    print(f"report: {report.render(dirs[0])}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("report", help="write RUN_DIR/report.html again, or --compare runs side by side")
    p.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (runs/TIME-SCENARIO)")
    p.add_argument("--compare", action="store_true", help="the runs' figures side by side with ratios to the first")
    p.add_argument("-o", "--output", help="the comparison page (default: compare.html)")
    p.set_defaults(func=cmd_report)
