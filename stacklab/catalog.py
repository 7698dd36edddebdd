"""The scenario catalog run (``nox -s nightly``, or ``python -m stacklab.catalog``):
every scenario, grouped so that scenarios sharing a lab topology share one deployed
lab, one summary table, an ``index.html`` linking every report, the runs' JUnit in
one file, and one exit code (non-zero when any expectation failed).

Per group: ``stacklab up`` once, then ``stacklab run --reuse --lab`` for each scenario
(each deploys its own cloud variant over the lab, idempotently, and ends with heal +
healthy; a ``permanent: true`` scenario runs last in its group). After a failed
scenario the lab is healed and checked; if it is not healthy it is rebuilt before the
next one. The lab is removed at the end of its group, whatever happened.

Layout of ``OUT`` (default ``runs/catalog-TIME``): ``runs/TIME-SCENARIO/`` per run
(with its report.html), ``index.html``, ``junit.xml``, ``summary.txt``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from stacklab.catalog_page import index_page
from stacklab.validate import REPO_LABS, validate_file

SCENARIOS = REPO_LABS.parent


@dataclass
class Outcome:
    scenario: str
    group: int
    code: int
    run_dir: Path | None
    seconds: float
    verdict: str = "missing"
    prepare_s: float = 0.0


@dataclass
class Group:
    topology_hash: str
    lab_file: str  # what `stacklab up` is given (the first scenario's file)
    scenarios: list[Path] = field(default_factory=list)


def groups(paths: list[Path]) -> list[Group]:
    """Scenarios grouped by lab topology, in file order; permanent ones last in their group."""
    from lab.engine import topology_hash

    found: dict[str, Group] = {}
    permanent: set[Path] = set()
    for path in paths:
        result = validate_file(path)
        if not result.ok or result.topology is None or result.model is None:
            raise SystemExit("\n".join(result.messages) or f"{path}: invalid")
        key = topology_hash(result.topology)
        found.setdefault(key, Group(key, str(path))).scenarios.append(path)
        if getattr(result.model, "permanent", False):
            permanent.add(path)
    for group in found.values():
        group.scenarios.sort(key=lambda p: p in permanent)  # stable: file order otherwise
    return list(found.values())


def stacklab(*args: str, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "stacklab.cli", *args]
    print(f"[catalog] stacklab {' '.join(args)}", flush=True)
    return subprocess.run(argv, text=True, timeout=timeout, stdout=sys.stdout, stderr=sys.stderr)


def run_group(n: int, group: Group, runs: Path, prefix: str) -> tuple[list[Outcome], float]:
    """Each scenario of the group on one lab; (outcomes, seconds the lab took to come up)."""
    lab = f"{prefix}{n}"
    t0 = time.monotonic()
    outcomes: list[Outcome] = []
    up = stacklab("up", group.lab_file, "--name", lab)
    up_s = time.monotonic() - t0
    try:
        for path in group.scenarios:
            if up.returncode != 0:
                outcomes.append(Outcome(path.stem, n, up.returncode, None, 0.0, "lab not up"))
                continue
            outcomes.append(run_one(path, n, lab, runs))
            if outcomes[-1].code != 0 and not healthy_again(lab):
                stacklab("down", lab)
                up = stacklab("up", group.lab_file, "--name", lab)
    finally:
        stacklab("down", lab)
    return outcomes, up_s


def run_one(path: Path, n: int, lab: str, runs: Path) -> Outcome:
    import json

    before = set(runs.glob("*/result.json"))
    t0 = time.monotonic()
    done = stacklab("run", str(path), "--reuse", "--lab", lab, "--runs-dir", str(runs))
    seconds = time.monotonic() - t0
    new = sorted(set(runs.glob("*/result.json")) - before)
    if not new:
        return Outcome(path.stem, n, done.returncode or 1, None, seconds)
    result = json.loads(new[-1].read_text())
    return Outcome(path.stem, n, done.returncode, new[-1].parent, seconds, result.get("verdict", "?"),
                   float(result.get("prepare_seconds") or 0.0))


def healthy_again(lab: str) -> bool:
    """After a failed scenario: undo every recorded fault, then the health checks."""
    stacklab("fault", "--lab", lab, "heal")
    return stacklab("check", "--lab", lab).returncode == 0


def merge_junit(outcomes: list[Outcome], dest: Path) -> None:
    """Every run's junit.xml as one <testsuites> (a run without one is an error case)."""
    suites = ET.Element("testsuites", name="stacklab catalog")
    for o in outcomes:
        junit = o.run_dir / "junit.xml" if o.run_dir else None
        if junit and junit.is_file():
            root = ET.parse(junit).getroot()
            for suite in [root] if root.tag == "testsuite" else list(root):
                suite.set("name", o.scenario)
                suites.append(suite)
            continue
        suite = ET.SubElement(suites, "testsuite", name=o.scenario, tests="1", errors="1", failures="0")
        case = ET.SubElement(suite, "testcase", classname=o.scenario, name="run")
        ET.SubElement(case, "error", message=f"no results ({o.verdict}, exit {o.code})")
    ET.ElementTree(suites).write(dest, encoding="utf-8", xml_declaration=True)


def summary(outcomes: list[Outcome], wall: float, ups: list[float]) -> list[str]:
    lines = [f"{'scenario':<28} {'group':>5} {'verdict':<10} {'seconds':>8}  report"]
    for o in outcomes:
        report = o.run_dir / "report.html" if o.run_dir else "-"
        lines.append(f"{o.scenario:<28} {o.group:>5} {o.verdict:<10} {o.seconds:8.0f}  {report}")
    firsts: dict[int, float] = {}
    for o in outcomes:
        firsts.setdefault(o.group, o.prepare_s)
    lab_cost = [ups[g] + firsts.get(g, 0.0) for g in range(len(ups))]
    avoided = len(outcomes) - len(ups)
    mean = sum(lab_cost) / len(lab_cost) if lab_cost else 0.0
    lines.append(f"{len(outcomes)} scenarios on {len(ups)} labs in {wall:.0f} s; {avoided} lab builds + deploys "
                 f"avoided x {mean:.0f} s measured (up + first deploy, mean) = {avoided * mean:.0f} s saved")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stacklab.catalog", description=__doc__.split("\n\n")[0])
    parser.add_argument("scenarios", nargs="*", help="scenario files (default: every scenarios/*.yaml)")
    parser.add_argument("--out", help="results folder (default: runs/catalog-TIME)")
    parser.add_argument("--prefix", default="cat", help="lab names: PREFIX1, PREFIX2, ... (default: cat)")
    args = parser.parse_args(argv)
    paths = [Path(p) for p in args.scenarios] or sorted(SCENARIOS.glob("*.yaml"))
    out = Path(args.out or f"runs/catalog-{time.strftime('%Y%m%d-%H%M%S')}")
    (out / "runs").mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    outcomes: list[Outcome] = []
    ups: list[float] = []
    for n, group in enumerate(groups(paths)):
        done, up_s = run_group(n, group, out / "runs", args.prefix)
        outcomes += done
        ups.append(up_s)
    lines = summary(outcomes, time.monotonic() - t0, ups)
    merge_junit(outcomes, out / "junit.xml")
    (out / "summary.txt").write_text("\n".join(lines) + "\n")
    (out / "index.html").write_text(index_page(outcomes, out, lines[-1]))
    print("\n".join(lines), f"index: {out / 'index.html'}", sep="\n")
    return 0 if outcomes and all(o.code == 0 and o.verdict == "passed" for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())
