"""Robustness figures (no asserts on time): what ``stacklab validate`` costs on the largest
accepted lab and on the hostile corpus, and N up/down cycles of the ``ha`` lab with
their leftovers (must be 0).

Validation runs in the guarded child of the golden tests (tests/unit/guarded.py:
RLIMIT_AS, CPU budget per file), which reports in-process seconds per file and the
child's peak RSS; the first file of each child is a small valid lab, so its RSS is the
baseline after imports.

    python -m tests.bench.bench_robust --cycles 100      # root for the cycles; --cycles 0 skips them
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.bench.bench_lab import bench_cycles, row
from tests.unit.guarded import Outcome, validate_guarded
from tests.unit.hostile import GENERATED

ROOT = Path(__file__).resolve().parents[2]
BASELINE = "scenarios/labs/control.yaml"


def largest_lab() -> str:
    """The ha lab grown to the model's bounds: 64 nodes (computes in groups with
    16-character names, on 8-character networks), 8 networks, a 4000-character summary."""
    lab = yaml.safe_load((ROOT / "scenarios/labs/ha.yaml").read_text())
    lab["name"], lab["summary"] = "largest", "x" * 4000
    topo = lab["topology"]
    topo["networks"] |= {f"extnet{i}x": {"cidr": f"10.{100 + i}.0.0/24", "mtu": 9000} for i in range(4)}
    nets = ["mgmt", "overlay", "storage", *[f"extnet{i}x" for i in range(4)]]
    for g in "abcdefg":
        topo["nodes"][f"computegroup{g}xyz"] = {"count": 8, "roles": ["compute"], "networks": list(nets)}
    return yaml.safe_dump(lab, sort_keys=False)


def report(label: str, outcomes: list[Outcome], baseline: Outcome) -> None:
    times = [o.seconds for o in outcomes]
    row(f"validate {label}: files", len(outcomes), "")
    row(f"validate {label}: median per file", statistics.median(times) * 1000, "ms")
    row(f"validate {label}: max per file", max(times) * 1000, "ms")
    row(f"validate {label}: peak RSS (child)", max(o.peak_rss_kib for o in outcomes) / 1024, "MiB")
    row(f"validate {label}: RSS after imports", baseline.peak_rss_kib / 1024, "MiB")
    bad = [o.file for o in outcomes if o.code not in (0, 2)]
    if bad:
        print(f"  guard fired or crashed on: {', '.join(bad)}")


def guarded(files: list[str], cwd: Path) -> tuple[Outcome, list[Outcome]]:
    """(baseline outcome, outcomes of ``files``) from one guarded child."""
    found = validate_guarded([str(ROOT / BASELINE), *files], cwd)
    return found[str(ROOT / BASELINE)], [found[f] for f in files]


def bench_validate() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        (where / "largest.yaml").write_text(largest_lab())
        base, [largest] = guarded(["largest.yaml"], where)
        print(f"largest accepted lab: {(where / 'largest.yaml').stat().st_size} bytes, exit {largest.code}")
        report("largest accepted lab", [largest], base)
        base, [ha] = guarded([str(ROOT / "scenarios/labs/ha.yaml")], where)
        report("ha lab", [ha], base)
        corpus = sorted(str(p) for p in (ROOT / "tests/unit/data/invalid").glob("*.yaml"))
        (where / "generated").mkdir()
        for name, make in GENERATED.items():
            make(where / "generated" / f"{name}.yaml")
            corpus.append(f"generated/{name}.yaml")
        base, outcomes = guarded(corpus, where)
        report("invalid + hostile corpus", outcomes, base)
        slowest = max(outcomes, key=lambda o: o.seconds)
        print(f"  slowest: {slowest.file} ({slowest.seconds * 1000:.0f} ms)")
    laughs = ROOT / "tests/unit/data/invalid/yaml-billion-laughs.yaml"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "stacklab.cli", "validate", str(laughs)], capture_output=True,
                          check=False, timeout=120)
    row(f"stacklab validate billion laughs (whole process, exit {done.returncode})", time.perf_counter() - start, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cycles", type=int, default=100, help="up/down cycles of the ha lab (0: none)")
    args = parser.parse_args()
    bench_validate()
    if args.cycles:
        if os.geteuid() != 0:
            raise SystemExit("the up/down cycles need root")
        bench_cycles(f"kxr{os.getpid() % 1000}", args.cycles)


if __name__ == "__main__":
    main()
