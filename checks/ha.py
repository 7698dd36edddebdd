"""HA measurements from inside the lab: failover timing, API downtime/MTTR, data loss.

Every probe runs INSIDE a lab node (the client node, or a controller that is not the
target), as a detached transient unit, and hands its samples back on ``stop()``:

- ``VipProbe``       (checks.ha_vip)    → ``vip_failover_s``, the new VIP holder
- ``ApiProbe``       (checks.ha_api)    → ``api_downtime_s``, ``api_error_rate``, ``api_mttr_s``,
  ``api_latency_p95_s``
- ``GaleraWriter``   (checks.ha_galera) → ``galera_writes_lost``, ``galera_writes_duplicated``
- ``RabbitChecker``  (checks.ha_rabbit) → ``rabbit_messages_lost``

Results are dataclasses with the samples, ``metrics()`` (names of checks.catalog.METRICS)
and ``figures()`` (the rest). Fault times are the host's ``time.monotonic()``, the
same clock as the nodes' (checked at each start: ``checks.ha_run.check_clock``).

Standalone, while you apply faults with ``stacklab fault`` from another shell::

    python -m checks.ha vip --lab h6a --seconds 30
    python -m checks.ha api --lab h6a --seconds 30
    python -m checks.ha galera --lab h6a --seconds 30     # heal before it ends: it verifies
    python -m checks.ha rabbit --lab h6a --count 300
    python -m checks.ha holder --lab h6a
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from checks.cluster import vip_holders
from checks.ha_api import ApiProbe, ApiResult
from checks.ha_galera import GaleraReport, GaleraWriter
from checks.ha_metrics import Sample, Window
from checks.ha_rabbit import RabbitChecker, RabbitReport
from checks.ha_run import NodeProbe, check_clock, prober
from checks.ha_vip import VipProbe, VipResult
from checks.infra.base import open_lab
from lab.errors import LabError

__all__ = ["ApiProbe", "ApiResult", "GaleraReport", "GaleraWriter", "NodeProbe", "RabbitChecker", "RabbitReport",
           "Sample", "VipProbe", "VipResult", "Window", "check_clock", "prober"]

GRACE = 30.0  # beyond --seconds: the probe's own deadline ends it, this only bounds the wait


def _print(result: Any) -> None:
    print(json.dumps({"metrics": result.metrics(), "figures": result.figures(),
                      "problems": getattr(result, "problems", [])}, indent=2))


def _until_done(probe: VipProbe | ApiProbe, seconds: float, intro: str) -> None:
    """Say what runs, let the probe run its course, print its result (also on Ctrl-C)."""
    print(intro, file=sys.stderr)
    try:
        probe.probe.wait(seconds + GRACE)
    finally:
        _print(probe.stop())


def cmd_vip(a: argparse.Namespace) -> None:
    probe = VipProbe(a.lab, a.node, port=a.port, seconds=a.seconds, tls=a.tls).start()
    _until_done(probe, a.seconds, f"probing VIP {probe.vip}:{a.port} from {probe.node} for {a.seconds:g} s "
                f"(holder: {', '.join(probe.holders_before) or 'none'})")


def cmd_api(a: argparse.Namespace) -> None:
    probe = ApiProbe(a.lab, a.node, seconds=a.seconds).start()
    _until_done(probe, a.seconds, f"token requests from {probe.node} for {a.seconds:g} s")


def cmd_galera(a: argparse.Namespace) -> None:
    writer = GaleraWriter(a.lab, a.node, seconds=a.seconds).start()
    print(f"writing through the VIP from {writer.node} for {a.seconds:g} s into {writer.table}", file=sys.stderr)
    try:
        writer.probe.wait(a.seconds + GRACE)
    finally:
        writer.stop()
    _print(writer.verify())


def cmd_rabbit(a: argparse.Namespace) -> None:
    checker = RabbitChecker(a.lab, a.node, count=a.count, seconds=a.seconds).start()
    print(f"publishing {a.count} messages from {checker.node} to {checker.queue}", file=sys.stderr)
    try:
        checker.wait_done(a.seconds + GRACE)
    finally:
        checker.stop()
    _print(checker.verify())


def cmd_holder(a: argparse.Namespace) -> None:
    print(json.dumps({"vip_holders": vip_holders(open_lab(a.lab).inv)}))


def cmd_clock(a: argparse.Namespace) -> None:
    node = a.node or prober(a.lab)
    print(json.dumps({"node": node, "same_monotonic_clock": True, "bracket_s": round(check_clock(a.lab, node), 4)}))


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m checks.ha", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    for name, fn, help_ in (("vip", cmd_vip, "VIP failover timer"), ("api", cmd_api, "Keystone token stream"),
                            ("galera", cmd_galera, "acknowledged-writes checker"),
                            ("rabbit", cmd_rabbit, "confirmed-messages checker"),
                            ("holder", cmd_holder, "which controller holds the VIP"),
                            ("clock", cmd_clock, "verify a node shares the host's monotonic clock")):
        sp = sub.add_parser(name, help=help_)
        sp.set_defaults(fn=fn)
        sp.add_argument("--lab", required=True)
        sp.add_argument("--node", help="node to probe from (default: the client node)")
        sp.add_argument("--seconds", type=float, default=30.0)
        if name == "vip":
            sp.add_argument("--port", type=int, default=5000)
            sp.add_argument("--tls", action="store_true", help="time a TLS handshake too (a hung haproxy shows)")
        if name == "rabbit":
            sp.add_argument("--count", type=int, default=300)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        args.fn(args)
    except LabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
