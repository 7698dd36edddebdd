"""What every in-node probe shares: its config, its samples file, its stop file, its bounds.

Layout of one probe run inside the node (all made by ``checks.ha_run.NodeProbe``)::

    /run/stacklab-probe/<kind>-<id>/config.json     parameters (0600: may hold a password)
    /run/stacklab-probe/<kind>-<id>/samples.jsonl   one JSON object a line, appended as it goes
    /run/stacklab-probe/<kind>-<id>/stop            created by the host: finish now

Every loop is bounded three ways: the ``seconds`` deadline, ``max_samples`` lines, and
the stop file. Times are ``time.monotonic()``: a node shares the host's kernel, so this
is the host's CLOCK_MONOTONIC too (``checks.ha_run.check_clock`` verifies it).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from typing import Any


class Run:
    """One probe run: ``while run.go(): ... run.emit({...})``."""

    def __init__(self) -> None:
        self.dir = os.path.dirname(os.path.abspath(sys.argv[0]))
        with open(os.path.join(self.dir, "config.json")) as f:
            self.cfg: dict[str, Any] = json.load(f)
        self.started = time.monotonic()
        self.deadline = self.started + float(self.cfg["seconds"])
        self.limit = int(self.cfg.get("max_samples", 100_000))
        self.count = 0
        self._stop = os.path.join(self.dir, "stop")
        self._out = open(os.path.join(self.dir, "samples.jsonl"), "a", buffering=1)  # noqa: SIM115
        self._lock = threading.Lock()  # probes with requests in flight emit from several threads
        self.event("start", pid=os.getpid())

    def why_not(self) -> str:
        """'' while the probe may go on, else why it must end (stop, deadline, limit)."""
        if os.path.exists(self._stop):
            return "stop"
        if time.monotonic() >= self.deadline:
            return "deadline"
        if self.count >= self.limit:
            return "limit"
        return ""

    def go(self) -> bool:
        return not self.why_not()

    def emit(self, sample: dict[str, Any]) -> None:
        """Append one sample (a line: the host may read the file while we write)."""
        with self._lock:
            if self._out.closed:  # a request that outlived the run: its end line is written
                return
            self.count += 1
            self._out.write(json.dumps(sample, separators=(",", ":")) + "\n")

    def event(self, name: str, **fields: Any) -> None:
        """A line that is not a sample: start, end, or a probe-specific fact."""
        with self._lock:
            self._out.write(json.dumps({"ev": name, "t": time.monotonic(), **fields}) + "\n")

    def pause(self, seconds: float) -> None:
        """Pace the loop, but never past the deadline and never deaf to the stop file."""
        until = min(time.monotonic() + seconds, self.deadline)
        while time.monotonic() < until and not os.path.exists(self._stop):
            time.sleep(min(0.05, max(0.0, until - time.monotonic())))

    def end(self) -> None:
        self.event("end", reason=self.why_not() or "done", samples=self.count)
        with self._lock:
            self._out.close()


def error_text(exc: BaseException) -> str:
    """A short, one-line description of an exception for a sample."""
    return f"{type(exc).__name__}: {exc}".replace("\n", " ")[:200]
