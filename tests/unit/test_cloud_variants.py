"""A scenario names a lab and patches its cloud: one lab file serves the variants that
scenarios compare (cache modes, partition handling...). That ``lab`` and an inline
``topology`` exclude each other is a golden error (scenario-lab-and-topology)."""

from __future__ import annotations

from pathlib import Path

from stacklab.validate import validate_file

ROOT = Path(__file__).resolve().parents[2]
LABS = ROOT / "scenarios" / "labs"


def scenario(tmp_path: Path, cloud: str) -> Path:
    path = tmp_path / "variant.yaml"
    path.write_text(f"name: variant\nlab: control\ncloud:\n{cloud}\nsteps:\n  - check: healthy\n")
    (tmp_path / "labs").mkdir()
    (tmp_path / "labs" / "control.yaml").write_text((LABS / "control.yaml").read_text())
    return path


def test_a_variant_replaces_only_the_keys_it_gives(tmp_path: Path) -> None:
    lab = validate_file(LABS / "control.yaml")
    result = validate_file(scenario(tmp_path, "  keystone: {cache: local}\n  rabbitmq: {partition_handling: ignore}"))
    assert result.ok, result.messages
    assert result.cloud is not None and lab.cloud is not None
    assert (result.cloud.keystone.cache, result.cloud.rabbitmq.partition_handling) == ("local", "ignore")
    assert result.cloud.rabbitmq.queue_type == lab.cloud.rabbitmq.queue_type
    assert result.cloud.keepalived == lab.cloud.keepalived and result.cloud.haproxy == lab.cloud.haproxy
    assert result.cloud.keystone.processes == lab.cloud.keystone.processes


def test_a_bad_variant_is_reported_at_its_line_with_the_allowed_values(tmp_path: Path) -> None:
    result = validate_file(scenario(tmp_path, "  keystone: {processes: 2}\n  rabbitmq: {partition_handling: pause}"))
    assert not result.ok
    assert result.messages == [f"{tmp_path}/variant.yaml:5: cloud.rabbitmq.partition_handling: 'pause' is not "
                               "allowed; allowed: ignore, pause_minority, autoheal"]


def test_a_variant_known_to_break_a_check_must_fail_it_in_healthy_steps() -> None:
    from checks.registry import Verdict
    from stacklab.runner.session import known_broken

    lying = known_broken(Verdict("keystone_coherent", ok=False, problems=["ctl2 read v0"]))
    assert lying.ok and lying.figures["known_broken"] == ["ctl2 read v0"]
    honest = known_broken(Verdict("keystone_coherent"))
    assert not honest.ok and "known_broken" in honest.problems[0]


def test_known_broken_names_checks_not_the_suite() -> None:
    import pytest

    from stacklab.scenario import Scenario

    steps = [{"check": "healthy"}]
    assert Scenario.model_validate({"name": "x", "lab": "control", "known_broken": ["keystone_coherent"],
                                    "steps": steps}).known_broken == ["keystone_coherent"]
    for bad, why in ((["healthy"], "the whole suite"), (["keystone_coherentt"], "keystone_coherent")):
        with pytest.raises(ValueError, match=why):
            Scenario.model_validate({"name": "x", "lab": "control", "known_broken": bad, "steps": steps})
