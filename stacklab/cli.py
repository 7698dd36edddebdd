"""The ``stacklab`` command line: one subcommand per capability that works.

Every error ends in a message, never a traceback: exit code 2 for bad input (an invalid
file, an unknown scenario, lab, node or check), 1 for a lab operation that failed.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from typing import Any

from lab.errors import LabError, UsageError
from stacklab import cli_cloud, cli_fault, cli_lab, cli_node, cli_report, cli_tempest
from stacklab.validate import validate_file

MESSAGE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<text>.*)$")


def annotation(path: str, message: str) -> dict[str, Any]:
    """A validation message as data: file, line, severity, text.

    >>> annotation("a.yaml", "a.yaml:9: steps[3].fault.action: unknown fault action 'power_of'")["line"]
    9
    """
    m = MESSAGE.match(message)
    file, line, text = (m["file"], int(m["line"]), m["text"]) if m else (path, 1, message)
    severity = "warning" if re.match(r"^[^:]*: warning: ", text) else "error"
    return {"file": file, "line": line, "severity": severity, "message": text}


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate scenario and lab files; print every problem; exit 2 if any file is invalid.
    ``--format json`` prints one list of findings; ``github`` prints workflow annotations."""
    bad = 0
    found: list[dict[str, Any]] = []
    for path in args.files:
        result = validate_file(path)
        found += [annotation(str(path), line) for line in result.messages]
        if args.format == "text":
            for line in result.messages:
                print(line, file=sys.stderr)
        if result.ok and args.format == "text":
            topo = result.topology
            size = f"{len(topo.expand())} nodes, {len(topo.networks)} networks" if topo else ""
            kind = type(result.model).__name__.replace("File", "").lower()
            print(f"ok: {path} ({kind}, {size})")
        bad += 0 if result.ok else 1
    if args.format == "json":
        print(json.dumps(found, indent=1))
    elif args.format == "github":  # workflow commands: GitHub shows them on the file's line
        for f in found:
            text = f["message"].replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
            print(f"::{f['severity']} file={f['file']},line={f['line']}::{text}")
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
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines, only results and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("validate", help="check scenario and lab files; exit 0 valid, 2 invalid")
    p.add_argument("files", nargs="+", metavar="FILE", help="scenario or lab YAML files")
    p.add_argument("--format", choices=("text", "json", "github"), default="text",
                   help="text (default), json (a list of findings) or github (workflow annotations)")
    p.set_defaults(func=cmd_validate)
    for module in (cli_lab, cli_cloud, cli_node, cli_fault, cli_tempest, cli_report):
        module.add_commands(sub)
    p = sub.add_parser("completion", help="print a shell completion script: source <(stacklab completion bash)")
    p.add_argument("shell", choices=["bash"])
    p.set_defaults(func=cmd_completion)
    return parser


def cmd_completion(args: argparse.Namespace) -> int:
    from stacklab.completion import bash
    from stacklab.validate import REPO_LABS

    print(bash(build_parser(), sorted(p.stem for p in REPO_LABS.parent.glob("*.yaml"))), end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cli_lab.QUIET["on"] = args.quiet
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
