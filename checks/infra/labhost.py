"""testinfra backend ``lab://``: run testinfra modules inside lab nodes.

testinfra keeps its backends in a plain dict (``testinfra.backend.BACKENDS``); adding
``"lab"`` there makes ``testinfra.get_host("lab://ctl1")`` and ``pytest
--hosts=lab://ctl1`` work everywhere. The stacklab pytest plugin imports this module,
so the registration is in place before pytest parses ``--hosts``.

Host specs: ``lab://NODE`` (the only lab that is up, or ``$STACKLAB_LAB``) and
``lab://NODE.LAB``. Commands run through the lab's node backend (lxc-attach), with
the node's own /usr/bin/python3 and a clean environment.

Example::

    host("ctl1").service("keepalived").is_running
    testinfra.get_host("lab://ctl1.ha").interface("mgmt0").addresses
"""

from __future__ import annotations

import os
from typing import Any

import testinfra
import testinfra.backend
from testinfra.backend.base import BaseBackend, CommandResult

from lab import engine
from lab.errors import LabError

NAME = "lab"


class LabBackend(BaseBackend):
    NAME = NAME

    def __init__(self, hostname: str, *args: Any, opened: engine.OpenLab | None = None, **kwargs: Any) -> None:
        node, _, lab = hostname.partition(".")
        self.node = node
        self.lab: engine.LabRef | None = opened or lab or os.environ.get("STACKLAB_LAB") or None
        super().__init__(hostname, *args, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> CommandResult:
        cmd = self.get_command(command, *args)
        lab = self.lab or engine.require(None).lab
        try:
            done = engine.run(lab, self.node, ["/bin/sh", "-c", cmd], timeout=kwargs.get("timeout", 120))
        except LabError as e:
            # A powered-off, frozen or wedged node is what faults make: to a check it is a
            # failed command (as an unreachable host is to testinfra's ssh backend), not a crash.
            return self.result(255, self.encode(cmd), b"", f"{self.node}: {e}".encode())
        return self.result(done.returncode, self.encode(cmd), done.stdout_bytes, done.stderr_bytes)


def register() -> None:
    testinfra.backend.BACKENDS[NAME] = f"{__name__}.LabBackend"


def host(node: str, lab: str | None = None) -> testinfra.host.Host:
    """A testinfra Host for a lab node, by name (testinfra caches it per host spec)."""
    register()
    return testinfra.get_host(f"{NAME}://{node}" + (f".{lab}" if lab else ""))


def host_in(opened: engine.OpenLab, node: str) -> testinfra.host.Host:
    """A testinfra Host for a node of a lab that is already open (commands go through it)."""
    return testinfra.host.Host(LabBackend(f"{node}.{opened.name}", opened=opened))


register()
