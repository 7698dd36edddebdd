"""Where the kill-anywhere sweep pulls the plug: named progress points of ``up``,
``deploy`` and ``run``, each with a seeded jitter so that a sweep lands between and
inside the steps, yet a failing point can be replayed (same seed, same delay).

A point waits, on the host alone (files, namespaces, the command's own progress lines),
until its step was reached, sleeps its jitter, and then the whole process group of the
command gets SIGKILL, as an OOM killer or a closed laptop would.

    STACKLAB_KILL_SEED=7 pytest tests/lab/test_kill_anywhere.py -m nightly   # the full sweep
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

SEED = int(os.environ.get("STACKLAB_KILL_SEED", "1207"))


@dataclass
class Watch:
    """What a running command has made so far, seen from the host."""

    lab: str
    log: Path  # the command's stderr
    started: float

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def state(self) -> bool:
        return Path(f"/run/stacklab/{self.lab}/state.json").exists()

    def namespaces(self) -> int:
        return sum(1 for n in os.listdir("/run/netns") if n.startswith(f"sl-{self.lab}.")) \
            if os.path.isdir("/run/netns") else 0

    def count(self, pattern: str) -> int:
        """Files matching ``pattern`` under the lab's /var/lib/stacklab dir."""
        return sum(1 for _ in Path(f"/var/lib/stacklab/{self.lab}").glob(pattern))

    def consoles(self) -> int:
        """Nodes whose console already has output: booting containers."""
        return sum(1 for p in Path(f"/var/lib/stacklab/{self.lab}").glob("nodes/*/console.log")
                   if p.stat().st_size > 0)

    def said(self, words: str) -> bool:
        return words in self.text()

    def after(self, seconds: float) -> bool:
        return time.monotonic() - self.started >= seconds


@dataclass(frozen=True)
class KillPoint:
    id: str
    command: str  # up | deploy | run
    reached: Callable[[Watch], bool]
    jitter: float = 0.2  # upper bound of the seeded extra delay, seconds
    ci: bool = False  # part of the handful CI runs; the rest is nightly
    late_ok: bool = False  # the command may already have ended (its last step takes ≈ 0.1 s)

    def delay(self) -> float:
        return random.Random(f"{SEED}:{self.id}").uniform(0, self.jitter)


def _deploy_after(seconds: float) -> Callable[[Watch], bool]:
    return lambda w: w.after(seconds)


UP_POINTS = [
    KillPoint("up-state-written", "up", Watch.state, 0.05, ci=True),
    KillPoint("up-fabric-ns", "up", lambda w: w.namespaces() >= 1, 0.05),
    KillPoint("up-node-ns-1", "up", lambda w: w.namespaces() >= 2, 0.1),
    KillPoint("up-node-ns-5", "up", lambda w: w.namespaces() >= 6, 0.1),
    KillPoint("up-all-ns", "up", lambda w: w.namespaces() >= 9, 0.05),
    KillPoint("up-wiring", "up", lambda w: w.namespaces() >= 9, 0.5, ci=True),
    KillPoint("up-fabric-done", "up", lambda w: w.said("networks wired"), 0.05),
    KillPoint("up-node-dir-1", "up", lambda w: w.count("nodes/*") >= 1, 0.05),
    KillPoint("up-node-dirs-all", "up", lambda w: w.count("nodes/*") >= 8, 0.05),
    KillPoint("up-lxc-config-1", "up", lambda w: w.count("lxc/*/config") >= 1, 0.1),
    KillPoint("up-lxc-configs-all", "up", lambda w: w.count("lxc/*/config") >= 8, 0.1),
    KillPoint("up-booting-1", "up", lambda w: w.consoles() >= 1, 0.2, ci=True),
    KillPoint("up-booting-4", "up", lambda w: w.consoles() >= 4, 0.3),
    KillPoint("up-booting-all", "up", lambda w: w.consoles() >= 8, 0.5),
    KillPoint("up-booted", "up", lambda w: w.said("nodes booted"), 0.05),
    KillPoint("up-hosts-files", "up", lambda w: w.said("nodes booted"), 0.3, late_ok=True),
    KillPoint("up-finished", "up", lambda w: w.said("next: stacklab status"), 0.0, late_ok=True),
]
DEPLOY_POINTS = [
    KillPoint("deploy-early", "deploy", _deploy_after(1.0), 2.0, ci=True),
    KillPoint("deploy-mid", "deploy", _deploy_after(8.0), 6.0),
    KillPoint("deploy-late", "deploy", _deploy_after(20.0), 10.0),
]
RUN_POINTS = [
    KillPoint("run-during-up", "run", Watch.state, 0.5, ci=True),
    KillPoint("run-booted", "run", lambda w: w.said("nodes booted"), 0.5),
    KillPoint("run-deploying", "run", lambda w: w.said("nodes booted"), 12.0),
]
ALL_POINTS = UP_POINTS + DEPLOY_POINTS + RUN_POINTS
