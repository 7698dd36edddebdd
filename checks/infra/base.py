"""What checks run on: the ``Lab`` a check sees (inventory, testinfra hosts), and running
checks by name. The checks themselves are declared with ``checks.registry.check``.

A check fills a ``Verdict``: passed or not, one line per problem found, and
figures (numbers a report or an ``expect`` step can use). Checks never raise for a
broken cluster — that is a failed verdict; they raise only when the lab itself is
unusable (not up).

Example::

    v = run_check("galera_synced", "ha")
    v.ok, v.problems, v.figures      # True, [], {'wsrep_cluster_size': 3}
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import testinfra.host

from checks.infra.labhost import host, host_in
from checks.registry import Verdict, checks, suite
from deployer.deploy import deployed_cloud, deployed_components
from deployer.inventory import Inventory, from_state
from deployer.model import Cloud
from lab import engine
from lab.errors import LabError
from lab.model import Topology


@dataclass
class Lab:
    """What a check sees: the lab's inventory and testinfra hosts for its nodes.

    ``opened`` is the running lab, opened once; commands go through it. (None only for a
    Lab built without a running lab, as unit tests of check logic do: then the name is
    opened per command.)"""

    name: str
    inv: Inventory
    deployed: set[str]  # components the last deploy installed
    cloud: Cloud  # the cloud that deploy installed
    opened: engine.OpenLab | None = None
    _hosts: dict[str, testinfra.host.Host] = field(default_factory=dict, repr=False, compare=False)

    def host(self, node: str) -> testinfra.host.Host:
        if self.opened is None:
            return host(node, self.name)
        if node not in self._hosts:  # testinfra modules keep per-host caches: one Host per node
            self._hosts[node] = host_in(self.opened, node)
        return self._hosts[node]

    def controllers(self) -> list[str]:
        return self.inv.names("controller")

    def up(self, nodes: list[str]) -> list[str]:
        """The nodes that answer at all (a powered-off node is rc 255 from the lab backend)."""
        return [n for n, out in zip(nodes, self.each(nodes, "true"), strict=True) if out.rc != 255]

    def each(self, nodes: list[str], command: str) -> list[Any]:
        """Run ``command`` on every node at once; testinfra CommandResults in node order."""
        return side_by_side(lambda node: self.host(node).run(command), nodes)

    def prober(self) -> str:
        """A node to probe from: a client or other non-controller node when there is one."""
        others = [n for n in self.inv.names() if "controller" not in self.inv.hosts[n].roles]
        clients = self.inv.names("client")
        return (clients or others or self.controllers())[0]


T = TypeVar("T")
R = TypeVar("R")


def open_lab(lab: engine.LabRef | None) -> Lab:
    """The deployed lab as checks see it (the only lab up when None); its cloud and
    components are those the last deploy recorded."""
    opened = engine.open_lab(lab)
    st = opened.state
    cloud = deployed_cloud(st.lab)
    if cloud is None:
        raise LabError(f"lab '{st.lab}' has not been deployed: run `stacklab deploy --lab {st.lab}` first")
    inv = from_state(st, Topology.model_validate(st.topology), cloud)
    return Lab(st.lab, inv, deployed_components(st.lab), cloud, opened)


def run_check(name: str, lab: Lab) -> Verdict:
    verdict = Verdict(name)
    spec = checks()[name]
    if spec.needs and spec.needs not in lab.deployed:
        verdict.skipped = f"{spec.needs} is not deployed on this lab"
        return verdict
    start = time.monotonic()
    try:
        spec.fn(lab, verdict)
    except Exception as e:  # a check that breaks is a failed check with its reason, never a traceback
        verdict.fail(f"the check itself failed: {type(e).__name__}: {str(e).strip()[:300]}")
    verdict.seconds = round(time.monotonic() - start, 2)
    return verdict


def run_checks(names: list[str], lab: Lab) -> list[Verdict]:
    """Several checks at once (each one mostly waits on commands in the nodes), verdicts in order.

    A healthy-suite poll takes as long as its slowest check instead of the sum of all,
    which is what makes a scenario notice a converged cluster seconds sooner."""
    return side_by_side(lambda name: run_check(name, lab), names)


def side_by_side(fn: Callable[[T], R], items: list[T]) -> list[R]:
    """``fn`` on every item at once (one thread each: the work waits on the nodes); results in order."""
    with ThreadPoolExecutor(max_workers=len(items) or 1) as pool:
        return list(pool.map(fn, items))


def healthy(lab: Lab) -> list[Verdict]:
    """The built-in health suite: every declared check, the run-once ones after the others."""
    return run_checks(suite(once=False), lab) + run_checks(suite(once=True), lab)


__all__ = ["Lab", "Verdict", "healthy", "open_lab", "run_check", "run_checks", "side_by_side", "suite"]
