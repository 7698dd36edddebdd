"""Find what a lab left behind on this host: the leak checker of the lab tiers.

Every object a lab makes carries its name (``sl-<lab>...`` namespaces and containers,
``/var/lib/stacklab/<lab>``, ``/run/stacklab/<lab>``), so leftovers are attributable.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def leftovers(prefix: str) -> list[str]:
    """Everything on the host belonging to labs whose name starts with ``prefix``."""
    found: list[str] = []
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    found += [f"netns {ln.split()[0]}" for ln in netns.splitlines() if ln.startswith(f"sl-{prefix}")]
    for root in (Path("/var/lib/stacklab"), Path("/run/stacklab"), Path("/var/lib/stacklab-vm")):
        if root.is_dir():
            found += [f"dir {p}" for p in root.iterdir() if p.name.lstrip(".").startswith(prefix)]
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        found += [f"mount {ln.split()[1]}" for ln in mounts
                  if f"/stacklab/{prefix}" in ln or f"/netns/sl-{prefix}" in ln]
    found += [f"cgroup {p}" for p in _cgroups(f"sl-{prefix}")]
    found += [f"process {pid} {cmd}" for pid, cmd in _processes(f"sl-{prefix}")]
    found += [f"veth/bridge {name}" for name in _root_links(f"sl-{prefix}")]
    found += [f"tap {name}" for name in _root_links(f"slvm lab={prefix}")]  # a VM's tap (by ifalias)
    for libvirt_dir in (Path("/etc/libvirt/qemu"), Path("/run/libvirt/qemu")):
        found += [f"libvirt {p}" for p in libvirt_dir.glob(f"sl-{prefix}*")] if libvirt_dir.is_dir() else []
    return found


def _cgroups(name: str) -> list[Path]:
    out: list[Path] = []
    for ctrl in CGROUP_ROOT.iterdir() if CGROUP_ROOT.is_dir() else []:
        # Containers' cgroups sit at most a few levels deep (lxc.cgroup.relative nests them
        # under the caller's cgroup); a bounded walk keeps this fast.
        for dirpath, dirnames, _ in os.walk(ctrl):
            depth = Path(dirpath).relative_to(ctrl).parts
            if len(depth) > 6:
                dirnames[:] = []
                continue
            out += [Path(dirpath) / d for d in dirnames if name in d]
    return out


def _processes(name: str) -> list[tuple[int, str]]:
    procs = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if name in cmd and int(entry.name) != os.getpid():
            procs.append((int(entry.name), cmd.strip()[:120]))
    return procs


def _root_links(name: str) -> list[str]:
    links = subprocess.run(["ip", "-o", "-d", "link"], capture_output=True, text=True, check=False).stdout
    return [ln.split(":")[1].strip() for ln in links.splitlines() if name in ln]
