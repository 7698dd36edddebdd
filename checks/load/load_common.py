"""What every locustfile shares INSIDE the node: its config, its per-request event log,
its stop file. Shipped beside the locustfile; locust puts the locustfile's folder on
``sys.path``, so ``from load_common import ...`` works there.

Layout of one load run inside the node (made by ``checks.load.node.LocustRun``)::

    /run/stacklab-load/<target>-<id>/config.json    parameters (0600: holds a password)
    /run/stacklab-load/<target>-<id>/events.jsonl   one line per request, appended as it goes
    /run/stacklab-load/<target>-<id>/stop           created by the host: quit now
    /run/stacklab-load/<target>-<id>/locust_*.csv   locust's own stats (--csv, --csv-full-history)

An event line is ``{"t": sent, "type": name, "lat": seconds, "ok": bool, "err": str|null}``,
``t`` being ``time.monotonic()`` at send: a node shares the host's kernel, so it lines up
with the runner's fault and heal times (``checks.ha_run.check_clock`` verifies it).
Locust's own ``start_time`` is wall-clock time, which can step; this log does not use it.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import gevent
from locust import events

DIR = os.path.dirname(os.path.abspath(__file__))
STOP = os.path.join(DIR, "stop")
LINE_LIMIT = 500_000  # events.jsonl never grows past this many lines, whatever the run time


def config() -> dict[str, Any]:
    with open(os.path.join(DIR, "config.json")) as f:
        cfg: dict[str, Any] = json.load(f)
    return cfg


class EventLog:
    """Appends one JSON line per request; the host reads the file while it grows."""

    def __init__(self, path: str) -> None:
        self.out = open(path, "a", buffering=1)  # noqa: SIM115  (line-buffered for the host's reads)
        self.count = 0

    def write(self, line: dict[str, Any]) -> None:
        if self.count < LINE_LIMIT and not self.out.closed:
            self.count += 1
            self.out.write(json.dumps(line, separators=(",", ":")) + "\n")

    def on_request(self, request_type: str, name: str, response_time: float, exception: BaseException | None = None,
                   **_: Any) -> None:
        lat = float(response_time or 0.0) / 1000.0
        err = None if exception is None else f"{type(exception).__name__}: {exception}".replace("\n", " ")[:200]
        # The event fires as the answer arrives: its send time is now minus its latency.
        self.write({"t": round(time.monotonic() - lat, 6), "type": name, "lat": round(lat, 6),
                    "ok": exception is None, "err": err})


LOG = EventLog(os.path.join(DIR, "events.jsonl"))
events.request.add_listener(LOG.on_request)


def _watch_stop_file(environment: Any) -> None:
    """The host's early stop: quit like the --run-time limit does (stats are written)."""
    while not os.path.exists(STOP):
        gevent.sleep(0.2)
    LOG.write({"ev": "stop", "t": time.monotonic()})
    environment.runner.quit()


@events.init.add_listener
def _on_init(environment: Any, **_: Any) -> None:
    LOG.write({"ev": "start", "t": time.monotonic(), "pid": os.getpid()})
    gevent.spawn(_watch_stop_file, environment)


@events.quitting.add_listener
def _on_quitting(**_: Any) -> None:
    LOG.write({"ev": "end", "t": time.monotonic(), "lines": LOG.count})


def timed(environment: Any, name: str, kind: str, call: Any) -> Any:
    """Run ``call()`` and report it to locust as one request (for non-HTTP users)."""
    t = time.perf_counter()
    exc: BaseException | None = None
    result = None
    try:
        result = call()
    except Exception as e:  # every failure is the request's outcome, reported, not raised
        exc = e
    environment.events.request.fire(request_type=kind, name=name, response_time=(time.perf_counter() - t) * 1000,
                                     response_length=0, exception=exc, context={})
    return result
