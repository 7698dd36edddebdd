"""Scripts that run INSIDE lab nodes, never on the host (docs/facts.md, network safety).

Each probe is shipped into the node next to ``probe_common.py`` and started there
detached (a transient systemd unit, see ``checks.ha_run.NodeProbe``); a one-shot script
runs in the foreground with its arguments as JSON and answers one JSON line
(:func:`run_once`). They use
``/usr/bin/python3`` and only what the node image has: the standard library,
``pymysql`` (a Keystone dependency) and ``amqp`` (an oslo.messaging dependency).

>>> "def main" in source("vip")
True
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lab.engine import LabRef

DIR = Path(__file__).parent
COMMON = "probe_common"


def source(name: str) -> str:
    """The text of the in-node script ``checks/probes/<name>.py``."""
    return (DIR / f"{name}.py").read_text()


def run_once(lab: LabRef, node: str, name: str, mode: str, args: dict[str, Any], timeout: float,
             netns: str = "") -> Any:
    """``python3 - MODE ARGS_JSON`` with ``checks/probes/<name>.py`` on stdin, in ``node`` (in
    its network namespace ``netns`` when given: an instance's); the JSON of its last output
    line. LabError with the exit code and output tail if none."""
    from lab import engine
    from lab.errors import LabError

    argv = ["/usr/bin/python3", "-", mode, json.dumps(args)]
    done = engine.run(lab, node, ["ip", "netns", "exec", netns, *argv] if netns else argv, input=source(name),
                      timeout=timeout)
    try:
        return json.loads(done.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise LabError(f"{node}: {name} {mode}: exit {done.returncode}: "
                       f"{(done.stderr or done.stdout).strip()[-400:]}") from None
