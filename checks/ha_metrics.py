"""Pure arithmetic on probe samples: outage windows, downtime, MTTR, percentiles, stalls.

Every time is the host's/nodes' CLOCK_MONOTONIC in seconds (see ``checks.ha_run``). A
sample's ``t`` is when it was sent; ``t + lat`` when its answer (or error) came back.

Definitions (OpenStack performance-docs reliability metrics, made precise):

- outage (``vip_failover_s``): first miss sent → first answer after the last miss
  (that answer's arrival). None when no answer followed the last miss. A failover is
  the FIRST outage: misses less than ``SETTLE_S`` apart are one (a VIP flapping while
  it moves); a later one is another event (a frozen holder that thaws 30 s later and
  takes the VIP back), counted apart.
- downtime (``api_downtime_s``): first failed request sent → last failed request sent,
  on an open-loop stream (a request every 0.25 s): how long new requests failed. A
  request hung until its client timeout does not stretch it (that time is the figure
  ``api_longest_failed_request_s``); 0 without errors or with a single one.
- MTTR (``api_mttr_s``): fault → start of the first run of ``hold`` consecutive good
  requests among those that ended after the fault (a request in flight when the fault
  hit saw it), good = succeeded within ``factor`` × the median latency of the requests
  that ended before the fault. 0 when the first ``hold`` of them are all good (the
  fault was not felt); None when it never recovered.

>>> s = [Sample("tcp", t / 10, t not in (3, 4, 5), 0.001) for t in range(10)]
>>> w = outage(s); (w.start, round(w.seconds, 3), w.misses)
(0.3, 0.301, 3)
>>> percentile([1, 2, 3, 4], 50)
2.5
"""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

SETTLE_S = 5.0  # answers for this long in a row end an outage; misses after that are another


@dataclass(frozen=True)
class Sample:
    """One probe observation; ``status``/``seq``/``node`` only where the probe has them."""

    kind: str
    t: float
    ok: bool
    lat: float
    err: str | None = None
    status: int | None = None
    seq: int | None = None
    node: str | None = None

    @property
    def end(self) -> float:
        return self.t + self.lat


@dataclass(frozen=True)
class Window:
    """A span of misses: ``end`` None when nothing answered after it."""

    start: float
    end: float | None
    misses: int

    @property
    def seconds(self) -> float | None:
        return None if self.end is None else self.end - self.start


def touched_by_fault(samples: Sequence[Sample], fault_t: float | None) -> list[Sample]:
    """The samples a fault at ``fault_t`` could have touched: those still running at it or
    later (all of them without a fault time). A request that ended before the fault cannot
    have been failed by it: a busy host's stray miss in the baseline is reported apart, not
    counted as failover.

    >>> [s.t for s in touched_by_fault([Sample("x", t, False, 0.5) for t in (1.0, 9.7, 10.2)], 10.0)]
    [9.7, 10.2]
    """
    return list(samples) if fault_t is None else [s for s in samples if s.end >= fault_t]


def outage(samples: Sequence[Sample]) -> Window | None:
    """First miss → first answer after the last miss; None when nothing was missed."""
    ordered = sorted(samples, key=lambda s: s.t)
    misses = [s for s in ordered if not s.ok]
    if not misses:
        return None
    last = misses[-1].t
    back = next((s for s in ordered if s.ok and s.t > last), None)
    return Window(misses[0].t, back.end if back else None, len(misses))


def first_outage(samples: Sequence[Sample], settle: float = SETTLE_S) -> Window | None:
    """The first outage: runs of misses joined while less than ``settle`` apart.

    >>> s = [Sample("x", t / 10, t not in (3, 4, 100), 0.0) for t in range(200)]
    >>> w = first_outage(s); (w.start, w.end, w.misses)
    (0.3, 0.5, 2)
    """
    found = windows(samples)
    if not found:
        return None
    first = found[0]
    for later in found[1:]:
        if first.end is not None and later.start - first.end >= settle:
            break
        first = Window(first.start, later.end, first.misses + later.misses)
    return first


def windows(samples: Sequence[Sample]) -> list[Window]:
    """Each run of consecutive misses, as its own window (a flapping VIP shows several).

    >>> [w.misses for w in windows([Sample("x", t, t % 3 != 0, 0.0) for t in range(7)])]
    [1, 1, 1]
    """
    found: list[Window] = []
    start, count = None, 0
    for s in sorted(samples, key=lambda s: s.t):
        if not s.ok:
            start, count = (s.t if start is None else start), count + 1
        elif start is not None:
            found.append(Window(start, s.end, count))
            start, count = None, 0
    if start is not None:
        found.append(Window(start, None, count))
    return found


def downtime(samples: Sequence[Sample]) -> float:
    """First failed request sent → last failed request sent; 0.0 without failures."""
    failed = [s.t for s in samples if not s.ok]
    return max(failed) - min(failed) if failed else 0.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile, linear between closest ranks (numpy's default); None if empty."""
    if not values:
        return None
    data = sorted(values)
    pos = (len(data) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(data) - 1)
    return data[low] + (data[high] - data[low]) * (pos - low)


def baseline(samples: Sequence[Sample], before: float) -> float | None:
    """Median latency of the successful samples that ended before ``before``."""
    lats = [s.lat for s in samples if s.ok and s.end <= before]
    return statistics.median(lats) if lats else None


def mttr(samples: Sequence[Sample], fault_t: float, factor: float = 3.0, hold: int = 5) -> float | None:
    """Fault → back at baseline latency for ``hold`` requests in a row (see the module doc).

    >>> ok = [Sample("api", t, True, 0.1) for t in range(5)]
    >>> bad = [Sample("api", 5 + t, False, 0.5) for t in range(3)]
    >>> back = [Sample("api", 8 + t, True, 0.1) for t in range(5)]
    >>> mttr(ok + bad + back, fault_t=4.5, hold=3)
    3.5
    """
    base = baseline(samples, fault_t)
    if base is None:
        return None
    limit = base * factor
    after = sorted((s for s in samples if s.end > fault_t), key=lambda s: s.t)
    good = [s.ok and s.lat <= limit for s in after]
    if all(good[:hold]):
        return 0.0
    first_bad = good.index(False)
    for i in range(first_bad + 1, len(after) - hold + 1):
        if all(good[i:i + hold]):
            return max(0.0, after[i].t - fault_t)
    return None


def longest_gap(times: Sequence[float]) -> tuple[float, float, float]:
    """(gap, from, to): the longest interval between consecutive times; zeros if < 2.

    >>> longest_gap([1.0, 1.1, 3.1, 3.2])
    (2.0, 1.1, 3.1)
    """
    ordered = sorted(times)
    if len(ordered) < 2:
        return (0.0, 0.0, 0.0)
    gap, i = max((b - a, i) for i, (a, b) in enumerate(itertools.pairwise(ordered)))
    return (gap, ordered[i], ordered[i + 1])


def rounded(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)
