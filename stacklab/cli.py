"""The ``stacklab`` command line: one subcommand per capability that works.

Every error ends in a message, never a traceback: exit code 2 for bad input (an invalid
file, an unknown scenario, lab, node or check), 1 for a lab operation that failed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from lab.errors import LabError, UsageError
from stacklab import cli_cloud, cli_fault, cli_lab, cli_node, cli_report, cli_tempest
from stacklab.validate import validate_file


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario and lab files; print every problem; exit 2 if any file is invalid."""
    bad = 0
    for path in args.files:
        result = validate_file(path)
        for line in result.messages:
            print(line, file=sys.stderr)
        if result.ok:
            topo = result.topology
            size = f"{len(topo.expand())} nodes, {len(topo.networks)} networks" if topo else ""
            kind = type(result.model).__name__.replace("File", "").lower()
            print(f"ok: {path} ({kind}, {size})")
        else:
            bad += 1
    return 2 if bad else 0


def version() -> str:
    """The installed distribution's version (pyproject), or 'unknown' from a bare checkout."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("stacklab")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stacklab",
        description="Reproduce OpenStack cluster failure modes in a lab on one machine.",
    )
    parser.add_argument("--version", action="version", version=f"stacklab {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", help="check scenario and lab files; exit 0 valid, 2 invalid")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario or lab YAML files")
    p.set_defaults(func=cmd_validate)
    for module in (cli_lab, cli_cloud, cli_node, cli_fault, cli_tempest, cli_report):
        module.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except LabError as e:
        print(f"stacklab {args.command}: {e}", file=sys.stderr)
        return 2 if isinstance(e, UsageError) else 1
    except KeyboardInterrupt:
        print("stacklab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
