"""Run locust headless INSIDE a lab node, bounded, and copy its results back.

Locust runs as a transient systemd unit in the node (``systemd-run``): it outlives the
``lxc-attach`` that started it, and ``RuntimeMaxSec`` ends it should its own
``--run-time`` ever fail. Users, spawn rate and run time are always given, so it stops
by itself; the host may stop it earlier with the stop file (``load_common.py``), which
quits the way the run-time limit does, stats written.

Example::

    run = LocustRun("ld1", "cli1", "keystone", users=5, spawn_rate=5, run_time=30).start()
    run.wait_requests(20)          # a baseline exists
    ...                            # fault, heal
    events = run.finish(Path("runs/x/load-keystone"))   # events.jsonl + CSVs copied there
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from checks.ha_run import check_clock, parse_lines, wait_until
from checks.load import COMMON, TARGETS, TOOLS, source
from checks.load.gates import Event, to_events
from lab import engine
from lab.errors import LabError

ROOT = "/run/stacklab-load"
LOCUST = "/usr/bin/locust"  # Debian's python3-locust, baked into the image by the client role
MAX_RUN_TIME = 1800.0  # no load runs longer, whatever it is asked
# Locust's own ceiling on one lab node (tests/bench/bench_load.py, 2026-12-03: HttpUser, one
# process, ≈ 1500-1600 RPS on a loaded 2-core host). Figures near it measure locust, not the cloud.
CEILING_RPS = 1500.0
CEILING_PORT = 18080  # the bench's responder in the load node (loopback: no traffic leaves the node)
RESULTS = ("events.jsonl", "locust_stats.csv", "locust_stats_history.csv", "locust_failures.csv", "locust.log")


class LocustRun:
    """One locust run of a target's locustfile in ``node`` (see the module doc)."""

    def __init__(self, lab: engine.LabRef, node: str, target: str, *, users: int, spawn_rate: float, run_time: float,
                 options: dict[str, Any] | None = None, tags: tuple[str, ...] = ()) -> None:
        if target not in TARGETS and target not in TOOLS:
            raise LabError(f"unknown load target '{target}'; allowed: {', '.join(sorted(TARGETS))}")
        self.tags = tags  # locust --tags: only the tasks tagged so (the bench's token-issue-only run)
        self.lab, self.node, self.target = lab, node, target
        self.users, self.spawn_rate = int(users), float(spawn_rate)
        self.run_time = min(float(run_time), MAX_RUN_TIME)
        self.options = options or {}  # extra config.json keys, e.g. wait_min/wait_max (think time)
        self.config: dict[str, Any] = {}
        self.id = uuid.uuid4().hex[:8]
        self.dir = f"{ROOT}/{target}-{self.id}"
        self.unit = f"stacklab-load-{target}-{self.id}"
        self.started = 0.0
        self.lines: list[dict[str, Any]] | None = None

    def _run(self, argv: list[str], what: str, input: str | None = None, timeout: float = 30) -> str:
        done = engine.run(self.lab, self.node, argv, input=input, timeout=timeout)
        if not done.ok:
            raise LabError(f"load {self.unit} on {self.node}: {what}: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def argv(self) -> list[str]:
        """The locust command: headless, bounded three ways, CSV stats with full history."""
        return [LOCUST, "-f", f"{self.dir}/locustfile.py", "--headless", "--users", str(self.users),
                "--spawn-rate", f"{self.spawn_rate:g}", "--run-time", f"{int(self.run_time)}s", "--stop-timeout", "5",
                "--csv", f"{self.dir}/locust", "--csv-full-history", "--only-summary", "--exit-code-on-error", "0",
                "--logfile", f"{self.dir}/locust.log", "--loglevel", "INFO",
                *(["--tags", *self.tags] if self.tags else [])]

    def start(self) -> Self:
        """Check the clock, ship locustfile + helper + config (0600), start the unit."""
        check_clock(self.lab, self.node)
        self.config = {**CONFIGS[self.target][0](self.lab, self.node, self.id), **self.options}
        self._run(["install", "-d", "-m", "0700", ROOT, self.dir], "mkdir")
        locustfile = (TARGETS.get(self.target) or TOOLS[self.target]).locustfile
        files = {f"{COMMON}.py": source(COMMON), "locustfile.py": source(locustfile),
                 "config.json": json.dumps(self.config)}
        for name, text in files.items():
            self._run(["/bin/sh", "-c", f"umask 077; cat > {self.dir}/{name}"], f"write {name}", input=text)
        self._run(["systemd-run", "--quiet", "--collect", "--unit", self.unit, "--working-directory", self.dir,
                   "-p", f"RuntimeMaxSec={int(self.run_time) + 60}", *self.argv()],
                  "systemd-run")
        self.started = time.monotonic()
        return self

    def active(self) -> bool:
        return engine.run(self.lab, self.node, ["systemctl", "is-active", "--quiet", self.unit], timeout=30).ok

    def read(self) -> list[Event]:
        """The requests logged so far (locust keeps running)."""
        done = engine.run(self.lab, self.node, ["cat", f"{self.dir}/events.jsonl"], timeout=60)
        return to_events(parse_lines(done.stdout)) if done.ok else []

    def wait_requests(self, count: int, timeout: float = 120) -> None:
        """Until ``count`` requests succeeded (a baseline before any fault); fails early if locust died."""
        def enough() -> bool:
            if sum(e.ok for e in self.read()) >= count:
                return True
            if not self.active():
                raise LabError(f"locust ({self.target}) on {self.node} ended before {count} good requests: "
                               f"{self.journal()}")
            return False

        wait_until(f"{count} successful {self.target} requests from locust on {self.node}", enough, timeout, 0.5)

    def journal(self) -> str:
        return engine.run(self.lab, self.node, ["journalctl", "-u", self.unit, "-n", "15", "--no-pager", "-q"],
                          timeout=30).stdout.strip()[-1500:]

    def stop(self, grace: float = 20.0) -> None:
        """Ask locust to quit (stop file), and stop its unit if it has not within ``grace``."""
        if not self.active():
            return
        self._run(["touch", f"{self.dir}/stop"], "stop file")
        try:
            wait_until(f"locust unit {self.unit} on {self.node} to quit", lambda: not self.active(), grace, 0.3)
        except LabError:
            engine.run(self.lab, self.node, ["systemctl", "stop", self.unit], timeout=30)

    def finish(self, dest: Path | None = None) -> list[Event]:
        """Stop (if still running), copy results to ``dest``, clean the node; the events.

        Idempotent: a second call returns the same events."""
        if self.lines is None:
            self.stop()
            texts = {name: engine.run(self.lab, self.node, ["cat", f"{self.dir}/{name}"], timeout=60)
                     for name in RESULTS}
            if dest is not None:
                dest.mkdir(parents=True, exist_ok=True)
                for name, done in texts.items():
                    if done.ok:
                        (dest / name).write_text(done.stdout)
            self.lines = parse_lines(texts["events.jsonl"].stdout) if texts["events.jsonl"].ok else []
            engine.run(self.lab, self.node, ["rm", "-rf", self.dir], timeout=30)
            cleanup = CONFIGS[self.target][1]
            if cleanup is not None and self.config:
                cleanup(self.lab, self.config)
        return to_events(self.lines)

    def ended_cleanly(self) -> bool:
        """After ``finish``: locust wrote its end line (it quit, it was not killed)."""
        return any(line.get("ev") == "end" for line in self.lines or [])


def keystone_config(lab: engine.LabRef, node: str, run_id: str) -> dict[str, Any]:
    """The admin's credentials and the CA path from the node's clouds.yaml."""
    from checks.ha_api import credentials

    return credentials(lab, node)


def galera_config(lab: engine.LabRef, node: str, run_id: str) -> dict[str, Any]:
    """The application DB account (deployer/roles/galera_sql.py) through the VIP; a table of the run's own."""
    from checks.ha_galera import secret
    from checks.infra.base import open_lab
    from deployer.roles.galera_sql import APP_DB, APP_USER

    return {"host": open_lab(lab).inv.vip, "port": 3306, "user": APP_USER, "password": secret(lab, "db_stacklab"),
            "database": APP_DB, "table": f"{APP_DB}.load_{run_id}"}


def drop_table(lab: engine.LabRef, config: dict[str, Any]) -> None:
    """After a Galera load: drop its table on a running controller (it replicates)."""
    from checks.ha_galera import mysql
    from checks.ha_run import node_states
    from checks.infra.base import open_lab

    states = node_states(lab)
    node = next(n for n in open_lab(lab).inv.names("controller") if states.get(n) == "running")
    mysql(lab, node, f"DROP TABLE IF EXISTS {config['table']}")


# target -> (its locustfile's config.json, what to clean after it); a unit test keeps this in step with TARGETS
CONFIGS: dict[str, tuple[Callable[[engine.LabRef, str, str], dict[str, Any]],
                         Callable[[engine.LabRef, dict[str, Any]], None] | None]] = {
    "keystone": (keystone_config, None),
    "galera": (galera_config, drop_table),
    "ceiling": (lambda lab, node, run_id: {"url": f"http://127.0.0.1:{CEILING_PORT}"}, None),
}
