"""Scripts that run INSIDE lab nodes, never on the host (docs/facts.md, network safety).

Each probe is shipped into the node next to ``probe_common.py`` and started there
detached (a transient systemd unit, see ``checks.ha_run.NodeProbe``). They use
``/usr/bin/python3`` and only what the node image has: the standard library,
``pymysql`` (a Keystone dependency) and ``amqp`` (an oslo.messaging dependency).

>>> "def main" in source("vip")
True
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).parent
COMMON = "probe_common"


def source(name: str) -> str:
    """The text of the in-node script ``checks/probes/<name>.py``."""
    return (DIR / f"{name}.py").read_text()
