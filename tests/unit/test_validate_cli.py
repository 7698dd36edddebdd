"""The validate command on the shipped labs and on malformed input of every kind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from stacklab.cli import main

ROOT = Path(__file__).resolve().parents[2]
LABS = sorted((ROOT / "scenarios/labs").glob("*.yaml"))


def test_shipped_labs_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert LABS, "scenarios/labs/ holds no lab"
    assert main(["validate", *map(str, LABS)]) == 0
    out = capsys.readouterr().out
    assert out.count("ok: ") == len(LABS)


def test_ha_lab_shape() -> None:
    from stacklab.validate import validate_file

    result = validate_file(ROOT / "scenarios/labs/ha.yaml")
    assert result.ok and result.topology is not None
    names = result.topology.node_names()
    assert names == ["ctl1", "ctl2", "ctl3", "cmp1", "cmp2", "stor1", "stor2", "stor3"]
    assert set(result.topology.networks) == {"mgmt", "overlay", "public", "storage"}


def test_sausage_warns_about_two_node_galera_but_is_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "scenarios/labs/sausage.yaml")]) == 0
    assert "warning: 2 controllers and no 'galera-arbitrator'" in capsys.readouterr().err


def test_one_bad_file_among_good_ones_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    bad = ROOT / "tests/unit/data/invalid/yaml-tab.yaml"
    assert main(["validate", str(LABS[0]), str(bad)]) == 2
    captured = capsys.readouterr()
    assert "ok: " in captured.out and "tab character" in captured.err


MALFORMED = {
    "binary": b"\x00\xff\xfe garbage",
    "unclosed-flow": b"name: x\ntopology: {networks: [\n",
    "anchor-missing": b"name: *nothere\n",
    "deep-nonsense": b"name: x\ntopology:\n  networks:\n    mgmt: [1, 2]\n  nodes: 5\n",
    "key-is-list": b"? [a, b]\n: 1\n",
    "null-everything": b"name:\ntopology:\ncloud:\n",
    "huge-int": b"name: x\ntopology:\n  networks:\n    mgmt: {cidr: 10.0.0.0/24, mtu: 99999999999999999999999}\n",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_input_never_tracebacks(name: str, tmp_path: Path) -> None:
    path = tmp_path / f"{name}.yaml"
    path.write_bytes(MALFORMED[name])
    proc = subprocess.run([sys.executable, "-m", "stacklab.cli", "validate", str(path)],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"{path}"), proc.stderr


def test_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "no/such/file.yaml"]) == 2
    assert capsys.readouterr().err == "no/such/file.yaml: cannot read: No such file or directory\n"


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["validate"])
    assert exc.value.code == 2


def test_readme_scenario_example_is_valid(tmp_path: Path) -> None:
    from stacklab.validate import validate_file

    readme = (ROOT / "README.md").read_text()
    block = readme.split("## A scenario", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    scenario = tmp_path / "example.yaml"
    scenario.write_text(block)
    result = validate_file(scenario)
    assert result.ok, result.messages


def test_unknown_scenario_or_lab_name_exits_2_with_the_known_names(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("stacklab run: no scenario named 'no-such-scenario'; scenarios: ")
    assert "controller-failover" in err
    assert main(["up", "no-such-lab"]) == 2
    assert "no lab named 'no-such-lab'; labs: " in capsys.readouterr().err


@pytest.mark.parametrize("lab", ["../x", "ha.ctl1", "a/b"])
def test_run_refuses_a_hostile_lab_name_before_making_anything(lab: str, tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    assert main(["run", "controller-failover", "--lab", lab, "--reuse", "--runs-dir", str(runs)]) == 2
    assert capsys.readouterr().err.startswith(f"stacklab run: '{lab}' is not a valid lab name: ")
    assert not runs.exists()


def test_validate_formats_for_ci(capsys: pytest.CaptureFixture[str]) -> None:
    """--format json lists every finding with file, line and severity; github prints annotations."""
    import json

    bad = ROOT / "tests/unit/data/invalid/address-plan-exhausted.yaml"
    sausage = ROOT / "scenarios/labs/sausage.yaml"
    assert main(["validate", "--format", "json", str(bad), str(sausage)]) == 2
    found = json.loads(capsys.readouterr().out)
    want = (bad.with_suffix(".err").read_text().splitlines()[0]).split(":", 2)
    assert found[0]["line"] == int(want[1]) and found[0]["severity"] == "error"
    assert found[-1]["file"].endswith("sausage.yaml") and found[-1]["severity"] == "warning"
    assert main(["validate", "--format", "github", str(sausage)]) == 0
    assert capsys.readouterr().out.startswith(f"::warning file={sausage},line=14::topology.nodes: warning: ")


def test_unknown_names_get_a_suggestion(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "controler-failover"]) == 2
    assert "did you mean 'controller-failover'" in capsys.readouterr().err


def test_fault_values_are_read_with_the_file_bounds() -> None:
    """`stacklab fault partition groups=...`: 272 bytes of nested aliases took 5.4 s of
    pydantic validation (one more level: minutes); now refused before any lab is looked up."""
    from lab.errors import UsageError
    from stacklab.cli_fault import fault_params

    laughs = "[&a [ctl1, ctl1], &b [*a, *a, *a], &c [*b, *b, *b]]"
    with pytest.raises(UsageError, match=r"^groups=: yaml: anchors \(&a\) are not allowed"):
        fault_params("partition", [f"groups={laughs}"])
    with pytest.raises(UsageError, match=r"^percent=: yaml: explicit tags \(!!python/name:os.system\)"):
        fault_params("link_loss", ["cmp1", "percent=!!python/name:os.system ''"])
    assert fault_params("link_loss", ["cmp1", "network=overlay", "percent=30"]) == {
        "action": "link_loss", "node": "cmp1", "network": "overlay", "percent": 30}
