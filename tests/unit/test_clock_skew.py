"""The clock_skew fault: its parameters, its validation against the lab, and what it
does in a node that shares the host's clock (libfaketime for the named units), undone
by ``heal: [id]`` and, from its record alone, by ``heal: all``."""

from __future__ import annotations

import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from deployer import service_faults
from deployer.service_faults import ClockSkew
from lab import faults
from lab.backends.base import Capabilities, Completed
from stacklab.validate import validate_file


class RecordingNode:
    """A backend whose one node runs each command in a local shell with systemctl stubbed,
    under a scratch directory standing in for /run: the scripts really run."""

    name = "fake"

    def __init__(self, root: Path, own_wall_clock: bool = False) -> None:
        self.root = root
        self.capabilities = Capabilities(shared_clock=True, netns_survives_power_off=True,
                                         own_wall_clock=own_wall_clock)
        self.systemctl: list[str] = []

    def run(self, lab: str, node: str, argv: list[str], **kw: Any) -> Completed:
        script = argv[-1].replace("/run/", f"{self.root}/run/")
        stub = f"systemctl() {{ echo \"$*\" >> {self.root}/systemctl.log; }}; "
        done = subprocess.run(["/bin/sh", "-c", stub + script], capture_output=True, timeout=30)
        log = self.root / "systemctl.log"
        self.systemctl = log.read_text().splitlines() if log.exists() else []
        return Completed(node, argv, done.returncode, done.stdout, done.stderr, 0.0)


def skew(**kw: Any) -> ClockSkew:
    return ClockSkew.model_validate({"action": "clock_skew", "node": "ctl2", "offset": "-2h",
                                     "services": ["keystone"], **kw})


def test_offsets_are_signed_durations_within_a_year() -> None:
    assert skew(offset="+10m").offset == 600 and skew(offset=-30).offset == -30
    for bad in ("0s", "2h30x", "+9000h", 0):
        with pytest.raises(ValueError, match="offset"):
            skew(offset=bad)
    with pytest.raises(ValueError, match="services"):
        skew(services=[])


def test_a_service_the_node_does_not_run_is_refused_at_its_line(tmp_path: Path) -> None:
    scenario = {"name": "x", "lab": "control", "steps": [
        {"check": "healthy"},
        {"fault": {"action": "clock_skew", "node": "cli1", "offset": "-2h", "services": ["chrony", "keystone"]}}]}
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(scenario, sort_keys=False))
    (tmp_path / "labs").symlink_to(Path(__file__).resolve().parents[2] / "scenarios" / "labs")
    result = validate_file(path)
    assert not result.ok
    assert [m for m in result.messages if "keystone" in m] == [
        m for m in result.messages if "steps[1].fault.services[1]: no targeted node runs 'keystone'" in m]


def test_on_a_shared_clock_the_named_units_get_libfaketime_and_heal_takes_it_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "lib/x/faketime").mkdir(parents=True)
    (tmp_path / "lib/x/faketime/libfaketime.so.1").touch()
    monkeypatch.setattr(service_faults, "FAKETIME_GLOB", f"{tmp_path}/lib/*/faketime/libfaketime.so.1")
    be = RecordingNode(tmp_path)
    st = SimpleNamespace(lab="demo", faults=[])
    faults.VERBS["clock_skew"].apply(st, be, skew(), "ctl2")  # type: ignore[arg-type]
    dropin = tmp_path / "run/systemd/system/keystone.service.d" / service_faults.SKEW_DROPIN
    text = dropin.read_text()
    assert "Environment=FAKETIME=-7200\n" in text
    assert f"Environment=LD_PRELOAD={tmp_path}/lib/x/faketime/libfaketime.so.1\n" in text
    assert be.systemctl == ["daemon-reload", "restart keystone.service"]
    [entry] = st.faults
    assert entry["units"] == ["keystone.service"] and "libfaketime" in entry["note"]
    assert faults.VERBS["clock_skew"].restore(st, be, entry) == ""  # type: ignore[misc,arg-type]
    assert not dropin.exists()
    assert be.systemctl[-2:] == ["daemon-reload", "restart keystone.service"]
    assert faults.VERBS["clock_skew"].restore(st, be, entry) == ""  # type: ignore[misc,arg-type]
    assert len(be.systemctl) == 4  # nothing left to undo: no second restart


def test_without_libfaketime_nothing_is_changed_and_the_error_says_so(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service_faults, "FAKETIME_GLOB", f"{tmp_path}/none/*/libfaketime.so.1")
    st = SimpleNamespace(lab="demo", faults=[])
    with pytest.raises(Exception, match=r"clock_skew -7200s on keystone\.service"):
        faults.VERBS["clock_skew"].apply(st, RecordingNode(tmp_path), skew(), "ctl2")  # type: ignore[arg-type]
    assert st.faults == [] and not list(tmp_path.glob("run/systemd/system/*/*.conf"))


def test_a_backend_with_its_own_clocks_is_not_emulated(tmp_path: Path) -> None:
    st = SimpleNamespace(lab="demo", faults=[])
    with pytest.raises(Exception, match="not implemented"):
        faults.VERBS["clock_skew"].apply(st, RecordingNode(tmp_path, own_wall_clock=True), skew(), "ctl2")  # type: ignore[arg-type]
    assert st.faults == []


def test_a_clock_set_back_beyond_the_uptime_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """libfaketime moves the monotonic clock too: set back further than the node has been up,
    it would go negative (here: a year back, more than this machine's uptime)."""
    monkeypatch.setattr(service_faults, "FAKETIME_GLOB", "/bin/sh")  # exists: only the guard can stop it
    st = SimpleNamespace(lab="demo", faults=[])
    with pytest.raises(Exception, match="negative monotonic clock"):
        faults.VERBS["clock_skew"].apply(st, RecordingNode(tmp_path), skew(offset="-8760h"), "ctl2")  # type: ignore[arg-type]
    assert st.faults == []
