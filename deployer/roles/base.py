"""A deployable component: one service (or a small group) on the nodes of one or more roles.

Small interface: ``hosts`` (where), ``deploy`` (make it so, idempotently), ``ready``
(wait until it really works; derived from ``api`` for an API component) and ``units``
(what ``services_active`` checks). Components write files with ``ctx.put``/``ctx.template``
(which only touch what changed) and restart services only when their config changed.

A component declares itself on its class: ``name``, the ``roles`` whose nodes run it,
the plan ``stage`` it belongs to and the components of that stage it comes ``after``,
and the ``service`` (a key of ``deployer.catalog.SERVICES``: unit and packages) it runs;
an API component its ``api`` (``deployer.tls.Api``: ports and health path), from which
haproxy's frontend and backend are derived.
``deployer.plan`` finds the classes and derives the deploy order from these; the health
check derives the units to look at; the image its packages (from SERVICES).
"""

from __future__ import annotations

import abc
from typing import ClassVar

from deployer.catalog import SERVICES
from deployer.context import Context
from deployer.inventory import Host, Inventory
from deployer.model import Cloud
from deployer.tls import Api, wait_ready

_API_COMPONENTS: dict[str, type[Component]] = {}  # API name -> its component class


def api_components() -> list[type[Component]]:
    """Every component class (of the role modules imported: ``deployer.plan`` imports them
    all) that declares an ``api``, by API name."""
    return [_API_COMPONENTS[name] for name in sorted(_API_COMPONENTS)]


class Component(abc.ABC):
    name: ClassVar[str]
    roles: ClassVar[tuple[str, ...]] = ("controller",)
    stage: ClassVar[str] = "controller"  # one of deployer.plan.STAGE_NAMES
    after: ClassVar[tuple[str, ...]] = ()  # components of the same stage that must be deployed first
    service: ClassVar[str | None] = None  # its SERVICES key; None: ``name`` when that is one, else no unit
    api: ClassVar[Api | None] = None  # an HTTP API behind haproxy on the VIP (deployer.tls.Api)

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if cls.api is not None:
            _API_COMPONENTS[cls.api.name] = cls

    def service_name(self) -> str | None:
        return self.service or (self.name if self.name in SERVICES else None)

    def units(self, inv: Inventory, cloud: Cloud) -> list[tuple[str, str]]:
        """(node, systemd unit) this component keeps running: its service's unit on the nodes
        of its roles (every node when ``roles`` is empty)."""
        svc = self.service_name()
        if svc is None:
            return []
        unit = SERVICES[svc].unit.removesuffix(".service")
        return [(h.name, unit) for h in inv.hosts.values() if not self.roles or set(self.roles) & set(h.roles)]

    def hosts(self, ctx: Context) -> list[Host]:
        """The nodes this component runs on (default: every node with one of ``roles``)."""
        return [h for h in ctx.inv.hosts.values() if set(h.roles) & set(self.roles)]

    @abc.abstractmethod
    def deploy(self, ctx: Context) -> None:
        """Install configuration and start services; a second call changes nothing."""

    def ready(self, ctx: Context) -> None:
        """Block (polling, bounded) until the component works as a whole (cluster formed, ...).
        By default: an API component's URL answers on the VIP and every haproxy sees every
        backend UP (``deployer.tls.wait_ready``, timeouts from its ``api``); else nothing."""
        hosts = self.hosts(ctx)
        if self.api is not None and hosts:
            svc = self.service_name()
            wait_ready(ctx, self.api, hosts, SERVICES[svc].unit if svc else self.name)
