"""Process bookkeeping for LXC nodes: child subreaper, spawning and reaping lxc tools.

Why a child subreaper: ``lxc-start -d`` daemonizes its monitor, which reparents to
PID 1, and PID 1 on this machine does not reliably reap. Stopped nodes then leave
zombies, and a zombie that lived in a node's PID namespace keeps that namespace (and
``lxc-stop``) from ever finishing. As a subreaper our process inherits such orphans
and :func:`reap_orphans` collects them. It reaps only zombies of lxc tools we did not
start through :func:`spawn`, and orphans adopted on purpose (:func:`kill_tree`), so
the ``subprocess`` module never loses the exit status of a child it waits for (a
stolen status would read as exit 0).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
_subreaper = False
_adopted: set[int] = set()  # orphans we killed and must reap
_own: set[int] = set()  # lxc tools we spawned and wait for ourselves
_lock = threading.Lock()


def become_subreaper() -> None:
    """Make this process inherit orphaned descendants (idempotent)."""
    global _subreaper
    if _subreaper:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")
    _subreaper = True


def _stat(pid: str) -> tuple[str, str, int, int] | None:
    """(comm, state, ppid, session) of a process, None if it vanished."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, fields[0], int(fields[1]), int(fields[3])


def spawn(argv: list[str], **popen_kw: Any) -> subprocess.Popen[Any]:
    """Popen an lxc tool so that :func:`reap_orphans` never reaps it behind our back.

    The pid is registered under the same lock the reaper holds, so even a child that
    exits at once is known as ours before any reaper can see its zombie. Call
    :func:`release` after waiting for it.
    """
    with _lock:
        proc = subprocess.Popen(argv, **popen_kw)
        _own.add(proc.pid)
    return proc


def release(proc: subprocess.Popen[Any]) -> None:
    """Forget a :func:`spawn` ed process once it has been waited for."""
    _own.discard(proc.pid)


def run_tool(argv: list[str], timeout: float | None = 30.0) -> subprocess.CompletedProcess[str]:
    """Run an lxc tool to completion via :func:`spawn` (text output, cwd /).

    cwd is / because lxc-attach warns when it cannot chdir into the node.
    """
    proc = spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
                 stdin=subprocess.DEVNULL)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\n(killed after {timeout} s)"
    finally:
        release(proc)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def reap_orphans() -> int:
    """Reap zombie children that nobody else waits for. Returns how many were reaped.

    That is: lxc tools (monitors of ``lxc-start -d``, front ends of a SIGKILLed
    harness's ``lxc-start``/``lxc-attach`` that were reparented to us) not started by
    :func:`spawn`, and the orphans :func:`kill_tree` adopted. Other zombie children
    belong to ``subprocess`` calls elsewhere and are left alone.
    """
    me, reaped = os.getpid(), 0
    with _lock:
        for pid in list(_adopted):
            reaped += _reap(pid)
        for entry in os.listdir("/proc"):
            info = _stat(entry) if entry.isdigit() else None
            if info and info[1] == "Z" and info[2] == me and int(entry) not in _own \
                    and info[0].startswith(("lxc-", "memfd:lxc-")):
                reaped += _reap(int(entry))
    return reaped


def _reap(pid: int) -> int:
    """waitpid without blocking; forget the pid once it is gone."""
    try:
        done, _status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        done = pid  # not (or no longer) our child: nothing to wait for
    if done:
        _adopted.discard(pid)
        return 1
    return 0


def descendants(pid: int) -> list[int]:
    """All descendants of ``pid`` (children first), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        info = _stat(entry) if entry.isdigit() else None
        if info:
            children.setdefault(info[2], []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def kill_tree(pid: int) -> None:
    """SIGKILL ``pid`` and its descendants; adopt the descendants for reaping.

    Killing only ``lxc-attach`` would orphan the command it runs inside the node to
    us (the subreaper); if nobody reaps that zombie, the node's PID namespace can
    never finish dying and ``lxc-stop`` hangs.
    """
    tree = descendants(pid)
    for victim in [pid, *tree]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
    _adopted.update(tree)


def monitor_containers(lxcpath: Path) -> dict[str, int]:
    """``{container: monitor pid}`` for live monitors of containers under ``lxcpath``."""
    prefix, found = f"[lxc monitor] {lxcpath} ", {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0].decode()
        except (OSError, UnicodeDecodeError):
            continue
        if cmd.startswith(prefix):
            found[cmd[len(prefix):].strip()] = int(entry)
    return found


def kill(pid: int) -> None:
    """SIGKILL that tolerates a process that already exited."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def wait_gone(pids: list[int], timeout: float) -> None:
    """Poll until ``pids`` are gone or reaped (zombies of ours count as gone once reaped)."""
    deadline = time.monotonic() + timeout
    while pids and time.monotonic() < deadline:
        reap_orphans()
        pids = [p for p in pids if alive(p)]
        if pids:
            time.sleep(0.05)


def alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False
