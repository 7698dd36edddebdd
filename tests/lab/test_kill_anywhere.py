"""Kill anywhere: SIGKILL ``stacklab up``, ``deploy`` or ``run`` at one of 23 points
(tests/lab/killpoints.py), then ``stacklab status`` must say what is there and
``stacklab down NAME`` must leave nothing: no namespace, link, container, mount,
cgroup, process, directory, state or lock file (tests/lab/leaks.py).

CI runs the handful of points marked ``ci``; the rest are ``nightly``
(``nox -s nightly``). Each point has a seeded jitter (STACKLAB_KILL_SEED) so a failure
replays. Lab names start with ``kx`` (tests/lab/conftest.py records them for the
session's leak check).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from deployer.catalog import image_packages
from lab import engine
from stacklab.validate import validate_file
from tests.lab.conftest import ISSUED, ROOT, cli, require_lxc, wait_for
from tests.lab.killpoints import ALL_POINTS, SEED, KillPoint, Watch
from tests.lab.leaks import leftovers

CONTROL = ROOT / "scenarios/labs/control.yaml"
SCENARIO = "haproxy-backend-down"  # on the control lab: the cheapest scenario that deploys


def kill_name() -> str:
    name = f"kx{uuid.uuid4().hex[:6]}"
    ISSUED.add(name)
    return name


def params() -> list[object]:
    return [pytest.param(p, id=p.id, marks=() if p.ci else pytest.mark.nightly) for p in ALL_POINTS]


def argv(point: KillPoint, lab: str, tmp: Path) -> list[str]:
    base = [sys.executable, "-m", "stacklab.cli"]
    if point.command == "up":
        return [*base, "up", "ha", "--name", lab]
    if point.command == "deploy":
        return [*base, "deploy", "--lab", lab]
    return [*base, "run", SCENARIO, "--lab", lab, "--runs-dir", str(tmp / "runs")]


def kill_at(point: KillPoint, lab: str, tmp: Path) -> bool:
    """Start the command, wait for the point, sleep its jitter, SIGKILL its process group;
    True if the command was still running (the kill really came mid-way)."""
    log = tmp / f"{point.id}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv(point, lab, tmp), cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    watch = Watch(lab, log, time.monotonic())
    try:
        wait_for(lambda: point.reached(watch) or proc.poll() is not None, 600, f"{point.id} in {lab}", 0.01)
        time.sleep(point.delay())
        midway = proc.poll() is None
    finally:
        with contextlib.suppress(ProcessLookupError):  # finished first: a late kill must be harmless
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    return midway


def up_in_process(lab: str) -> None:
    """The lab a deploy point needs (deploy needs a lab; the control lab is the cheapest)."""
    topo = validate_file(CONTROL).topology
    assert topo is not None
    engine.up(lab, topo, packages=image_packages(), source=str(CONTROL), progress=print)


@pytest.mark.parametrize("point", params())
def test_kill_then_down_leaves_nothing(point: KillPoint, tmp_path: Path, node_image: object) -> None:
    require_lxc()
    lab = kill_name()
    print(f"kill point {point.id} (seed {SEED}, jitter {point.delay():.3f} s) on lab {lab}")
    try:
        if point.command == "deploy":
            up_in_process(lab)
        midway = kill_at(point, lab, tmp_path)
        assert midway or point.late_ok, f"{point.command} ended before the kill point"
        left = leftovers(lab)
        assert left, "the kill left nothing to clean up: this point tests nothing"
        status = cli("status", lab, timeout=120)
        assert "Traceback" not in status.stderr + status.stdout
        assert status.returncode == 0, status.stderr  # a half-built lab is reported with what exists
        assert f"lab {lab} (" in status.stdout, status.stdout
        if ", up, " not in status.stdout.splitlines()[0]:  # killed before up finished: says what exists
            assert "half-built: " in status.stdout and f"stacklab down {lab}" in status.stdout, status.stdout
    finally:
        down = cli("down", lab, timeout=300)
    assert down.returncode == 0, down.stderr
    assert leftovers(lab) == []
