"""``stacklab tempest``: the upstream conformance suite against a deployed lab.

Runs on the lab's client node (``checks.tempest``); results land in
``runs/<time>-tempest-<lab>/`` (subunit, CSV-derived JUnit, summary.json). Exit 0 when
no test failed, 1 when some did, 2 for bad input.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from lab.errors import LabError
from stacklab.cli_lab import need_root, say


def cmd_tempest(args: argparse.Namespace) -> int:
    from checks import tempest
    from checks.infra.base import open_lab
    from deployer.deploy import context
    from deployer.tls import ca_path

    need_root("tempest")
    lab = open_lab(args.lab)
    if "keystone" not in lab.deployed:
        raise LabError(f"lab '{lab.name}' has no Keystone deployed: nothing for tempest to test")
    password = context(lab.name, lab.cloud, say=say).secrets.password("keystone_admin")
    out = Path(args.runs_dir) / f"{time.strftime('%Y%m%d-%H%M%S')}-tempest-{lab.name}"
    say(f"tempest {args.regex} on {lab.name} from {lab.prober()} ({args.concurrency} workers); "
        "the identity tests take a few minutes")
    started = time.monotonic()
    summary = tempest.run(lab, args.regex, out, concurrency=args.concurrency, admin_password=password,
                          cacert=ca_path(lab.name))
    c = summary["counts"]
    say(f"tempest: {c.get('success', 0)} passed, {c.get('skip', 0)} skipped, {tempest.failed(c)} failed "
        f"in {time.monotonic() - started:.0f} s; results in {out}/")
    for test in summary["failed"]:
        say(f"  FAIL {test}")
    if not c:
        raise LabError(f"tempest ran no test matching {args.regex!r} (see {out}/)")
    for pattern, evidence in tempest.SKEW.items():
        say(f"  skipped as upstream version skew: {pattern}\n    evidence: {evidence}")
    return 1 if tempest.failed(c) else 0


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("tempest", help="run the upstream API conformance suite (tempest) from a lab node")
    p.add_argument("--lab", help="lab name (may be omitted when one lab is up)")
    p.add_argument("regex", nargs="?", default="tempest.api.identity",
                   help="tests to run (default: tempest.api.identity)")
    p.add_argument("--concurrency", type=int, default=2, help="tempest workers (default: 2, one per core)")
    p.add_argument("--runs-dir", default="runs", help="results folder (default: runs/)")
    p.set_defaults(func=cmd_tempest)
