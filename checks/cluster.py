"""Questions about the running cluster, asked in one place: who holds the VIP, what
haproxy thinks of its backends, which controller is Galera's write primary.

Checks, probes and the scenario runner's node selectors all ask here, so a question
has one answer (e.g. a frozen controller is never asked: running a command in it
would hang until it thaws).

>>> rows = parse_stat("# pxname,svname,status,bck\\nkeystone,ctl1,UP,0\\nkeystone,BACKEND,UP,0\\n")
>>> [(r["pxname"], r["svname"], r["status"]) for r in rows]
[('keystone', 'ctl1', 'UP')]
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from lab.errors import LabError

if TYPE_CHECKING:
    from deployer.inventory import Inventory
    from lab.backends.base import Completed
    from lab.engine import LabRef

STAT = "echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock"


def _run(lab: LabRef, node: str, argv: list[str], timeout: float) -> Completed:
    from lab import engine  # here: the check modules that parse with this one stay cheap to import

    return engine.run(lab, node, argv, timeout=timeout)


def parse_stat(text: str) -> list[dict[str, str]]:
    """haproxy ``show stat`` CSV as rows, servers only (no FRONTEND/BACKEND summary rows)."""
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return [r for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND")]


def haproxy_stat(lab: LabRef, node: str, timeout: float = 10) -> list[dict[str, str]]:
    """The server rows of ``node``'s haproxy."""
    return parse_stat(_run(lab, node, ["/bin/sh", "-c", STAT], timeout).stdout)


def server_status(lab: LabRef, holder: str, backend: str) -> dict[str, str]:
    """server name -> status (UP, DOWN, MAINT, 'UP 1/2', ...) in one haproxy backend."""
    return {r["svname"]: r["status"] for r in haproxy_stat(lab, holder) if r["pxname"] == backend}


def answering(lab: LabRef, nodes: list[str]) -> list[str]:
    """The nodes that run (not frozen, not powered off): the ones a command can be sent to."""
    from lab import engine

    states = engine.open_lab(lab).node_states()
    return [n for n in nodes if states.get(n) == "running"]


def vip_holders(inv: Inventory, lab: LabRef | None = None) -> list[str]:
    """The running controllers with the API VIP on an interface (``lab``: the open lab, if at hand)."""
    lab = lab or inv.lab
    return [n for n in answering(lab, inv.names("controller"))
            if f" {inv.vip}/" in _run(lab, n, ["ip", "-4", "-o", "addr", "show"], 20).stdout]


def vip_holder(inv: Inventory, lab: LabRef | None = None) -> str:
    """The one VIP holder; LabError when there is none or more than one."""
    holders = vip_holders(inv, lab)
    if len(holders) != 1:
        raise LabError(f"@vip_holder: VIP {inv.vip} is on {len(holders)} controllers ({', '.join(holders) or 'none'})")
    return holders[0]


def galera_primary(inv: Inventory) -> str:
    """The controller whose database takes the writes sent through the VIP: haproxy's
    active (non-backup) MariaDB server on the VIP holder."""
    holder = vip_holder(inv)
    for row in haproxy_stat(inv.lab, holder, timeout=20):
        if row["pxname"] == "mariadb" and row["svname"] in inv.hosts and row["bck"] == "0" \
                and row["status"].startswith("UP"):
            return row["svname"]
    raise LabError(f"@galera_primary: no active MariaDB server UP in haproxy on {holder}")
