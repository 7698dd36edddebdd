"""The check registry: a check is one function, declared where it is written.

A check module decorates each check with ``@check(name, summary, ...)``: its name in
scenario files, what it judges, the roles a lab needs for it to make sense, the
deployed component it needs (skipped otherwise) and whether it runs once per healthy
step instead of on every poll. Everything else is derived from these declarations: the
scenario schema's ``check`` enum, the healthy suite, ``stacklab check --list`` and the
README table.

Check modules are found, not listed: every module of ``checks.infra`` is imported on
first use (``checks()``). Keep those modules cheap to import (heavy imports inside the
functions): ``stacklab validate`` loads them to know the check names.

>>> sorted(checks())[:3]
['api_available', 'ceph_health_ok', 'ceph_objects_intact']
>>> checks()["galera_synced"].needs
'galera'
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checks.infra.base import Lab

SUITE = "healthy"  # the name of the whole health suite in scenario files and on the command line


@dataclass
class Verdict:
    """What a check found: passed or not, one line per problem, and figures (numbers a
    report or an ``expect`` step can use). A broken cluster is a failed verdict, never an
    exception; a check raises only when the lab itself is unusable."""

    name: str
    ok: bool = True
    problems: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    skipped: str = ""  # why the check does not apply to this lab
    blamed: list[str] = field(default_factory=list)  # the nodes the problems are on, when it can tell

    def fail(self, problem: str, *, blame: str = "") -> None:
        """A problem; ``blame``: the node it is on (an ``expect ... names:`` step compares these)."""
        self.ok = False
        self.problems.append(problem)
        if blame and blame not in self.blamed:
            self.blamed.append(blame)


CheckFn = Callable[["Lab", Verdict], None]


@dataclass(frozen=True)
class CheckSpec:
    name: str
    summary: str
    fn: CheckFn
    roles: tuple[str, ...] = ()  # the check only makes sense when some node has one of these roles
    needs: str = ""  # the deployed component it looks at; skipped on a lab without it
    # Run once per healthy step, after the polled checks pass, instead of on every poll:
    # for checks that take seconds or write to the cloud.
    once: bool = False


_CHECKS: dict[str, CheckSpec] = {}
_PACKAGES = ("checks.infra",)  # where check modules live
_NOT_CHECKS = {"checks.infra.base", "checks.infra.labhost"}  # the machinery checks run on, not checks
_found = False


def check(name: str, summary: str, *, roles: tuple[str, ...] = (), needs: str = "",
          once: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register the decorated function as the check ``name``."""

    def register(fn: CheckFn) -> CheckFn:
        if name in _CHECKS and _CHECKS[name].fn is not fn:
            raise ValueError(f"check '{name}' is declared twice: {_CHECKS[name].fn.__module__} and {fn.__module__}")
        _CHECKS[name] = CheckSpec(name, summary, fn, roles, needs, once)
        return fn

    return register


def checks() -> dict[str, CheckSpec]:
    """Every declared check by name (importing the check modules the first time)."""
    global _found
    if not _found:
        _found = True
        for package in _PACKAGES:
            pkg = importlib.import_module(package)
            for info in pkgutil.iter_modules(pkg.__path__):
                if f"{package}.{info.name}" not in _NOT_CHECKS:
                    importlib.import_module(f"{package}.{info.name}")
    return _CHECKS


def suite(*, once: bool) -> list[str]:
    """The health suite's checks that are polled (``once=False``), or that run once per healthy
    step after the polled ones pass (``once=True``: slow, or they write to the cloud)."""
    return [name for name, spec in checks().items() if spec.once == once]
