"""report.html and --compare from a recorded run directory (no lab, no network).

The fixture ``data/runs/controller-failover`` is a real `stacklab run controller-failover`
on the `control` lab (2026-12-03, a busy host: the load's outage gate failed at 12.5 s >
12, so it also holds a real failed expectation), its samples thinned by
``tests/unit/data/runs/thin.py`` so it stays small.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from checks.panels import Panel
from stacklab.catalog import Outcome, groups, merge_junit
from stacklab.catalog_page import index_page
from stacklab.cli import main
from stacklab.report import compare_runs, render
from stacklab.report.compare import ratio
from tests.unit.report_checks import assert_self_contained, timeline_data

FIXTURE = Path(__file__).parent / "data" / "runs" / "controller-failover"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    dest = tmp_path / "20261203-160000-controller-failover"
    shutil.copytree(FIXTURE, dest)
    return dest


def result_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "result.json").read_text())


def rows(page: str) -> list[tuple[str, str, str, str, str]]:
    """(ok, expectation, bound, measured, outcome class) of every verdict-table row."""
    return re.findall(r'<tr data-ok="(true|false)"><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>'
                      r'<td class="(pass|fail)">', page)


def test_the_page_is_self_contained(run_dir: Path) -> None:
    page = render(run_dir).read_text()
    assert_self_contained(page)
    images = re.findall(r'<img [^>]*src="([^"]*)"', page)
    assert len(images) >= 2 and all(i.startswith("data:image/png;base64,") for i in images)
    assert "http://" not in page.replace("http://www.w3.org", "") and "https://" not in page


def test_every_expectation_row_with_bound_and_measured(run_dir: Path) -> None:
    result = result_of(run_dir)
    found = {r[1]: r for r in rows(render(run_dir).read_text())}
    expects = [s for s in result["steps"] if s["label"].startswith("expect ")]
    assert expects
    for step in expects:
        ok, _, bound, measured, css = found[step["label"]]
        metric = step["label"].split(" ")[1]
        assert bound == " ".join(f"{k} {v:g}" for k, v in step["bound"].items())
        assert measured == f"{step['figures'][metric]:.4g}"
        assert (ok, css) == ("true", "pass")
    gates = [g for s in result["steps"] for f in s["figures"].values() if isinstance(f, dict)
             for g in f.get("gates", [])]
    assert gates and all(any(label.endswith(" " + g["name"]) for label in found) for g in gates)


def test_a_failed_expectation_is_red(run_dir: Path) -> None:
    """The recorded run failed one load gate: that row, and only it, is red; then a metric
    expectation made to fail is red too."""
    page = render(run_dir).read_text()
    assert 'class="verdict-failed">FAILED' in page and ".fail{" in page and "#a50e0e" in page
    failed = [r for r in rows(page) if r[4] == "fail"]
    assert [(r[0], r[1], r[2], r[3]) for r in failed] == [("false", "load keystone max_outage_s", "max 12", "12.52")]
    result = result_of(run_dir)
    step = next(s for s in result["steps"] if s["label"].startswith("expect vip_failover_s"))
    step["status"], step["figures"]["vip_failover_s"] = "failed", 9.5
    step["detail"] = "vip_failover_s = 9.5 > max 5"
    (run_dir / "result.json").write_text(json.dumps(result))
    page = render(run_dir).read_text()
    row = next(r for r in rows(page) if r[1] == step["label"])
    assert row[0] == "false" and row[3] == "9.5" and row[4] == "fail"
    assert sum(r[4] == "fail" for r in rows(page)) == 2 and "vip_failover_s = 9.5 &gt; max 5" in page


def test_the_timeline_data_has_fault_heal_and_the_vip_move(run_dir: Path) -> None:
    result = result_of(run_dir)
    data = timeline_data(render(run_dir).read_text())
    zero = result["evidence"]["zero"]
    want = [(s["label"].split(" ")[0], round(s["at"] - zero, 3)) for s in result["steps"]
            if s["label"].split(" ")[0] in ("fault", "heal")]
    assert [(m["kind"], m["t"]) for m in data["markers"]] == want and want[0][0] == "fault"
    vip = result["metrics"]["figures"]["vip"]
    moves = data["vip_moves"]
    assert moves[0]["from"] == vip["vip_holders_before"][0] and moves[-1]["to"] == vip["vip_holders_after"][0]
    fault = want[0][1]
    assert fault < moves[-1]["t"] < fault + result["metrics"]["values"]["vip_failover_s"] + 2
    assert set(data["sources"]) == set(result["evidence"]["sources"])


def test_panels_come_from_the_run_not_from_a_list_of_families(run_dir: Path) -> None:
    """A source the report has never heard of (a new probe family) is drawn from its declaration."""
    result = result_of(run_dir)
    lines = [{"k": "health", "t": result["evidence"]["zero"] + t, "ok": True, "lat": 0.0,
              "status": "HEALTH_WARN" if 20 < t < 40 else "HEALTH_OK", "degraded": 12 if 20 < t < 40 else 0}
             for t in range(0, 60, 2)]
    (run_dir / "samples" / "ceph.jsonl").write_text("".join(json.dumps(ln) + "\n" for ln in lines))
    panels = [Panel("Ceph health", "health", "state", field="status").to_json(),
              Panel("Ceph PGs degraded", "health", "value", field="degraded", unit="PGs").to_json()]
    result["evidence"]["sources"]["ceph"] = {"file": "samples/ceph.jsonl", "node": "ctl1", "lines": len(lines),
                                             "panels": panels, "labels": {}}
    (run_dir / "result.json").write_text(json.dumps(result))
    data = timeline_data(render(run_dir).read_text())
    assert data["sources"]["ceph"]["panels"] == ["Ceph health", "Ceph PGs degraded"]


def test_a_panel_declaration_is_checked() -> None:
    with pytest.raises(ValueError, match="allowed: outcome, rate, state, value"):
        Panel("x", "k", "pie")
    with pytest.raises(ValueError, match="names the field"):
        Panel("x", "k", "state")


def test_compare_ratios(run_dir: Path, tmp_path: Path) -> None:
    other = tmp_path / "20261203-170000-controller-failover"
    shutil.copytree(run_dir, other)
    result = result_of(other)
    base = result_of(run_dir)["metrics"]["values"]["vip_failover_s"]
    result["metrics"]["values"]["vip_failover_s"] = round(base / 10, 4)  # e.g. VRRPv3 advert 0.1
    (other / "result.json").write_text(json.dumps(result))
    out, lines = compare_runs([run_dir, other], tmp_path / "cmp.html")
    line = next(ln for ln in lines if ln.startswith("vip_failover_s "))
    assert line.split()[-1] == ratio(round(base / 10, 4), base) == "0.10×"
    page = out.read_text()
    assert_self_contained(page)
    row = re.search(r"<tr><td>vip_failover_s</td><td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert row and row.groups() == (f"{base:.4g}", f"{base / 10:.4g}", "0.10×")
    assert re.search(r"<tr><td>api_downtime_s</td>(?:<td>[^<]*</td>){2}<td>1.00×</td>", page)


def test_cli_report_and_version(run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (run_dir / "report.html").unlink(missing_ok=True)
    assert main(["report", str(run_dir)]) == 0 and (run_dir / "report.html").is_file()
    assert main(["report", str(tmp_path)]) == 2
    assert "no result.json" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out.startswith("stacklab ")


def test_catalog_groups_scenarios_by_lab_topology() -> None:
    paths = sorted((ROOT / "scenarios").glob("*.yaml"))
    found = groups(paths)
    names = [[p.stem for p in g.scenarios] for g in found]
    control = next(n for n in names if "controller-failover" in n)
    assert {"controller-freeze", "haproxy-backend-down", "rabbit-partition"} <= set(control)
    assert sorted(p for n in names for p in n) == sorted(p.stem for p in paths)
    assert len(found) < len(paths)


def test_catalog_index_and_junit(run_dir: Path, tmp_path: Path) -> None:
    (run_dir / "junit.xml").write_text('<testsuites><testsuite name="pytest" tests="1" failures="0">'
                                       '<testcase classname="c" name="01 check healthy"/></testsuite></testsuites>')
    render(run_dir)
    outcomes = [Outcome("controller-failover", 0, 0, run_dir, 80.0, "passed"),
                Outcome("galera-two-node", 1, 1, None, 0.0, "lab not up")]
    merge_junit(outcomes, tmp_path / "junit.xml")
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testsuite ") == 2 and 'message="no results (lab not up, exit 1)"' in junit
    index = index_page(outcomes, tmp_path, "2 scenarios on 2 labs")
    assert f'href="{run_dir.name}/report.html"' in index and "1 passed, 1 failed" in index


def test_a_run_keeps_every_probe_s_raw_lines(tmp_path: Path) -> None:
    """keep_evidence writes each judged family's lines as they came and indexes them with the
    family's own panel declarations; a load's event log is indexed where the load left it."""
    from types import SimpleNamespace

    from checks.metrics import FAMILIES
    from stacklab.runner.evidence import keep_evidence
    from stacklab.runner.probes import ProbeSet

    lines = [{"ev": "start", "t": 9.0}, {"k": "tcp", "t": 10.0, "ok": True, "lat": 0.01, "err": None},
             {"k": "arp", "t": 10.0, "ok": True, "lat": 0.0, "mac": "0a:00:00:00:00:01"}]
    vip = FAMILIES["vip"].__new__(FAMILIES["vip"])
    vip.live = SimpleNamespace(probe=SimpleNamespace(lines=lines, node="cli1"),
                               labels={"mac": {"0a:00:00:00:00:01": "ctl1"}})
    probes = ProbeSet()
    probes.done["vip"] = vip
    (tmp_path / "load" / "01-keystone").mkdir(parents=True)
    (tmp_path / "load" / "01-keystone" / "events.jsonl").write_text('{"t": 11, "type": "x", "lat": 0.1, "ok": true}\n')
    index = keep_evidence(SimpleNamespace(probes=probes, results=[SimpleNamespace(at=9.5)]), tmp_path)  # type: ignore[arg-type]
    assert index["zero"] == 9.5
    src = index["sources"]["vip"]
    assert [json.loads(ln) for ln in (tmp_path / src["file"]).read_text().splitlines()] == lines
    assert (src["node"], src["lines"], src["labels"]) == ("cli1", 3, {"mac": {"0a:00:00:00:00:01": "ctl1"}})
    assert [p["title"] for p in src["panels"]] == [p.title for p in FAMILIES["vip"].panels]
    load = index["sources"]["load/01-keystone"]
    assert load["lines"] == 1 and load["panels"][0]["title"].startswith("load keystone")


def test_a_part_the_run_could_not_record_is_said_on_the_page(run_dir: Path) -> None:
    result = result_of(run_dir)
    for part in ("services", "lab_drawing", "evidence"):
        result[part] = {"error": f"{part}: LabError: ctl2 did not answer"}
    (run_dir / "result.json").write_text(json.dumps(result))
    page = render(run_dir).read_text()
    assert page.count("not recorded: ") == 3 and "ctl2 did not answer" in page
    assert rows(page) and "id=\"timeline\"" in page


@pytest.mark.parametrize("module", ["checks.panels", "stacklab.report", "stacklab.report.compare", "stacklab.suggest",
                                    "stacklab.completion", "stacklab.cli"])
def test_docstring_examples(module: str) -> None:
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0


def test_completion_lists_every_subcommand_and_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    from stacklab.completion import subparsers

    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    from stacklab.cli import build_parser

    assert all(f"        {name}) " in script for name in subparsers(build_parser()))
    assert "controller-failover" in script and script.rstrip().endswith("complete -o default -F _stacklab stacklab")


def test_chromium_opens_the_page_offline(run_dir: Path) -> None:
    """Headless Chromium renders the recorded run's page with every fetch bound to fail; the
    screenshot is kept under runs/artefacts/ (CI's .ci/setup installs chromium; e2e requires it)."""
    import shutil as sh

    from tests.unit.report_checks import screenshot

    if not sh.which("chromium"):
        pytest.skip("chromium is not installed (bash .ci/setup installs it)")
    shot = screenshot(render(run_dir), ROOT / "runs" / "artefacts" / "unit-controller-failover-report.png")
    assert shot.read_bytes().startswith(b"\x89PNG")
