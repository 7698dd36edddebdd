"""How long haproxy takes to mark a backend DOWN after its service stops (``haproxy_detect_s``).

Polls the stats socket of the VIP holder's haproxy (inside that node) every 100 ms
from the moment of the fault until every server of the target node in the given
backend reports DOWN, bounded by a timeout. Expected: about inter × fall (+ one check
timeout), e.g. 1 s × 2 in the `control` lab.

Example::

    watch = HaproxyWatch("control-1234", holder="ctl1", target="ctl2", backend="keystone").start(t_fault)
    watch.result()    # 2.1 (seconds), or None if it never went DOWN within the timeout
"""

from __future__ import annotations

import threading
import time

from checks.cluster import server_status
from lab.engine import LabRef


class HaproxyWatch:
    def __init__(self, lab: LabRef, *, holder: str, target: str, backend: str = "keystone",
                 timeout: float = 60.0, interval: float = 0.1) -> None:
        self.lab, self.holder, self.target, self.backend = lab, holder, target, backend
        self.timeout, self.interval = timeout, interval
        self.detected_s: float | None = None
        self._thread: threading.Thread | None = None

    def start(self, fault_at: float) -> HaproxyWatch:
        self._thread = threading.Thread(target=self._watch, args=(fault_at,), daemon=True)
        self._thread.start()
        return self

    def _watch(self, fault_at: float) -> None:
        while time.monotonic() - fault_at < self.timeout:
            status = server_status(self.lab, self.holder, self.backend).get(self.target, "")
            if status.startswith("DOWN"):
                self.detected_s = round(time.monotonic() - fault_at, 3)
                return
            time.sleep(self.interval)

    def result(self) -> float | None:
        """Seconds from the fault to DOWN (waits for the watcher, bounded by its timeout)."""
        if self._thread is not None:
            self._thread.join(self.timeout + 5)
        return self.detected_s
