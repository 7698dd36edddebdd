"""Results of a scenario run: ``result.json``, the error lines of every service's journal,
and a one-screen verdict in the terminal.

Journal lines of priority err and worse (CRITICAL/ERROR) from the run's time window
are collected from every node, minus an allowlist of messages known to be harmless in
a lab (as Kolla's check-logs does), into ``logs/NODE.log``.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lab import engine
from stacklab.runner.evidence import keep_evidence, lab_drawing
from stacklab.runner.loads import gate_lines

if TYPE_CHECKING:
    from stacklab.runner.session import ScenarioRun

# Known-harmless error lines in these containers (regexes, searched in the message).
ALLOWLIST = [
    r"Failed to (?:mount|set up mount namespacing|connect to bus)",
    r"Failed to attach .* to compat systemd cgroup",
    r"systemd-journald.*(?:Failed to set|Failed to open)",
    r"unable to get device name",  # file-backed OSDs (docs/facts.md)
    r"ulimit|open files limit|RLIMIT_NOFILE",  # the sandbox's hard limit (docs/facts.md)
    r"chronyd.*(?:adjtimex|Could not open /dev/rtc)",
]
PACKAGES = ["keepalived", "haproxy", "mariadb-server", "galera-4", "rabbitmq-server", "memcached", "keystone",
            "chrony", "ceph-mon", "ceph-osd"]


def claim_run_dir(runs_dir: Path, scenario: str) -> Path:
    """A new results folder ``TIME-SCENARIO`` (``-2``, ``-3``... when runs of one scenario
    start in the same second), made atomically so that two runs never share one."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{scenario}"
    for n in range(1, 1000):
        out = runs_dir / (base if n == 1 else f"{base}-{n}")
        try:
            out.mkdir()
            return out
        except FileExistsError:
            continue
    raise FileExistsError(f"{runs_dir}: 999 runs of {scenario} in one second")


def write_results(run: ScenarioRun) -> Path:
    """result.json with the run's evidence (raw samples under samples/), then report.html."""
    out = run.run_dir()
    (out / "logs").mkdir(parents=True, exist_ok=True)
    run.probes.stop()  # the steps are over: a family a failed run never judged still has samples
    errors = collect_journal_errors(run, out / "logs")
    result = {
        "scenario": run.scn.name, "summary": run.scn.summary, "source": run.scn.source, "file": str(run.path),
        "lab": run.lab, "lab_created": run.created, "seed": run.seed, "started": run.started,
        "seconds": round(time.time() - run.started, 2), "prepare_seconds": run.prepared_seconds,
        "verdict": "passed" if all(r.status == "passed" for r in run.results) else "failed",
        "steps": [asdict(r) for r in run.results], "metrics": run.probes.all_metrics(),
        "journal_errors": errors, "packages": package_versions(run),
        "lab_drawing": extra(lab_drawing, run), "services": extra(service_states, run),
        "evidence": extra(keep_evidence, run, out),
    }
    (out / "result.json").write_text(json.dumps(result, indent=2, default=str))
    print_verdict(run, result, out)
    write_report(out, say=run.say)
    return out


def extra(part: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """A part of result.json that only the report reads: its failure is noted there (and in the
    page), never the reason a run has no result.json."""
    try:
        return part(*args)
    except Exception as e:
        return {"error": f"{part.__name__}: {type(e).__name__}: {e}"}


def write_report(out: Path, say: Callable[[str], None] = print) -> Path | None:
    """report.html beside result.json; a report that cannot be drawn does not fail the run."""
    from stacklab.report import render

    try:
        page = render(out)
    except Exception as e:  # the verdict stands without the page; say why there is none
        say(f"report: not written ({type(e).__name__}: {e}); try: stacklab report {out}")
        return None
    say(f"report: {page}")
    return page


def service_states(run: ScenarioRun) -> dict[str, dict[str, str]]:
    """``{node: {unit: active|inactive|failed|...}}`` at the end of the steps, for every unit
    the deployed components run there; a node that does not answer is ``{"*": "node down"}``."""
    from checks.infra.common import expected_units

    per_node: dict[str, list[str]] = {}
    for node, unit in expected_units(run.checks_lab):
        per_node.setdefault(node, []).append(unit)
    states: dict[str, dict[str, str]] = {}
    up = run.checks_lab.up(sorted(per_node))  # never exec into a frozen or stopped node
    for node, units in sorted(per_node.items()):
        if node not in up:
            states[node] = {"*": "node down"}
            continue
        done = engine.run(run.lab, node, ["systemctl", "is-active", *units], timeout=30)
        answers = done.stdout.split()
        states[node] = dict(zip(units, answers, strict=False)) if len(answers) == len(units) else {"*": "node down"}
    return states


def collect_journal_errors(run: ScenarioRun, logs: Path) -> dict[str, int]:
    allow = re.compile("|".join(ALLOWLIST))
    counts: dict[str, int] = {}
    since = f"@{int(run.steps_started)}"
    for node in run.inv.names():
        done = engine.run(run.lab, node, ["journalctl", "-p", "err", "--since", since, "-o", "short-iso",
                                          "--no-pager", "-q"], timeout=60)
        lines = [ln for ln in done.stdout.splitlines() if ln.strip() and not allow.search(ln)]
        counts[node] = len(lines)
        if lines:
            (logs / f"{node}.log").write_text("\n".join(lines) + "\n")
    return counts


def package_versions(run: ScenarioRun) -> dict[str, str]:
    node = run.inv.names()[0]
    done = engine.run(run.lab, node, ["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *PACKAGES], timeout=30)
    return dict(line.split(" ", 1) for line in done.stdout.splitlines() if " " in line)


def print_verdict(run: ScenarioRun, result: dict[str, Any], out: Path) -> None:
    lines = ["", f"scenario {run.scn.name}: {result['verdict'].upper()}  ({result['seconds']:.0f} s, lab {run.lab}, "
             f"seed {run.seed})"]
    for r in run.results:
        mark = {"passed": "ok  ", "failed": "FAIL", "error": "ERR ", "skipped": "skip"}[r.status]
        measured = ""
        if r.bound:
            value = next(iter(v for k, v in r.figures.items() if isinstance(v, int | float)), None)
            bounds = " ".join(f"{k} {v:g}" for k, v in r.bound.items())
            measured = f"  measured {value if value is None else format(value, '.3g')}  ({bounds})"
        lines.append(f"  {mark} {r.label:<48} {r.seconds:6.1f} s{measured}")
        lines += [f"         {line}" for line in gate_lines(r.figures)]  # a load's gates: measured vs bound
        if r.status != "passed" and r.detail:
            lines.append(f"       {r.detail[:300]}")
    if ceph := result["metrics"]["figures"].get("ceph"):  # the Ceph probe's phases: throughput and latency
        from checks.ceph_timeline import phase_table

        lines += ["  ceph client I/O per phase (1 MiB objects, one at a time):"]
        lines += [f"    {line}" for line in phase_table(ceph)]
    noisy = {n: c for n, c in result["journal_errors"].items() if c}
    if noisy:
        lines.append(f"  journal errors: {', '.join(f'{n}={c}' for n, c in noisy.items())} (see {out}/logs)")
    lines.append(f"  results: {out}/result.json")
    print("\n".join(lines), flush=True)
