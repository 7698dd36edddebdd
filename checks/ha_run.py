"""Run a probe script inside a lab node, detached, and get its samples back.

A probe is a transient systemd unit in the node (``systemd-run``), so it survives the
``lxc-attach`` that started it, ``systemctl stop`` ends exactly the processes it made,
and ``RuntimeMaxSec`` bounds it even if the host side dies. The script itself stops at
its own deadline, its sample limit, or when the host creates its stop file; it writes
JSON lines the host reads back (``checks/probes/probe_common.py`` has the layout).

Clock: samples carry the node's ``time.monotonic()``. A node is a container on the
host's kernel (no time namespace), so that IS the host's CLOCK_MONOTONIC; every start
checks it (``check_clock``), so a fault time the runner takes with ``time.monotonic()``
on the host lines up with the samples.

Example::

    probe = NodeProbe("h6a", "cli1", "vip", {"vip": "10.40.0.5", ...}, seconds=60)
    probe.start()
    ...                      # fault, wait
    lines = probe.stop()     # samples and events; the node is left clean
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from checks.probes import COMMON, source
from lab import engine
from lab.errors import LabError

ROOT = "/run/stacklab-probe"
PYTHON = "/usr/bin/python3"  # never a host's pyenv shim (docs/facts.md)
MAX_SECONDS = 1800.0  # no probe runs longer, whatever it is asked


def wait_until(what: str, probe: Callable[[], bool], timeout: float, interval: float = 0.1) -> float:
    """Poll ``probe`` until true; seconds waited, or LabError naming what was awaited."""
    start = time.monotonic()
    while not probe():
        if time.monotonic() - start > timeout:
            raise LabError(f"timed out after {timeout:g} s awaiting {what}")
        time.sleep(interval)
    return time.monotonic() - start


def node_states(lab: engine.LabRef) -> dict[str, str]:
    """``{node: running|stopped|frozen|absent}`` (a frozen node must not be exec'd into)."""
    return engine.open_lab(lab).node_states()


def check_clock(lab: engine.LabRef, node: str) -> float:
    """Verify the node's CLOCK_MONOTONIC is the host's; returns the bracket width (s).

    The node's reading must fall between two host readings taken around the call. A
    backend whose nodes have clocks of their own (VMs) is refused before asking.
    """
    if not engine.open_lab(lab).backend.capabilities.shared_clock:
        raise LabError(f"lab {lab}: its backend's nodes do not share the host's clock; probe samples "
                       "cannot be lined up with the runner's fault times")
    before = time.monotonic()
    done = engine.run(lab, node, [PYTHON, "-c", "import time; print(repr(time.monotonic()))"], timeout=30)
    after = time.monotonic()
    if not done.ok:
        raise LabError(f"clock check on {node}: {done.stderr.strip()[:200]}")
    seen = float(done.stdout.strip())
    if not before <= seen <= after:
        raise LabError(f"node {node}'s monotonic clock ({seen:.6f}) is not the host's ({before:.6f}..{after:.6f}): "
                       "a time namespace? probe samples would not line up with fault times")
    return after - before


def prober(lab: engine.LabRef, avoid: tuple[str, ...] = ()) -> str:
    """Where probes run: a running non-controller node (the client), else a running
    controller not in ``avoid`` (e.g. the fault's target)."""
    opened = engine.open_lab(lab)
    st, states = opened.state, opened.node_states()
    up = [n for n in st.nodes if states.get(n) == "running" and n not in avoid]
    others = [n for n in up if "controller" not in st.nodes[n]["roles"]]
    if not (others or up):
        raise LabError(f"lab '{lab}' has no running node to probe from (avoiding {', '.join(avoid) or 'none'})")
    return (others or up)[0]


def parse_lines(text: str) -> list[dict[str, Any]]:
    """JSON lines; a torn last line (read while the probe writes) is skipped.

    >>> parse_lines('{"k": 1}\\n{"k"')
    [{'k': 1}]
    """
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


@dataclass
class NodeProbe:
    """One run of ``checks/probes/<script>.py`` in ``node`` (see the module doc)."""

    lab: engine.LabRef  # best an open lab: a probe is read every few hundred ms
    node: str
    script: str
    config: dict[str, Any]
    seconds: float
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    log: str = ""  # the unit's journal tail when the script did not end cleanly
    lines: list[dict[str, Any]] | None = None  # set by stop(); a second stop() returns them

    @property
    def dir(self) -> str:
        return f"{ROOT}/{self.script}-{self.id}"

    @property
    def unit(self) -> str:
        return f"stacklab-probe-{self.script}-{self.id}"

    def _run(self, argv: list[str], what: str, input: str | None = None, timeout: float = 30) -> str:
        done = engine.run(self.lab, self.node, argv, input=input, timeout=timeout)
        if not done.ok:
            raise LabError(f"probe {self.unit} on {self.node}: {what}: {(done.stderr or done.stdout).strip()[:300]}")
        return done.stdout

    def start(self) -> None:
        """Check the clock, ship script + config (0600: it may hold a password), start the unit."""
        seconds = min(float(self.seconds), MAX_SECONDS)
        check_clock(self.lab, self.node)
        self._run(["install", "-d", "-m", "0700", ROOT, self.dir], "mkdir")
        files = {f"{COMMON}.py": source(COMMON), "probe.py": source(self.script),
                 "config.json": json.dumps({**self.config, "seconds": seconds})}
        for name, text in files.items():
            self._run(["/bin/sh", "-c", f"umask 077; cat > {self.dir}/{name}"], f"write {name}", input=text)
        # RuntimeMaxSec: the outer bound should the script's own deadline ever fail.
        self._run(["systemd-run", "--quiet", "--collect", "--unit", self.unit, "--working-directory", self.dir,
                   "-p", f"RuntimeMaxSec={int(seconds) + 30}", PYTHON, f"{self.dir}/probe.py"], "systemd-run")

    def active(self) -> bool:
        done = engine.run(self.lab, self.node, ["systemctl", "is-active", "--quiet", self.unit], timeout=30)
        return done.ok

    def read(self) -> list[dict[str, Any]]:
        """Lines written so far (the probe keeps running)."""
        done = engine.run(self.lab, self.node, ["cat", f"{self.dir}/samples.jsonl"], timeout=60)
        return parse_lines(done.stdout) if done.ok else []

    def wait(self, timeout: float) -> None:
        """Until the script ended by itself (deadline, limit or done)."""
        wait_until(f"probe {self.unit} on {self.node} to finish", lambda: not self.active(), timeout, 0.2)

    def stop(self, grace: float = 15.0) -> list[dict[str, Any]]:
        """Ask the script to end, kill its unit if it does not within ``grace``, read
        its lines and remove its directory. Returns every line (samples and events)."""
        if self.lines is not None:
            return self.lines
        self._run(["touch", f"{self.dir}/stop"], "stop file")
        try:
            self.wait(grace)
        except LabError:
            engine.run(self.lab, self.node, ["systemctl", "stop", self.unit], timeout=30)
        lines = self.read()
        if not any(line.get("ev") == "end" for line in lines):
            self.log = engine.run(self.lab, self.node, ["journalctl", "-u", self.unit, "-n", "20", "--no-pager"],
                                  timeout=30).stdout
        self._run(["rm", "-rf", self.dir], "cleanup")
        self.lines = lines
        return lines

    def problems(self, what: str = "probe") -> list[str]:
        """After ``stop``: why the run is suspect (no end line, with the unit's journal; error events)."""
        out = [f"{what} ended without an end line; journal:\n{self.log}"] if self.log else []
        return out + [str(e) for e in events(self.lines or [], "error")]


class ProbeClient:
    """The host side every probe shares: its ``NodeProbe``, start, the fault time, ``with``.

    A subclass sets ``self.probe`` in ``__init__`` and implements an idempotent ``stop``."""

    probe: NodeProbe
    fault_t: float | None = None

    def start(self) -> Self:
        self.probe.start()
        return self

    def mark_fault(self, t: float | None = None) -> None:
        """Record the fault time (host CLOCK_MONOTONIC; default now)."""
        self.fault_t = time.monotonic() if t is None else t

    def stop(self) -> Any:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def samples(lines: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    """The samples of one kind (``k``), in time order."""
    return sorted((line for line in lines if line.get("k") == kind), key=lambda s: float(s["t"]))


def events(lines: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [line for line in lines if line.get("ev") == name]
