"""The node backend interface between the lab and whatever runs nodes.

Two small interfaces: ``Console`` reaches into running nodes (run a command, the argv
of an interactive shell, memory in use) and ``Backend`` adds the nodes' lifecycle
(preflight, up, down, status, power, and finding labs on the host). A backend also
declares its ``Capabilities``: facts other code would otherwise assume from LXC.
Backends live in ``lab/backends/<name>/`` and are registered by name in
``lab.backends``; nothing outside their package imports them.

A backend turns :class:`NodeSpec` s into running machines (systemd as PID 1) that boot
from an :class:`~lab.image.Image`, runs commands in them, and tears a whole lab down
from what it finds on the host, so ``down`` works after the harness was SIGKILLed.

Example::

    backend = LxcBackend()
    backend.preflight()
    backend.up("demo", [NodeSpec("ctl1", "ctl1", Path("/run/netns/sl-demo.ctl1"))], image)
    print(backend.run("demo", "ctl1", ["hostname"]).stdout)      # ctl1
    backend.power("demo", "ctl1", "freeze")
    backend.status("demo")                                        # {'ctl1': 'frozen'}
    backend.down("demo")

Network wiring is not the backend's job: the fabric creates each node's network
namespace first and the backend only puts the node into it.
"""

from __future__ import annotations

import abc
import dataclasses
from pathlib import Path
from typing import ClassVar, Literal

from lab.errors import UsageError
from lab.image import Image

PowerAction = Literal["off", "on", "freeze", "thaw"]
NodeState = Literal["running", "stopped", "frozen", "absent"]


@dataclasses.dataclass(frozen=True)
class NodeNic:
    """One planned interface of a node. Containers get theirs from the fabric (a veth end
    in their namespace); a backend whose nodes have their own kernel (VMs) configures
    them inside the node and puts its own ports on the fabric's bridges."""

    network: str
    ifname: str
    address: str  # CIDR
    mtu: int
    rate_mbit: float | None = None  # standing rate of the link (shaped on the fabric side)


@dataclasses.dataclass(frozen=True)
class NodeSpec:
    """One node to boot.

    ``netns_path`` is the network namespace the fabric made for it (e.g.
    ``/run/netns/sl-LAB.ctl1``); ``None`` gives the node a fresh namespace with only
    ``lo`` (handy in tests). ``memory_mib`` caps the node's memory cgroup, ``cpus`` its
    CPU time (in cores: 0.5 is half of one core, however many processes it runs).
    """

    name: str
    hostname: str
    netns_path: Path | str | None = None
    memory_mib: int | None = None
    cpus: float | None = None
    nics: tuple[NodeNic, ...] = ()


@dataclasses.dataclass(frozen=True)
class Completed:
    """The result of :meth:`Backend.run`: exit code and raw output of one command."""

    node: str
    argv: list[str]
    returncode: int
    stdout_bytes: bytes
    stderr_bytes: bytes
    seconds: float

    @property
    def stdout(self) -> str:
        """stdout decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stdout_bytes.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        """stderr decoded as UTF-8 (undecodable bytes replaced)."""
        return self.stderr_bytes.decode("utf-8", "replace")

    @property
    def ok(self) -> bool:
        """True when the command exited 0."""
        return self.returncode == 0


@dataclasses.dataclass(frozen=True)
class Capabilities:
    """What a backend's nodes are, where code depends on it (asked, never assumed)."""

    # Nodes read the host's CLOCK_MONOTONIC (containers on the host kernel): in-node probe
    # samples and the runner's fault times are on one clock. VMs have their own clocks.
    shared_clock: bool
    # A powered-off node's network namespace (with its addresses, e.g. a VIP keepalived
    # added) outlives it, so power-on must reset its interfaces as a fresh boot would.
    netns_survives_power_off: bool
    # Each node has a wall clock of its own that can be set in it (a VM: CAP_SYS_TIME on
    # its own clock). Without it (containers share the host's one kernel clock) a
    # ``clock_skew`` fault is emulated for named services (libfaketime), and says so.
    own_wall_clock: bool = False
    # A node on a ``dhcp: true`` network can be left without an address by the lab (the
    # fabric sets none, power-on restores none) for its own DHCP client to ask. A VM's
    # addresses are written into its disk: on that backend a DHCP network is refused.
    dhcp_networks: bool = False


class Console(abc.ABC):
    """Reaching into the running nodes of a lab."""

    @abc.abstractmethod
    def run(self, lab: str, node: str, argv: list[str], *, input: bytes | str | None = None,
            timeout: float | None = 60.0, env: dict[str, str] | None = None) -> Completed:
        """Run ``argv`` inside the node (clean env, PATH and LANG set). A non-zero exit
        is returned, not raised; a timeout raises LabError naming node and command."""

    @abc.abstractmethod
    def shell_argv(self, lab: str, node: str, argv: list[str], env: dict[str, str] | None = None) -> list[str]:
        """The host command that runs ``argv`` in the node attached to this terminal
        (``stacklab shell``: the caller execs it)."""

    @abc.abstractmethod
    def memory_bytes(self, lab: str, node: str) -> int | None:
        """Memory the node uses now (None when it is not running or cannot be read)."""


class Backend(Console):
    """Runs the nodes of labs. Lab and node names are short slugs ([a-z0-9-])."""

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    @abc.abstractmethod
    def preflight(self) -> None:
        """Raise PreflightError (naming the Debian package to install) if unusable."""

    @abc.abstractmethod
    def up(self, lab: str, nodes: list[NodeSpec], image: Image, *,
           timeout: float = 60.0) -> None:
        """Create and start ``nodes`` in parallel; return when each one's systemd is
        running or degraded. Nodes already running are left alone. Raises
        NodeBootError naming the late node(s) with the tail of their console log."""

    @abc.abstractmethod
    def down(self, lab: str) -> None:
        """Remove every trace of ``lab`` (nodes, mounts, cgroups, files), found on the
        host rather than in memory. Idempotent; safe after a SIGKILL mid-``up``."""

    @abc.abstractmethod
    def status(self, lab: str) -> dict[str, NodeState]:
        """``{node: running|stopped|frozen|absent}`` for every node the lab has on disk."""

    @abc.abstractmethod
    def power(self, lab: str, node: str, action: PowerAction, *,
              timeout: float = 60.0) -> None:
        """off = hard stop (like pulling the plug), on = boot again and wait for
        systemd, freeze/thaw = suspend/resume every process of the node."""

    def describe(self, lab: str, nodes: list[NodeSpec], image: Image) -> dict[str, str]:
        """What ``up`` would define for ``nodes``, as files (name -> text), creating and
        starting nothing (``stacklab up --dry-run``). Only backends that define things have it."""
        raise UsageError(f"the {self.name} backend defines nothing to show; --dry-run needs --backend libvirt")

    @abc.abstractmethod
    def labs(self) -> set[str]:
        """Every lab this backend has a trace of on the host (found, not remembered: after
        a SIGKILL there may be no state file)."""
