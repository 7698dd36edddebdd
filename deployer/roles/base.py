"""A deployable component: one service (or a small group) on the nodes of one or more roles.

Small interface: ``hosts`` (where), ``deploy`` (make it so, idempotently) and ``ready``
(wait until it really works). Components write files with ``ctx.put``/``ctx.template``
(which only touch what changed) and restart services only when their config changed.
"""

from __future__ import annotations

import abc
from typing import ClassVar

from deployer.context import Context
from deployer.inventory import Host


class Component(abc.ABC):
    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]] = ("controller",)

    def hosts(self, ctx: Context) -> list[Host]:
        """The nodes this component runs on (default: every node with one of ``roles``)."""
        return [h for h in ctx.inv.hosts.values() if set(h.roles) & set(self.roles)]

    @abc.abstractmethod
    def deploy(self, ctx: Context) -> None:
        """Install configuration and start services; a second call changes nothing."""

    def ready(self, ctx: Context) -> None:  # noqa: B027 - optional hook: most components are ready when started
        """Block (polling, bounded) until the component works as a whole (cluster formed, ...)."""
