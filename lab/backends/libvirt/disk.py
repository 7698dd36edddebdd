"""A node's disk: a qcow2 overlay over the VM image's base, its identity written in before boot.

The identity (hostname, machine-id, one networkd ``.link`` + ``.network`` per NIC) is
written into the overlay without booting anything and without nbd (this kernel has no
nbd): ``qemu-storage-daemon`` exports the overlay as a raw file over FUSE, and
``debugfs -w`` writes the files into the ext4 filesystem in it (the disk is a bare ext4,
no partition table). The daemon's pidfile and mount point sit in the node's directory,
so ``down`` finds and removes them after a SIGKILL (:func:`release_exports`).

Example::

    make_overlay(vm.base, ndir / "disk.qcow2")
    write_identity(ndir / "disk.qcow2", ndir, identity_files("ctl1", nics))
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from lab.backends.libvirt.domxml import Nic
from lab.errors import LabError
from lab.proc import pid_alive, run_logged

_EXPORT, _PIDFILE = "export.raw", "export.pid"


def make_overlay(base: Path, overlay: Path) -> None:
    """A fresh qcow2 overlay whose backing file is ``base`` (read-only, shared)."""
    overlay.unlink(missing_ok=True)
    run_logged(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(base), str(overlay)],
               label=f"qemu-img create {overlay.name}")
    os.chmod(overlay, 0o600)


def identity_files(hostname: str, nics: Iterable[Nic]) -> dict[str, str]:
    """Guest path -> content of what makes this node itself."""
    files = {"/etc/hostname": f"{hostname}\n", "/etc/machine-id": uuid.uuid4().hex + "\n"}
    for nic in nics:
        stem = f"/etc/systemd/network/10-stacklab-{nic.ifname}"
        files[f"{stem}.link"] = (f"[Match]\nMACAddress={nic.mac}\n\n"
                                 f"[Link]\nName={nic.ifname}\nMTUBytes={nic.mtu}\n")
        files[f"{stem}.network"] = (f"[Match]\nName={nic.ifname}\n\n"
                                    f"[Link]\nMTUBytes={nic.mtu}\n\n"
                                    f"[Network]\nAddress={nic.address}\nLinkLocalAddressing=no\n"
                                    "IPv6AcceptRA=no\nKeepConfiguration=static\n")
    return files


def write_identity(overlay: Path, workdir: Path, files: dict[str, str], timeout: float = 30.0) -> None:
    """Write ``files`` into the ext4 filesystem of ``overlay`` (see the module doc)."""
    staged = workdir / "identity"
    staged.mkdir(exist_ok=True)
    commands = ["mkdir /etc/systemd/network"]  # an error when it exists: debugfs goes on
    for i, (dest, text) in enumerate(sorted(files.items())):
        local = staged / str(i)
        local.write_text(text)
        os.chmod(local, 0o644)
        commands += [f"rm {dest}", f"write {local} {dest}"]
    script = workdir / "identity.debugfs"
    script.write_text("\n".join(commands) + "\n")
    with _exported(overlay, workdir, timeout) as raw:
        run_logged(["debugfs", "-w", "-f", str(script), str(raw)], label="debugfs (node identity)")
        got = run_logged(["debugfs", "-R", "cat /etc/hostname", str(raw)], label="debugfs (check)")
    if files["/etc/hostname"].strip() not in got:
        raise LabError(f"writing the identity into {overlay} failed: /etc/hostname reads {got!r}")


@contextlib.contextmanager
def _exported(overlay: Path, workdir: Path, timeout: float):  # type: ignore[no-untyped-def]
    """The overlay as a raw file (qemu-storage-daemon, FUSE export) while in the block."""
    mount, pidfile = workdir / _EXPORT, workdir / _PIDFILE
    release_exports(workdir)
    mount.touch()
    argv = ["qemu-storage-daemon",
            "--blockdev", f"driver=file,node-name=file,filename={overlay}",
            "--blockdev", "driver=qcow2,node-name=disk,file=file",
            "--export", f"type=fuse,id=exp,node-name=disk,mountpoint={mount},writable=on",
            "--pidfile", str(pidfile), "--daemonize"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        release_exports(workdir)
        raise LabError(f"qemu-storage-daemon could not export {overlay}: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        release_exports(workdir)


def release_exports(workdir: Path, timeout: float = 10.0) -> None:
    """Stop a storage daemon left in ``workdir`` (by its pidfile) and unmount its export."""
    pidfile, mount = workdir / _PIDFILE, workdir / _EXPORT
    try:
        pid = int(pidfile.read_text().strip())
    except (OSError, ValueError):
        pid = 0
    if pid and _is_storage_daemon(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
    if _mounted(mount):
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)
    pidfile.unlink(missing_ok=True)
    mount.unlink(missing_ok=True)


def _is_storage_daemon(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip().startswith("qemu-storage")
    except OSError:
        return False


def _mounted(path: Path) -> bool:
    with open("/proc/self/mounts", encoding="utf-8") as mounts:
        return any(line.split()[1] == str(path) for line in mounts)
