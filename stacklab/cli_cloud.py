"""Cloud and scenario subcommands of ``stacklab``: deploy, check (``--list`` too) and run.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from lab import engine
from lab import state as labstate
from lab.errors import LabError, UsageError
from stacklab.cli_lab import need_root, say
from stacklab.suggest import did_you_mean
from stacklab.validate import REPO_LABS, validate_file


def cmd_deploy(args: argparse.Namespace) -> int:
    from deployer.deploy import deploy

    need_root("deploy")
    st = engine.require(args.lab)
    result = validate_file(args.file or st.source)
    for line in result.messages:
        print(line, file=sys.stderr)
    if not result.ok or result.cloud is None:
        return 2
    if result.topology is not None and engine.topology_hash(result.topology) != st.topology_hash:
        raise LabError(f"{args.file or st.source} describes another topology than lab '{st.lab}' was built from")
    only = set(args.only.split(",")) if args.only else None
    deploy(st.lab, result.cloud, say=say, only=only)
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from checks.infra.base import healthy, open_lab, run_checks
    from checks.registry import checks

    if args.list:
        for name, spec in checks().items():
            where = f" (needs {spec.needs})" if spec.needs else ""
            print(f"{name:<26} {spec.summary}{where}{'; once per healthy step' if spec.once else ''}")
        return 0
    need_root("check")
    whole_suite = not args.names or args.names == ["healthy"]
    unknown = [] if whole_suite else [n for n in args.names if n not in checks()]
    if unknown:
        hint = did_you_mean(unknown[0], ["healthy", *checks()])
        raise UsageError(f"unknown check {', '.join(unknown)}{hint}; allowed: healthy, {', '.join(checks())}")
    lab = open_lab(args.lab)
    verdicts = healthy(lab) if whole_suite else run_checks(args.names, lab)
    if args.json:
        print(json.dumps([vars(v) for v in verdicts], indent=2))
    for v in verdicts:
        mark = "SKIP" if v.skipped else ("PASS" if v.ok else "FAIL")
        figures = " ".join(f"{k}={val}" for k, val in v.figures.items())
        print(f"{mark}  {v.name:<20} {v.seconds:5.1f} s  {v.skipped or figures}", file=sys.stderr)
        for problem in v.problems:
            print(f"      - {problem}", file=sys.stderr)
    failed = [v.name for v in verdicts if not v.ok]
    skipped = [v.name for v in verdicts if v.skipped]
    print(f"lab {lab.name}: {len(verdicts) - len(failed) - len(skipped)} passed, {len(skipped)} skipped, "
          f"{len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


def scenario_path(ref: str) -> Path:
    path = Path(ref)
    if path.suffix or path.exists():
        return path
    path = REPO_LABS.parent / f"{ref}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in REPO_LABS.parent.glob("*.yaml")))
        hint = did_you_mean(ref, (p.stem for p in REPO_LABS.parent.glob("*.yaml")))
        raise UsageError(f"no scenario named '{ref}'{hint}; scenarios: {known}")
    return path


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario through pytest (one test item per step); results in the run dir."""
    import pytest

    if args.lab:  # before the run dir or pytest: a bad --lab is a usage error, not a failed step
        labstate.checked(args.lab)
    path = scenario_path(args.scenario)
    result = validate_file(path)
    for line in result.messages:
        print(line, file=sys.stderr)
    if not result.ok or result.model is None:
        return 2
    need_root("run")
    from stacklab.runner.report import claim_run_dir

    out = claim_run_dir(Path(args.runs_dir), result.model.name)
    argv = [str(path), "-p", "no:cacheprovider", "-q", "-s", "-W", "ignore::pytest.PytestAssertRewriteWarning",
            "--run-dir", str(out),
            f"--junitxml={out / 'junit.xml'}", "--runs-dir", args.runs_dir, "--lab-backend", args.backend]
    argv += ["--keep"] if args.keep else []
    argv += ["--reuse"] if args.reuse else []
    argv += ["--lab-name", args.lab] if args.lab else []
    argv += ["-x"] if args.exitfirst else []
    from stacklab.runner.plugin import Validated

    code = pytest.main(argv, plugins=[Validated({path: result})])
    return 0 if code == 0 else 1


def add_commands(sub: Any) -> None:
    p = sub.add_parser("deploy", help="deploy the cloud onto a running lab (idempotent)")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("--only", help="comma-separated components (chrony,galera,...), in plan order")
    p.add_argument("file", nargs="?", metavar="FILE", help="lab or scenario file (default: the lab's own)")
    p.set_defaults(func=cmd_deploy)
    p = sub.add_parser("check", help="run health checks on a deployed lab (default: the healthy suite)")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("--json", action="store_true", help="print verdicts as JSON on stdout")
    p.add_argument("--list", action="store_true", help="list the checks with what they judge, and exit")
    p.add_argument("names", nargs="*", metavar="CHECK", help="check names (default: healthy = all)")
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("run", help="run a scenario: lab, deploy, steps, verdict (results under runs/)")
    p.add_argument("scenario", metavar="SCENARIO", help="scenario name (scenarios/NAME.yaml) or file")
    p.add_argument("--backend", default=engine.DEFAULT, choices=sorted(engine.BACKENDS))
    p.add_argument("--keep", action="store_true", help="leave the lab up afterwards (for stacklab shell)")
    p.add_argument("--reuse", action="store_true", help="use a lab already up with the same topology")
    p.add_argument("--lab", help="the lab to build, or with --reuse the one to reuse (default: any that fits)")
    p.add_argument("--runs-dir", default="runs", help="results folder (default: runs/)")
    p.add_argument("-x", "--exitfirst", action="store_true", help="stop at the first failed step")
    p.set_defaults(func=cmd_run)
