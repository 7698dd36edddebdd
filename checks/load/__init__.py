"""Load generation with locust, INSIDE a lab node, and its judgement (SLA gates).

A load target is a locustfile in this folder (a realistic user of one service) plus
the service it loads (a key of ``deployer.catalog.SERVICES``: a lab where no node runs
it cannot honour the target); ``checks.catalog.LOAD_TARGETS`` and the scenario schema's
``load.target`` enum come from ``TARGETS``. In-node files: the locustfiles and
``load_common.py`` (event log, stop file). Host side: ``node`` (run locust in a node,
copy its results back), ``gates`` (the figures and SLA gates from the event log),
``__main__`` (``nox -s load``: a baseline table per request type). ``TOOLS`` are
locustfiles for the bench only (locust's own ceiling), not scenario targets.

>>> sorted(TARGETS), TARGETS["keystone"].locustfile
(['galera', 'keystone'], 'keystone_user')
>>> "class KeystoneUser" in source("keystone_user")
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DIR = Path(__file__).parent
COMMON = "load_common"


@dataclass(frozen=True)
class Target:
    summary: str
    locustfile: str  # checks/load/<locustfile>.py, run by locust inside the node
    service: str  # the service behind it (deployer.catalog.SERVICES); "" for a tool


TARGETS: dict[str, Target] = {
    "keystone": Target("Keystone users (token issue/validate, project and user lists, project create/delete) "
                       "over TLS through the API VIP", "keystone_user", "keystone"),
    "galera": Target("an application's SQL mix (select, insert, update, a short transaction) through the "
                     "database VIP", "galera_user", "mariadb"),
}


# Locustfiles that measure the tooling, not a service: the bench runs them, scenarios cannot.
TOOLS: dict[str, Target] = {
    "ceiling": Target("GET / from a responder in the load node itself: locust's own ceiling", "ceiling_user", ""),
}


def source(name: str) -> str:
    """The text of the in-node file ``checks/load/<name>.py``."""
    return (DIR / f"{name}.py").read_text()
