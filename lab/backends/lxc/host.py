"""Host-side cleanup of LXC nodes: cgroups, mounts, memory figures.

Everything here works from what the host shows (/proc/self/mounts, /sys/fs/cgroup),
never from in-memory state, so a lab can be torn down after the harness was SIGKILLed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from lab.backends.lxc import reap


def cgroup_roots() -> list[Path]:
    """Mount points of every cgroup hierarchy (v1 controllers and the unified one)."""
    roots = []
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        for line in mounts:
            _dev, mnt, fstype, *_ = line.split()
            if fstype in ("cgroup", "cgroup2"):
                roots.append(Path(mnt))
    return roots


def container_cgroups(container: str) -> list[Path]:
    """Every cgroup dir LXC made for ``container`` (payload and monitor), any depth.

    With ``lxc.cgroup.relative = 1`` they sit under the starting process's cgroup,
    which differs per hierarchy (here memory is nested, the others at the root).
    """
    names = {f"lxc.payload.{container}", f"lxc.monitor.{container}"}
    found = []
    for root in cgroup_roots():
        for dirpath, dirnames, _files in os.walk(root):
            hits = [d for d in dirnames if d in names]
            found += [Path(dirpath) / d for d in hits]
            # Do not descend into a container's tree: its nested cgroups are its own.
            dirnames[:] = [d for d in dirnames if d not in names and not d.startswith("lxc.payload.")]
    return found


def cgroup_pids(cgroup: Path) -> set[int]:
    """PIDs in ``cgroup`` and all its descendants."""
    pids: set[int] = set()
    for dirpath, _dirs, files in os.walk(cgroup):
        if "cgroup.procs" in files:
            try:
                text = (Path(dirpath) / "cgroup.procs").read_text()
            except OSError:
                continue
            pids.update(int(p) for p in text.split())
    return pids


def kill_cgroups(cgroups: list[Path], timeout: float = 10.0) -> set[int]:
    """Thaw, SIGKILL and wait out every process in ``cgroups``; return the survivors.

    A frozen (cgroup v1 freezer) task does not die from SIGKILL until thawed.
    """
    for cg in cgroups:
        state = cg / "freezer.state"
        if state.exists():
            with contextlib.suppress(OSError):
                state.write_text("THAWED")
    deadline = time.monotonic() + timeout
    while True:
        pids = set().union(*(cgroup_pids(cg) for cg in cgroups)) if cgroups else set()
        if not pids or time.monotonic() > deadline:
            return pids
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        reap.reap_orphans()
        time.sleep(0.05)


def remove_cgroups(cgroups: list[Path]) -> list[Path]:
    """rmdir each cgroup tree bottom-up; return the dirs that could not be removed."""
    left = []
    for cg in cgroups:
        for dirpath, _dirs, _files in sorted(os.walk(cg), key=lambda w: -len(w[0])):
            try:
                os.rmdir(dirpath)
            except FileNotFoundError:
                pass
            except OSError:
                left.append(Path(dirpath))
    return left


def remove_pivot_cgroups() -> None:
    """rmdir the shared, empty ``lxc.pivot`` cgroups monitors leave behind on exit."""
    for root in cgroup_roots():
        for dirpath, dirnames, _files in os.walk(root):
            if "lxc.pivot" in dirnames:
                # busy (OSError) when another lab's monitor is exiting right now
                with contextlib.suppress(OSError):
                    os.rmdir(Path(dirpath) / "lxc.pivot")
            dirnames[:] = [d for d in dirnames if not d.startswith(("lxc.payload.", "lxc."))]


def mounts_under(prefix: Path) -> list[str]:
    """Host mount points at or below ``prefix``, deepest first."""
    base = str(prefix).rstrip("/")
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        points = [ln.split()[1] for ln in mounts]
    hits = [p for p in points if p == base or p.startswith(base + "/")]
    return sorted(hits, key=len, reverse=True)


def unmount_under(prefix: Path) -> None:
    """Lazily unmount everything at or below ``prefix`` (leftovers of a killed start)."""
    for point in mounts_under(prefix):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def memory_bytes(container: str) -> int | None:
    """Memory cgroup usage of a running container (v1 or v2), None if not found."""
    for cg in container_cgroups(container):
        if not cg.name.startswith("lxc.payload."):
            continue
        for name in ("memory.usage_in_bytes", "memory.current"):
            if (cg / name).exists():
                return int((cg / name).read_text())
    return None


def memory_v1() -> bool:
    """True when the memory controller is a cgroup v1 hierarchy (hybrid host)."""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(ln.split()[2] == "cgroup" and "memory" in ln.split()[3].split(",")
                   for ln in mounts)


def cpu_v1() -> bool:
    """True when the cpu controller is a cgroup v1 hierarchy (hybrid host)."""
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(ln.split()[2] == "cgroup" and "cpu" in ln.split()[3].split(",")
                   for ln in mounts)


def tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, or a note that it is missing."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError as exc:
        return f"({path}: {exc.strerror})"


# Every systemd in a container takes inotify instances from root's per-user budget;
# Debian's default of 128 runs out at about 15 nodes ("Failed to allocate manager
# object: Too many open files" on the node console). These are the values LXD advises.
INOTIFY_MIN = {"fs/inotify/max_user_instances": 8192, "fs/inotify/max_user_watches": 1048576}


def raise_inotify_limits(say: Callable[[str], None] | None = None) -> None:
    """Raise the host's inotify limits to INOTIFY_MIN where they are lower (never lowers)."""
    for key, minimum in INOTIFY_MIN.items():
        path = Path("/proc/sys") / key
        current = int(path.read_text())
        if current < minimum:
            path.write_text(str(minimum))
            if say:
                say(f"raised {key.replace('/', '.')} from {current} to {minimum} for systemd in containers")


def stop_containers(path: Path, cnames: list[str], timeout: float = 20.0) -> list[str]:
    """Hard-stop containers at once (``lxc-stop -k`` each); return those still up.

    Processes, not threads: down may run from atexit, where a thread pool cannot
    start. A frozen container is thawed first (SIGKILL waits for a thaw). While
    lxc-stop waits we keep reaping: a zombie of ours inside a node blocks it forever.
    """
    procs = {}
    for cname in cnames:
        base = ["-P", str(path), "-n", cname]
        state = reap.run_tool(["lxc-info", *base, "-s", "-H"]).stdout.strip()
        if state in ("FROZEN", "FREEZING"):
            reap.run_tool(["lxc-unfreeze", *base])
        if state and state != "STOPPED":
            procs[cname] = reap.spawn(["lxc-stop", *base, "-k"], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, cwd="/")
    deadline = time.monotonic() + timeout
    while any(p.poll() is None for p in procs.values()) and time.monotonic() < deadline:
        reap.reap_orphans()
        time.sleep(0.02)
    failed = []
    for cname, proc in procs.items():
        if proc.poll() is None:
            proc.kill()
        if proc.wait() != 0:
            failed.append(cname)
        reap.release(proc)
    reap.reap_orphans()
    return failed
