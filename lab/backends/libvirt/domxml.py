"""Names and the libvirt domain XML of a VM node (pure functions: no libvirt, no host).

Every name carries the lab's, so ``down`` finds everything from the host alone:
domains ``sl-<lab>.<node>`` (the namespaces' scheme), files under
``/var/lib/stacklab-vm/<lab>/``, and taps whose ifalias names lab, node and network.

A node is a direct-kernel-boot VM: its own qcow2 overlay over the VM image's base, one
virtio NIC per network on a tap the backend makes (``type='ethernet'``, ``managed='no'``:
libvirt opens the tap and does nothing else; the backend moves it into the lab's fabric
namespace), the guest agent's virtio-serial channel (commands without a network route),
and a serial console logged to a file (boot messages for errors, ``stacklab shell``).
qemu runs as root (a static DAC label): lab files stay root's, mode 0600.

>>> domain_name("ha", "ctl1")
'sl-ha.ctl1'
>>> mac_address("ha", "ctl1", "mgmt")
'52:54:00:a7:ea:f8'
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from lab.backends.libvirt.recipe import KERNEL_CMDLINE

LAB_ROOT = Path("/var/lib/stacklab-vm")
PREFIX = "sl-"
DEFAULT_MEMORY_MIB = 1024  # TCG: memory costs no speed; 1 GiB fits a controller's services
TB_CACHE_MIB = 64  # TCG translation cache per VM (qemu's default is 1 GiB of RSS)
NAMESPACE = "https://stacklab.invalid/libvirt/1"  # our <metadata> element's namespace


@dataclasses.dataclass(frozen=True)
class Nic:
    """One VM NIC: the tap on the host side, the guest's interface on the network."""

    network: str
    ifname: str  # inside the guest (udev names it by MAC)
    address: str  # CIDR, configured by networkd in the guest
    mtu: int
    mac: str
    tap: str  # the host-side tap's name while libvirt opens it
    rate_mbit: float | None = None  # standing rate, shaped on the fabric side like a veth's


@dataclasses.dataclass(frozen=True)
class Domain:
    """Everything the XML of one node needs."""

    lab: str
    node: str
    memory_mib: int
    accel: str  # "qemu" (TCG) or "kvm": libvirt's domain type
    disk: Path
    kernel: Path
    initrd: Path
    console_log: Path
    nics: tuple[Nic, ...]


def domain_name(lab: str, node: str) -> str:
    return f"{PREFIX}{lab}.{node}"


def split_domain_name(name: str) -> tuple[str, str] | None:
    """``'sl-ha.ctl1'`` -> ``('ha', 'ctl1')``; None for a domain that is not ours."""
    if not name.startswith(PREFIX) or name.count(".") != 1:
        return None
    lab, _, node = name[len(PREFIX):].partition(".")
    return (lab, node) if lab and node else None


def lab_dir(lab: str) -> Path:
    return LAB_ROOT / lab


def node_dir(lab: str, node: str) -> Path:
    return lab_dir(lab) / "nodes" / node


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def mac_address(lab: str, node: str, network: str) -> str:
    """A stable, locally administered MAC (qemu's 52:54:00 prefix) per lab/node/network."""
    tail = _digest("mac", lab, node, network)[:3]
    return "52:54:00:" + ":".join(f"{b:02x}" for b in tail)


def tap_name(lab: str, node: str, network: str) -> str:
    """The tap's name while it sits in the host's root namespace (at most 15 characters)."""
    return "slvt" + _digest("tap", lab, node, network).hex()[:11]


def render(d: Domain) -> str:
    """The domain XML (passes ``virt-xml-validate``; see the unit tests)."""
    nics = "".join(_nic(n) for n in d.nics)
    meta = f'<sl:node xmlns:sl="{NAMESPACE}" lab={quoteattr(d.lab)} node={quoteattr(d.node)}/>'
    tcg = f"<tcg><tb-cache unit='MiB'>{TB_CACHE_MIB}</tb-cache></tcg>" if d.accel == "qemu" else ""
    return f"""<domain type='{d.accel}'>
  <name>{escape(domain_name(d.lab, d.node))}</name>
  <title>stacklab lab {escape(d.lab)} node {escape(d.node)}</title>
  <metadata>{meta}</metadata>
  <memory unit='MiB'>{d.memory_mib}</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{escape(str(d.kernel))}</kernel>
    <initrd>{escape(str(d.initrd))}</initrd>
    <cmdline>{escape(KERNEL_CMDLINE)}</cmdline>
  </os>
  <features><acpi/>{tcg}</features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file={quoteattr(str(d.disk))}/>
      <target dev='vda' bus='virtio'/>
    </disk>{nics}
    <serial type='pty'>
      <log file={quoteattr(str(d.console_log))} append='off'/>
      <target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='none'/>
  </devices>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
</domain>
"""


def _nic(n: Nic) -> str:
    return f"""
    <interface type='ethernet'>
      <mac address='{n.mac}'/>
      <target dev='{n.tap}' managed='no'/>
      <model type='virtio'/>
    </interface>"""
