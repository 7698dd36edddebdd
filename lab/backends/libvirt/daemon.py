"""The libvirt connection, and libvirtd/virtlogd started when no init system runs them.

On a host without systemd as PID 1 nothing starts libvirtd; the backend then starts
``virtlogd -d`` (it writes the nodes' console logs) and ``libvirtd -d`` itself and says
so, with their pids. They are host daemons shared by every lab and are left running.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lab.errors import PreflightError

SYSTEM_URI = "qemu:///system"
QEMU_CONF = Path("/etc/libvirt/qemu.conf")  # Debian's comes with libvirt-daemon-system, which we leave out
_SOCKET = Path("/run/libvirt/libvirt-sock")
_PIDFILES = {"virtlogd": Path("/run/virtlogd.pid"), "libvirtd": Path("/run/libvirtd.pid")}
#: host tool -> the Debian package that has it
TOOLS = {"libvirtd": "libvirt-daemon libvirt-daemon-driver-qemu", "virtlogd": "libvirt-daemon",
         "qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils",
         "qemu-storage-daemon": "qemu-system-common", "debugfs": "e2fsprogs", "virsh": "libvirt-clients"}


def libvirt_module() -> Any:
    try:
        import libvirt
    except ImportError as exc:
        raise PreflightError("the libvirt backend needs libvirt-python: pip install 'stacklab[libvirt]' "
                             "(builds against apt-get install -y libvirt-dev pkg-config gcc python3-dev)") from exc
    libvirt.registerErrorHandler(lambda _ctx, _err: None, None)  # errors are raised, not printed
    return libvirt


def check_host() -> None:
    """Raise PreflightError naming what is missing for VM nodes on this host."""
    if os.geteuid() != 0:
        raise PreflightError("the libvirt backend needs root (taps, namespaces, qemu:///system)")
    for tool, package in TOOLS.items():
        if shutil.which(tool) is None:
            raise PreflightError(f"{tool} not found: apt-get install -y {package} (or bash .ci/setup --libvirt)")
    for dev, why in (("/dev/net/tun", "VM NICs are taps"), ("/dev/fuse", "node identity is written via FUSE")):
        if not os.path.exists(dev):
            raise PreflightError(f"{dev} is missing: {why}")
    if not QEMU_CONF.is_file():
        raise PreflightError(f"{QEMU_CONF} missing: libvirtd's qemu driver needs it (its default user "
                             "libvirt-qemu does not exist here); bash .ci/setup --libvirt writes one")


def _listening() -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(_SOCKET))
        except OSError:
            return False
    return True


def _running(name: str) -> bool:
    try:
        pid = int(_PIDFILES[name].read_text().strip())
        return Path(f"/proc/{pid}/comm").read_text().strip() == name
    except (OSError, ValueError):
        return False


def ensure_daemons(say: Callable[[str], None], timeout: float = 30.0) -> None:
    """Start virtlogd and libvirtd when they are not running (no init system does here)."""
    for name in ("virtlogd", "libvirtd"):
        if _running(name) or (name == "libvirtd" and _listening()):
            continue
        Path("/var/log/libvirt").mkdir(parents=True, exist_ok=True)
        subprocess.run([name, "-d"], check=True, timeout=timeout, capture_output=True)
        deadline = time.monotonic() + timeout
        while not (_running(name) and (name != "libvirtd" or _listening())):
            if time.monotonic() > deadline:
                raise PreflightError(f"{name} -d did not come up within {timeout:.0f} s (see /var/log/libvirt)")
            time.sleep(0.1)
        pid = _PIDFILES[name].read_text().strip()
        say(f"started {name} (pid {pid}): no init system runs it on this host; it stays up for other labs")


def connect(uri: str, say: Callable[[str], None]) -> Any:
    """An open libvirt connection to ``uri`` (daemons started first for qemu:///system)."""
    libvirt = libvirt_module()
    if uri == SYSTEM_URI:
        check_host()
        ensure_daemons(say)
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise PreflightError(f"cannot connect to libvirt at {uri}: {exc.get_error_message()}") from exc
