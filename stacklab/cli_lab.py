"""Lab subcommands of ``stacklab``: up, down, status, exec, shell, fault, image.

Each command is a small function over ``lab.engine``/``lab.faults``; user errors
(``LabError``) become one clear message and exit code 1, invalid files exit 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from deployer import service_faults
from deployer.catalog import image_packages
from lab import engine, faults, image
from lab import state as labstate
from lab.errors import LabError, UsageError
from lab.faultspec import LAB_FAULTS
from lab.model import Topology
from lab.problems import dotted
from stacklab.errors import problems_from
from stacklab.validate import REPO_LABS, validate_file


def say(line: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {line}", file=sys.stderr, flush=True)


def need_root(what: str) -> None:
    if os.geteuid() != 0:
        raise LabError(f"stacklab {what} needs root (network namespaces, containers, mounts): run it as root")


def load_topology(ref: str) -> tuple[str, Topology, str]:
    """(default lab name, topology, source file) from a lab name, lab file or scenario file."""
    path = Path(ref)
    if not path.suffix and not path.exists():
        path = REPO_LABS / f"{ref}.yaml"
        if not path.is_file():
            known = ", ".join(sorted(p.stem for p in REPO_LABS.glob("*.yaml")))
            raise UsageError(f"no lab named '{ref}'; labs: {known} (or give a lab or scenario file)")
    result = validate_file(path)
    for line in result.messages:
        print(line, file=sys.stderr)
    if not result.ok or result.topology is None:
        raise SystemExit(2)
    name = getattr(result.model, "lab", None) or getattr(result.model, "name", "lab")
    return str(name), result.topology, str(path)


def cmd_up(args: argparse.Namespace) -> int:
    default_name, topo, source = load_topology(args.lab)  # a bad file is reported without root, too
    need_root("up")
    name = args.name or default_name
    if args.reuse and (old := labstate.load(name)) is not None:
        if old.phase == "up" and old.topology_hash == engine.topology_hash(topo):
            say(f"lab {name}: already up with this topology; reusing it")
            return 0
        raise LabError(f"lab '{name}' exists but was built from another topology (or is half-built); "
                       f"`stacklab down {name}` first")
    st = engine.up(name, topo, packages=image_packages(), backend=args.backend, source=source, progress=say)
    say(f"lab {name}: up with {len(st.nodes)} nodes: {', '.join(st.nodes)}")
    say(f"next: stacklab status {name} | stacklab shell --lab {name} NODE | stacklab down {name}")
    return 0


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
        raise UsageError(f"unknown check {', '.join(unknown)}; allowed: healthy, {', '.join(checks())}")
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
        raise UsageError(f"no scenario named '{ref}'; scenarios: {known}")
    return path


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario through pytest (one test item per step); results in the run dir."""
    import pytest

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
    code = pytest.main(argv)
    return 0 if code == 0 else 1


def cmd_down(args: argparse.Namespace) -> int:
    need_root("down")
    if args.all == bool(args.name):
        raise UsageError("give a lab NAME or --all")
    names = sorted(engine.known_labs()) if args.all else [args.name]
    if args.all and not names:
        say("no stacklab lab on this host")
    for name in names:
        if not engine.down(name, progress=say):
            say(f"lab {name}: nothing to remove")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else sorted(engine.known_labs())
    reports = [engine.status(n) for n in names]
    if args.json:
        print(json.dumps(reports[0] if args.name else reports, indent=2))
        return 0
    if not reports:
        print("no stacklab lab on this host")
    for rep in reports:
        print(f"lab {rep['lab']} ({rep['backend']}, {rep['phase']}, from {rep['source']})")
        for node in rep["nodes"]:
            addrs = " ".join(f"{net}={a}" for net, a in node["addresses"].items())
            print(f"  {node['name']:<8} {node['state']:<8} {','.join(node['roles']) or '-':<24} {addrs}")
        for fault in rep["faults"]:
            print(f"  fault: {fault}")
        if rep["phase"] != "up":  # a killed or failed run: say what exists and how it goes away
            made = rep["made"]
            print(f"  half-built: {made['namespaces']} network namespaces, {made['containers']} containers "
                  f"({made['running']} running); `stacklab down {rep['lab']}` removes it")
    return 0


def cmd_exec(args: argparse.Namespace) -> int:
    argv = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
    if not argv:
        raise UsageError("nothing to run: stacklab exec NODE -- COMMAND ...")
    lab = engine.require(args.lab).lab
    done = engine.run(lab, args.node, argv, timeout=args.timeout)
    sys.stdout.buffer.write(done.stdout_bytes)
    sys.stderr.buffer.write(done.stderr_bytes)
    return done.returncode


def cmd_shell(args: argparse.Namespace) -> int:
    st = engine.require(args.lab)
    if args.node not in st.nodes:
        raise UsageError(f"lab '{st.lab}' has no node '{args.node}'; nodes: {', '.join(st.nodes)}")
    argv = engine.get_backend(st.backend).shell_argv(st.lab, args.node, ["/bin/bash", "-l"],
                                                      env={"TERM": os.environ.get("TERM", "xterm")})
    os.execvp(argv[0], argv)
    return 0  # pragma: no cover - execvp does not return


def cmd_fault(args: argparse.Namespace) -> int:
    need_root("fault")
    lab = engine.require(args.lab).lab
    if args.action == "heal":
        undone = faults.heal(lab)
        say(f"lab {lab}: healed {len(undone)} fault(s)")
        return 0
    params: dict[str, Any] = {"action": args.action}
    rest = list(args.params)
    if rest and "=" not in rest[0]:
        params["node"] = rest.pop(0)
    for item in rest:
        key, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"expected KEY=VALUE, got '{item}'")
        params[key] = yaml.safe_load(value)
    model = LAB_FAULTS.get(args.action) or service_faults.ServiceFault
    try:
        spec = model.model_validate(params)
    except ValidationError as e:
        for p in problems_from(e, model):
            print(f"stacklab fault {args.action}: {dotted(p.path)}: {p.message}", file=sys.stderr)
        return 2
    if isinstance(spec, service_faults.ServiceFault):
        for node in faults.resolve(engine.require(lab), spec.node):
            service_faults.apply(lab, node, spec.action, spec.service)
            faults.note(lab, spec.action, node, service_faults.unit_of(spec.service))
    else:
        faults.apply(lab, spec)
    say(f"lab {lab}: {args.action} applied ({', '.join(f'{k}={v}' for k, v in params.items() if k != 'action')})")
    return 0


def cmd_image(args: argparse.Namespace) -> int:
    if args.image_cmd == "ls":
        current = image.image_hash(image_packages())
        for img in image.list_images():
            m = img.manifest
            mark = "*" if img.hash == current else " "
            print(f"{mark} {img.hash}  {m.get('suite', '?'):<9} {m.get('size_bytes', 0) / 2**20:7.0f} MiB  "
                  f"built {m.get('built_at', '?')} in {m.get('build_seconds', '?')} s  {img.path}")
        return 0
    need_root(f"image {args.image_cmd}")
    if args.image_cmd == "build":
        build = image.build_image if args.force else image.ensure_image
        build(image_packages(), progress=say)
    else:
        keep = set() if args.all else {image.image_hash(image_packages())}
        removed = image.prune_images(keep)
        say(f"removed {len(removed)} image(s): {', '.join(removed) or '-'}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser("up", help="build the image if needed, wire and boot a lab")
    p.add_argument("lab", metavar="LAB_OR_SCENARIO", help="lab name (scenarios/labs/NAME.yaml), lab or scenario file")
    p.add_argument("--name", help="lab name on this host (default: the lab's name)")
    p.add_argument("--backend", default=engine.DEFAULT, choices=sorted(engine.BACKENDS))
    p.add_argument("--reuse", action="store_true", help="a lab of that name and topology already up is fine")
    p.set_defaults(func=cmd_up)
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
    p = sub.add_parser("down", help="remove a lab completely (works after a crash too)")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every stacklab lab on this host")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="labs, nodes, states, addresses, active faults")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("exec", help="run a command in a node; exits with its exit code")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("--timeout", type=float, default=None, help="seconds (default: none)")
    p.add_argument("node", metavar="NODE")
    p.add_argument("argv", nargs=argparse.REMAINDER, metavar="-- CMD ...")
    p.set_defaults(func=cmd_exec)
    p = sub.add_parser("shell", help="interactive shell in a node")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("node", metavar="NODE")
    p.set_defaults(func=cmd_shell)
    p = sub.add_parser("fault", help="apply a lab fault, or heal all of them",
                       description="Examples: fault power_off ctl1 | fault link_loss cmp1 network=overlay "
                       "percent=30 | fault partition groups='[[ctl1],[ctl2,ctl3]]' | "
                       "fault stop_service ctl2 service=keystone | fault heal")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    actions = [*sorted({*LAB_FAULTS, *service_faults.ACTIONS}), "heal"]
    p.add_argument("action", choices=actions, metavar="ACTION", help=f"one of: {', '.join(actions)}")
    p.add_argument("params", nargs="*", metavar="[NODE] KEY=VALUE")
    p.set_defaults(func=cmd_fault)
    p = sub.add_parser("image", help="the cached node image: build, ls, prune")
    isub = p.add_subparsers(dest="image_cmd", required=True, metavar="ACTION")
    b = isub.add_parser("build", help="build the image for the current package set (cached by hash)")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    isub.add_parser("ls", help="list cached images (* = the one labs use now)")
    pr = isub.add_parser("prune", help="remove images other than the current one")
    pr.add_argument("--all", action="store_true", help="remove the current one too")
    p.set_defaults(func=cmd_image)
