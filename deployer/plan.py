"""The order of a deploy, the OCI way: time first, then storage, then the control plane,
then computes and network nodes.

Nothing is listed here but the stages: components are the ``Component`` classes found in
``deployer.roles`` (each declares its ``stage`` and what it comes ``after``), and each
stage deploys its components in dependency order (ties alphabetical, so the order is
the same on every run).

>>> [s.name for s in STAGES]
['base', 'ceph-mon', 'ceph-osd', 'controller', 'compute', 'finish']
>>> STAGES[3].components
('galera', 'garbd', 'haproxy', 'keepalived', 'memcached', 'rabbitmq', 'keystone', 'neutron-server')
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from deployer import roles
from deployer.roles.base import Component

STAGE_NAMES = ("base", "ceph-mon", "ceph-osd", "controller", "compute", "finish")

# Roles whose components are not written yet: the deploy says so instead of pretending.
PENDING_ROLES: dict[str, str] = {}


@dataclass(frozen=True)
class Stage:
    name: str
    components: tuple[str, ...]  # keys of COMPONENTS, in order


def _discover() -> dict[str, type[Component]]:
    """Every concrete Component class in the modules of ``deployer.roles``, by name."""
    for info in pkgutil.iter_modules(roles.__path__):
        importlib.import_module(f"{roles.__name__}.{info.name}")
    found: dict[str, type[Component]] = {}
    todo = list(Component.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "name" in vars(cls):
            if cls.name in found and found[cls.name] is not cls:
                raise ValueError(f"component '{cls.name}' is declared twice: {found[cls.name]} and {cls}")
            found[cls.name] = cls
    return found


def _order(stage: str, comps: dict[str, type[Component]]) -> tuple[str, ...]:
    """The stage's components, each after the ones it names (Kahn; ties alphabetical)."""
    left = {name: set(cls.after) for name, cls in comps.items() if cls.stage == stage}
    for name, deps in left.items():
        if unknown := deps - set(left):
            raise ValueError(f"component '{name}' comes after {sorted(unknown)}, not in stage '{stage}'")
    done: list[str] = []
    while left:
        ready = sorted(n for n, deps in left.items() if deps <= set(done))
        if not ready:
            raise ValueError(f"stage '{stage}': components wait for each other: {sorted(left)}")
        done.append(ready[0])
        del left[ready[0]]
    return tuple(done)


COMPONENTS: dict[str, type[Component]] = _discover()
STAGES: tuple[Stage, ...] = tuple(Stage(s, _order(s, COMPONENTS)) for s in STAGE_NAMES)


def component(name: str) -> Component:
    return COMPONENTS[name]()


def critical_path(timings: dict[str, float]) -> tuple[list[str], float]:
    """The longest chain of deployed components through their ``after`` links, stage after
    stage (stages are barriers): what a deploy that ran independent components side by side
    would take at best, with its components. ``timings``: seconds per deployed component.

    >>> critical_path({"galera": 18.0, "rabbitmq": 34.0, "keystone": 60.0, "clouds": 12.0})
    (['rabbitmq', 'keystone', 'clouds'], 106.0)
    """
    path: list[str] = []
    total = 0.0
    for stage in STAGES:
        best: dict[str, tuple[float, list[str]]] = {}
        for name in stage.components:  # dependency order: every ``after`` is already in best
            if name not in timings:
                continue
            before = max((best[d] for d in COMPONENTS[name].after if d in best), default=(0.0, []))
            best[name] = (before[0] + timings[name], [*before[1], name])
        if best:
            seconds, chain = max(best.values())
            total += seconds
            path += chain
    return path, round(total, 2)
