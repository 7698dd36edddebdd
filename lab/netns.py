"""Named network namespaces of a lab: names, creation, removal, and running code inside.

Every lab namespace lives under ``/run/netns`` (so ``ip netns`` lists it) and is named
``sl-<lab>.<name>``: ``sl-ha.fab`` is the fabric, ``sl-ha.ctl1`` a node. The dot is
deliberate: lab and node names may contain ``-`` (lab ``a`` with node ``b-x1`` would
otherwise collide with lab ``a-b`` node ``x1``), and they never contain a dot, so a
namespace name maps back to exactly one (lab, node).

The host's root namespace must never be touched. :func:`rtnl` therefore checks that
each netlink socket it hands out really lives in the requested namespace (SIOCGSKNS)
before anything is configured through it.

>>> ns_name("ha", "ctl1")
'sl-ha.ctl1'
>>> split_ns_name("sl-a-b.x1")
('a-b', 'x1')
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import subprocess
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from lab.errors import LabError

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NETNS_DIR = "/run/netns"
PREFIX = "sl-"
FABRIC = "fab"
_SIOCGSKNS = 0x894C  # ioctl: open the network namespace a socket belongs to
_CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def ns_name(lab: str, name: str) -> str:
    """Namespace name of a lab's node (or of its fabric when ``name`` is ``fab``)."""
    return f"{PREFIX}{lab}.{name}"


def ns_path(lab: str, name: str) -> str:
    """Bind-mount path of a lab namespace, e.g. for ``lxc.namespace.share.net``."""
    return f"{NETNS_DIR}/{ns_name(lab, name)}"


def split_ns_name(name: str) -> tuple[str, str] | None:
    """``'sl-ha.ctl1'`` -> ``('ha', 'ctl1')``; None for a namespace that is not ours."""
    if not name.startswith(PREFIX) or name.count(".") != 1:
        return None
    lab, _, node = name[len(PREFIX):].partition(".")
    return (lab, node) if lab and node else None


def _pr_netns() -> Any:
    """pyroute2's netns module, imported on first use: importing pyroute2 costs ≈ 0.1 s, and
    ``stacklab validate`` (which imports the fault registry, hence this module) needs none of it."""
    from pyroute2 import netns

    return netns


def list_lab_ns(lab: str | None = None) -> list[tuple[str, str]]:
    """(lab, name) of every stacklab namespace under /run/netns, optionally of one lab."""
    found = [split_ns_name(n) for n in sorted(_pr_netns().listnetns(NETNS_DIR))]
    return [f for f in found if f is not None and (lab is None or f[0] == lab)]


def create(lab: str, name: str) -> None:
    """Create the named namespace (fails if it exists: names are never reused live)."""
    _pr_netns().create(ns_name(lab, name))


def remove(lab: str, name: str) -> None:
    """Unmount and unlink the namespace; the kernel frees it once nothing pins it."""
    with contextlib.suppress(FileNotFoundError):
        _pr_netns().remove(ns_name(lab, name))


def is_live(lab: str, name: str) -> bool:
    """The namespace is bind-mounted, not just the empty file ``create`` makes first: a
    run killed between the two leaves such a file, which ``down`` must simply unlink."""
    return os.path.ismount(ns_path(lab, name))


def ns_inode(path: str) -> int:
    """Inode identifying a network namespace (from a bind mount or /proc/PID/ns/net)."""
    return os.stat(path).st_ino


@contextlib.contextmanager
def rtnl(lab: str, name: str) -> Iterator[IPRoute]:
    """A netlink route socket inside a lab namespace, verified not to be the host's."""
    path = ns_path(lab, name)
    if not os.path.exists(path):
        raise LabError(f"network namespace {path} does not exist (lab '{lab}' not built?)")
    if not is_live(lab, name):
        raise LabError(f"{path} is not a network namespace (left half-made by a killed run; "
                       f"`stacklab down {lab}` removes it)")
    from pyroute2 import IPRoute

    ipr = IPRoute(netns=ns_name(lab, name))
    try:
        _verify_socket_ns(ipr.fileno(), path)
        yield ipr
    finally:
        ipr.close()


def _verify_socket_ns(fd: int, path: str) -> None:
    """Refuse to use a socket that is not in ``path``'s namespace (host safety net)."""
    nsfd = fcntl.ioctl(fd, _SIOCGSKNS)
    try:
        actual = os.fstat(nsfd).st_ino
    finally:
        os.close(nsfd)
    if actual != ns_inode(path) or actual == ns_inode("/proc/self/ns/net"):
        raise LabError(f"netlink socket for {path} is not in that namespace; refusing to configure")


def nsenter_argv(lab: str, name: str, argv: list[str]) -> list[str]:
    """``argv`` prefixed to run in the namespace's network stack (nothing else changes)."""
    return ["nsenter", f"--net={ns_path(lab, name)}", "--", *argv]


def run(lab: str, name: str, argv: list[str], *, timeout: float = 30.0,
        input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command inside a lab namespace; raise LabError (with its output) on failure."""
    full = nsenter_argv(lab, name, argv)
    try:
        proc = subprocess.run(full, capture_output=True, text=True, timeout=timeout, input=input)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout:.0f} s waiting for {' '.join(argv)!r} "
                       f"in {ns_name(lab, name)}") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)!r} in {ns_name(lab, name)} failed "
                       f"(exit {proc.returncode}): {(proc.stderr or proc.stdout).strip()}")
    return proc


def call_in(lab: str, name: str, fn: Callable[..., T], *args: Any, timeout: float = 60.0) -> T:
    """Run ``fn(*args)`` on a fresh thread that has joined the namespace; return its result.

    setns(CLONE_NEWNET) only moves the calling thread, so the caller's own thread
    stays in the host namespace whatever happens. Sockets created by ``fn`` belong to
    the lab namespace and keep working after return (≈ 0.1 ms, no fork).

    >>> call_in("ha", "ctl1", socket.gethostname)  # doctest: +SKIP
    """
    result: dict[str, Any] = {}

    def body() -> None:
        try:
            _setns_thread(ns_path(lab, name))
            result["value"] = fn(*args)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=body, name=f"netns-{ns_name(lab, name)}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise LabError(f"timed out after {timeout:.0f} s waiting for {getattr(fn, '__name__', fn)} "
                       f"inside {ns_name(lab, name)}")
    if "error" in result:
        raise result["error"]
    return result["value"]


def _setns_thread(path: str) -> None:
    """Move the current thread (only) into the network namespace at ``path``."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, _CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise LabError(f"setns into {path} failed: {os.strerror(err)}")
    finally:
        os.close(fd)


def write_sysctl(lab: str, name: str, values: dict[str, str]) -> None:
    """Set per-namespace sysctls (``net.ipv6.conf.all.disable_ipv6``...) in a lab namespace.

    /proc/sys/net resolves to the namespace of the thread that opens the file, so the
    writes happen on a thread inside the namespace; the host's values are untouched.
    """
    def write() -> None:
        for key, value in values.items():
            with open("/proc/sys/" + key.replace(".", "/"), "w", encoding="ascii") as f:
                f.write(value)

    call_in(lab, name, write)


def pinned_by(inodes: set[int]) -> dict[int, list[str]]:
    """Who still holds any of these namespaces alive: ``{inode: ['pid 42 (lxc-start)', ...]}``.

    A namespace outlives its /run/netns entry while a process runs in it, a process has
    it open, or another mount namespace kept a copy of the bind mount (``unshare
    --mount`` does that). Scans /proc once; each mount namespace is read only once.
    """
    pins: dict[int, list[str]] = {}
    seen_mnt: set[int] = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            _scan_process(pid, inodes, pins, seen_mnt)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # the process exited (or is not ours to inspect) while scanning
    return pins


def _scan_process(pid: str, inodes: set[int], pins: dict[int, list[str]],
                  seen_mnt: set[int]) -> None:
    """Add ``pid``'s hold on any of ``inodes`` (netns, open fd, bind mount) to ``pins``."""
    with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
        who = f"pid {pid} ({f.read().strip()})"
    held = {ns_inode(f"/proc/{pid}/ns/net")} & inodes
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("net:["):
                held |= {int(target[5:-1])} & inodes
    mnt = ns_inode(f"/proc/{pid}/ns/mnt")
    if mnt not in seen_mnt:
        seen_mnt.add(mnt)
        with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                root = line.split()[3]
                if root.startswith("net:[") and int(root[5:-1]) in inodes:
                    held.add(int(root[5:-1]))
                    who += " (bind mount in its mount namespace)"
    for ino in held:
        pins.setdefault(ino, []).append(who)

