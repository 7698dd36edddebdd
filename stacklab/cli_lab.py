"""Lab subcommands of ``stacklab``: up, down, status, image; and the helpers every command uses.

Each command is a small function over ``lab.engine``; user errors (``LabError``) become
one clear message and exit code 1, invalid files exit 2. The other commands: nodes
(``cli_node``: exec, shell), faults (``cli_fault``), the cloud and scenarios
(``cli_cloud``: deploy, check, run), conformance (``cli_tempest``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from deployer.catalog import image_packages
from lab import engine, image
from lab import state as labstate
from lab.errors import LabError, UsageError
from lab.model import Topology
from stacklab.suggest import did_you_mean
from stacklab.validate import REPO_LABS, validate_file

QUIET = {"on": False}  # `stacklab --quiet`: no progress lines (CI logs keep results and errors)


def say(line: str) -> None:
    if not QUIET["on"]:
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
            hint = did_you_mean(ref, (p.stem for p in REPO_LABS.glob("*.yaml")))
            raise UsageError(f"no lab named '{ref}'{hint}; labs: {known} (or give a lab or scenario file)")
    result = validate_file(path)
    for line in result.messages:
        print(line, file=sys.stderr)
    if not result.ok or result.topology is None:
        raise SystemExit(2)
    name = getattr(result.model, "lab", None) or getattr(result.model, "name", "lab")
    return str(name), result.topology, str(path)


def cmd_up(args: argparse.Namespace) -> int:
    default_name, topo, source = load_topology(args.lab)  # a bad file is reported without root, too
    name = args.name or default_name
    if args.dry_run or args.xml_dir:
        return _dry_run(args, name, topo)
    need_root("up")
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


def _dry_run(args: argparse.Namespace, name: str, topo: Topology) -> int:
    """`up --dry-run --xml-dir DIR`: every definition the backend would make, written to DIR."""
    if not (args.dry_run and args.xml_dir):
        raise UsageError("--dry-run and --xml-dir go together: "
                         "stacklab up LAB --backend libvirt --dry-run --xml-dir DIR")
    files = engine.dry_run(name, topo, packages=image_packages(), backend=args.backend)
    out = Path(args.xml_dir)
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in sorted(files.items()):
        (out / fname).write_text(text)
        say(f"lab {name}: would define {fname} -> {out / fname}")
    say(f"lab {name}: dry run, nothing built or started ({len(files)} definitions in {out})")
    return 0


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
        print(f"  {'node':<10} {'state':<8} {'roles':<24} {'memory':>8}  addresses")
        for node in rep["nodes"]:
            addrs = " ".join(f"{net}={a}" for net, a in node["addresses"].items())
            mem = f"{node['memory_mib']} MiB" if node.get("memory_mib") is not None else "-"
            print(f"  {node['name']:<10} {node['state']:<8} {','.join(node['roles']) or '-':<24} {mem:>8}  {addrs}")
        for fault in rep["faults"]:
            print(f"  fault: {fault}")
        if rep["phase"] != "up":  # a killed or failed run: say what exists and how it goes away
            made = rep["made"]
            print(f"  half-built: {made['namespaces']} network namespaces, {made['containers']} containers "
                  f"({made['running']} running); `stacklab down {rep['lab']}` removes it")
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
    p.add_argument("--dry-run", action="store_true", help="write what the backend would define (with --xml-dir); "
                   "build and start nothing")
    p.add_argument("--xml-dir", metavar="DIR", help="where --dry-run writes the definitions (libvirt: domain XML)")
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("down", help="remove a lab completely (works after a crash too)")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--all", action="store_true", help="every stacklab lab on this host")
    p.set_defaults(func=cmd_down)
    p = sub.add_parser("status", help="labs, nodes, states, addresses, active faults")
    p.add_argument("name", nargs="?", metavar="NAME")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_status)
    p = sub.add_parser("image", help="the cached node image: build, ls, prune")
    isub = p.add_subparsers(dest="image_cmd", required=True, metavar="ACTION")
    b = isub.add_parser("build", help="build the image for the current package set (cached by hash)")
    b.add_argument("--force", action="store_true", help="rebuild even when cached")
    isub.add_parser("ls", help="list cached images (* = the one labs use now)")
    pr = isub.add_parser("prune", help="remove images other than the current one")
    pr.add_argument("--all", action="store_true", help="remove the current one too")
    p.set_defaults(func=cmd_image)
