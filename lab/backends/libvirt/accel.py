"""KVM or TCG: a short real boot decides, once per host boot.

``/dev/kvm`` opening (even ``KVM_CREATE_VM`` succeeding) does not prove a guest runs: on
some hosts (nested, restricted) it hangs or crawls. The probe boots the VM image's own
kernel under KVM with an init that does not exist: a working KVM reaches the kernel's
panic (no init, no root) within seconds, and ``panic=-1`` + ``on_reboot=destroy``
end the domain. Whatever else happens in PROBE_SECONDS means TCG. The verdict is cached
in ``/run/stacklab-vm/accel.json`` (gone at reboot); ``STACKLAB_LIBVIRT_ACCEL=kvm|tcg``
overrides it.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

CACHE = Path("/run/stacklab-vm/accel.json")
PROBE_SECONDS = 20.0
_PANIC = "Kernel panic"  # no init, no root: the kernel got as far as it can


def chosen() -> tuple[str, str]:
    """(libvirt domain type, why) from the override or the cached probe, without probing."""
    forced = os.environ.get("STACKLAB_LIBVIRT_ACCEL")
    if forced in ("kvm", "tcg"):
        return ("kvm" if forced == "kvm" else "qemu"), f"STACKLAB_LIBVIRT_ACCEL={forced}"
    try:
        cached = json.loads(CACHE.read_text())
        return cached["type"], cached["why"]
    except (OSError, ValueError, KeyError):
        return "qemu", "KVM not probed yet: TCG"


def decide(conn: Any, kernel: Path, initrd: Path) -> tuple[str, str]:
    """The domain type to use, probing KVM once per host boot (see the module doc)."""
    kind, why = chosen()
    if os.environ.get("STACKLAB_LIBVIRT_ACCEL") in ("kvm", "tcg") or CACHE.exists():
        return kind, why
    works, why = probe_kvm(conn, kernel, initrd)
    kind = "kvm" if works else "qemu"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(json.dumps({"type": kind, "why": why}))
    return kind, why


def probe_kvm(conn: Any, kernel: Path, initrd: Path) -> tuple[bool, str]:
    """Boot ``kernel`` under KVM to its init; (works, what was seen)."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False, "no usable /dev/kvm: TCG"
    log = CACHE.parent / "kvm-probe.log"
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    xml = f"""<domain type='kvm'>
  <name>sl-kvmprobe-{os.getpid()}</name>
  <memory unit='MiB'>256</memory><vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><kernel>{kernel}</kernel><initrd>{initrd}</initrd>
    <cmdline>console=ttyS0 panic=-1 rdinit=/stacklab-no-init init=/stacklab-no-init</cmdline></os>
  <on_reboot>destroy</on_reboot>
  <devices><serial type='pty'><log file={quoteattr(str(log))} append='off'/><target port='0'/></serial>
    <memballoon model='none'/></devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
</domain>"""
    start = time.monotonic()
    try:
        dom = conn.createXML(xml, 0)
    except Exception as exc:
        return False, f"KVM domain did not start ({exc}): TCG"
    try:
        while time.monotonic() - start < PROBE_SECONDS:
            seen = log.read_text(errors="replace") if log.exists() else ""
            if _PANIC in seen:
                return True, f"KVM booted a kernel to its init in {time.monotonic() - start:.1f} s"
            time.sleep(0.2)
        return False, f"KVM did not boot a kernel to its init within {PROBE_SECONDS:.0f} s: TCG"
    finally:
        with contextlib.suppress(Exception):  # it may have ended itself (panic=-1, on_reboot=destroy)
            dom.destroy()
