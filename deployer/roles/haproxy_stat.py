"""haproxy's admin socket, read the same way by the deployer (rolling restarts wait
for a backend to be UP) and by the checks (``checks.cluster``), as
``deployer.roles.galera_sql`` is for Galera's status. Cheap to import: no templates.

>>> rows = parse_stat("# pxname,svname,status,bck\\nkeystone,ctl1,UP,0\\nkeystone,BACKEND,UP,0\\n")
>>> [(r["pxname"], r["svname"], r["status"]) for r in rows]
[('keystone', 'ctl1', 'UP')]
>>> states("# pxname,svname,status,bck\\nkeystone,ctl1,UP,0\\nmariadb,ctl2,DOWN,1\\n")
{('keystone', 'ctl1'): 'UP', ('mariadb', 'ctl2'): 'DOWN'}
"""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

from lab.errors import LabError

if TYPE_CHECKING:
    from deployer.context import Context

SOCKET = "/run/haproxy/admin.sock"
#: ``show stat`` as a shell command run in a controller (socat gives up after 2 s idle).
STAT = f"echo 'show stat' | socat -t 2 stdio unix-connect:{SOCKET}"


def command(line: str) -> str:
    """Any admin-socket command as a shell command (``set server keystone/ctl2 state drain``)."""
    return f"echo '{line}' | socat -t 2 stdio unix-connect:{SOCKET}"


def parse_stat(text: str) -> list[dict[str, str]]:
    """``show stat`` CSV as rows, servers only (no FRONTEND/BACKEND summary rows)."""
    rows = csv.DictReader(io.StringIO(text.lstrip("# ")))
    return [r for r in rows if r.get("svname") not in ("FRONTEND", "BACKEND")]


def states(text: str) -> dict[tuple[str, str], str]:
    """``{(backend, server): status}``; {} for an answer that is not a stat table."""
    if not text.startswith("# "):
        return {}
    return {(r["pxname"], r["svname"]): r["status"] for r in parse_stat(text)}


def server_states(ctx: Context, node: str) -> dict[tuple[str, str], str]:
    """{(backend, server): status} from haproxy's ``show stat`` on ``node`` ({} if no answer,
    or the node is not running)."""
    try:
        done = ctx.t.run(node, ["/bin/sh", "-c", STAT], check=False, timeout=10)
    except LabError:
        return {}
    return states(done.stdout) if done.ok else {}
