"""Names, paths and config text of LXC nodes (no side effects: nothing is written).

Container names are ``sl-<lab>.<node>``: the dot cannot occur in lab or node names,
so two labs can never produce the same name (``sl-a-b-c`` could be lab ``a`` node
``b-c`` or lab ``a-b`` node ``c``); with ``lxc.cgroup.relative`` the name is also the
cgroup name, shared by every lab on the host. The fabric names namespaces the same way.

>>> container_name("ha", "ctl1")
'sl-ha.ctl1'
"""

from __future__ import annotations

import re
from pathlib import Path

from lab.backends.base import NodeSpec
from lab.backends.lxc import host
from lab.errors import LabError
from lab.image import Image

LAB_ROOT = Path("/var/lib/stacklab")
#: The environment of every command run in a node (lxc-attach --clear-env).
NODE_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "LANG": "C.UTF-8", "HOME": "/root", "TERM": "dumb"}
CFS_PERIOD_US = 100_000  # the kernel's default period: a cap is enforced every 100 ms
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


def lab_dir(lab: str) -> Path:
    """Root of everything ``lab`` puts on disk."""
    return LAB_ROOT / _slug(lab, "lab")


def container_name(lab: str, node: str) -> str:
    """LXC name of a node: ``sl-<lab>.<node>``."""
    return f"sl-{_slug(lab, 'lab')}.{_slug(node, 'node')}"


def container_prefix(lab: str) -> str:
    """What every container name of ``lab`` starts with: ``sl-<lab>.``."""
    return f"sl-{_slug(lab, 'lab')}."


def _slug(value: str, what: str) -> str:
    """Reject names that could escape a path or collide (``../x``, spaces, ...)."""
    if not _SLUG.fullmatch(value):
        raise LabError(f"invalid {what} name {value!r}: use 1-32 of [a-z0-9-], "
                       "starting with a letter or digit")
    return value


def lxcpath(lab: str) -> Path:
    """The lab's own LXC path (``-P``; LXC needs it absolute)."""
    return lab_dir(lab) / "lxc"


def node_dir(lab: str, node: str) -> Path:
    """Overlay layers and logs of one node."""
    return lab_dir(lab) / "nodes" / _slug(node, "node")


def attach_argv(lab: str, node: str, argv: list[str],
                env: dict[str, str] | None = None) -> list[str]:
    """The ``lxc-attach`` command line that runs ``argv`` in a node with a clean env.

    ``env`` adds to/overrides NODE_ENV (an interactive shell wants the caller's TERM).

    >>> attach_argv("ha", "ctl1", ["true"])[:6]
    ['lxc-attach', '-P', '/var/lib/stacklab/ha/lxc', '-n', 'sl-ha.ctl1', '--clear-env']
    """
    pairs = [a for k, v in {**NODE_ENV, **(env or {})}.items() for a in ("-v", f"{k}={v}")]
    return ["lxc-attach", "-P", str(lxcpath(lab)), "-n", container_name(lab, node),
            "--clear-env", *pairs, "--", *argv]


def render_config(spec: NodeSpec, image: Image, ndir: Path) -> str:
    """LXC config text of one node (pure: easy to test and to read in a report)."""
    lines = [
        "lxc.include = /usr/share/lxc/config/common.conf",
        "lxc.arch = linux64",
        f"lxc.uts.name = {spec.hostname}",
        f"lxc.rootfs.path = overlay:{image.rootfs}:{ndir / 'upper'}",
        # Not confined: the host's AppArmor may be absent; the lab is a root-run tool.
        "lxc.apparmor.profile = unconfined",
        "lxc.init.cmd = /sbin/init",
        # Own /dev: the host's /dev/null may not be world-writable.
        "lxc.autodev = 1",
        # Cgroups under ours (we may not write to the hierarchy roots elsewhere).
        "lxc.cgroup.relative = 1",
        # getty@ is masked in the image; ttys only cost devices and processes.
        "lxc.tty.max = 0",
        f"lxc.console.logfile = {ndir / 'console.log'}",
        f"lxc.log.file = {ndir / 'lxc.log'}",
        "lxc.log.level = ERROR",
    ]
    if spec.netns_path is not None:
        lines.append(f"lxc.namespace.share.net = {spec.netns_path}")
    else:
        lines.append("lxc.net.0.type = empty")  # a fresh netns with lo only, never the host's
    if spec.memory_mib:
        key = "lxc.cgroup.memory.limit_in_bytes" if host.memory_v1() else "lxc.cgroup2.memory.max"
        lines.append(f"{key} = {spec.memory_mib * 2**20}")
    if spec.cpus:
        lines += cpu_cap(spec.cpus, host.cpu_v1())
    return "\n".join(lines) + "\n"


def cpu_cap(cpus: float, v1: bool) -> list[str]:
    """Config lines capping a node at ``cpus`` cores of CPU time per 100 ms (CFS bandwidth).

    >>> cpu_cap(0.5, v1=True)
    ['lxc.cgroup.cpu.cfs_period_us = 100000', 'lxc.cgroup.cpu.cfs_quota_us = 50000']
    >>> cpu_cap(0.25, v1=False)
    ['lxc.cgroup2.cpu.max = 25000 100000']
    """
    quota = max(1000, round(cpus * CFS_PERIOD_US))  # the kernel refuses a quota below 1 ms
    if v1:
        return [f"lxc.cgroup.cpu.cfs_period_us = {CFS_PERIOD_US}", f"lxc.cgroup.cpu.cfs_quota_us = {quota}"]
    return [f"lxc.cgroup2.cpu.max = {quota} {CFS_PERIOD_US}"]
