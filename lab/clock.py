"""Letting time pass on purpose: a fault's length, a scenario's ``wait``, a load's run time.

This is not waiting for a condition (poll those with a timeout); the duration itself is
what was asked for. Sleeping in short slices keeps Ctrl-C and signal handlers prompt.

>>> import time; t = time.monotonic(); let_pass(0.05); 0.05 <= time.monotonic() - t < 1
True
"""

from __future__ import annotations

import time


def let_pass(seconds: float, until: float | None = None) -> None:
    """Return after ``seconds`` (or at the CLOCK_MONOTONIC deadline ``until``)."""
    deadline = until if until is not None else time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        time.sleep(min(0.5, left))
