"""A VM's tap on the lab's fabric, without a VM (root; no libvirt, no qemu: milliseconds).

The test holds the tap's file descriptor exactly as qemu does (``TUNSETIFF`` on
``/dev/net/tun``, opened while the tap is in the root namespace, as libvirt opens it)
and speaks ARP through it to a container-style node on the same bridge. It proves what
the libvirt backend relies on: the descriptor keeps working after the tap moved into the
fabric namespace, a link fault on the port cuts it, and a power cycle's move out and back
in keeps a ``link_down`` in force and the link's standing rate (tbf) shaped.
"""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import time
from pathlib import Path

import pytest

from lab import fabric, linkfaults
from lab.backends.libvirt import domxml, taps
from tests.lab.conftest import require_netns

pytestmark = pytest.mark.root
_TUNSETIFF, _IFF_TAP, _IFF_NO_PI = 0x400454CA, 0x0002, 0x1000


def open_tap(name: str) -> int:
    """What libvirt does for a managed='no' tap: attach to it by name in its namespace."""
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, _TUNSETIFF, struct.pack("16sH", name.encode(), _IFF_TAP | _IFF_NO_PI))
    subprocess.run(["ip", "link", "set", name, "up"], check=True)  # libvirt sets it up
    return fd


def arp_answered(fd: int, mac: str, src: bytes, dst: bytes) -> bool:
    """Send an ARP who-has for ``dst`` from the VM's side; True when the reply comes back."""
    hw = bytes.fromhex(mac.replace(":", ""))
    frame = (b"\xff" * 6 + hw + b"\x08\x06" + struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1)
             + hw + src + b"\0" * 6 + dst)
    try:
        os.write(fd, frame)
    except OSError:  # EIO: the port is down (qemu drops the frame the same way)
        return False
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        if select.select([fd], [], [], 0.1)[0]:
            got = os.read(fd, 2048)
            if got[12:14] == b"\x08\x06" and got[20:22] == b"\x00\x02" and got[28:32] == dst:
                return True
    return False


def tc_qdiscs(lab: str, dev: str) -> str:
    return subprocess.run(["ip", "netns", "exec", f"sl-{lab}.fab", "tc", "qdisc", "show", "dev", dev],
                          capture_output=True, text=True, check=True).stdout


def test_tap_fd_survives_the_move_and_link_faults_act_on_it(lab_name: str) -> None:
    require_netns()
    plan = fabric.FabricPlan(lab_name, [fabric.NetworkPlan("m", 1500)], ["a", "b"],
                             [fabric.Attachment("a", "m", "m0", "10.66.0.1/24", 1500, rate_mbit=100),
                              fabric.Attachment("b", "m", "m0", "10.66.0.2/24", 1500)])
    nic = domxml.Nic("m", "m0", "10.66.0.1/24", 1500, domxml.mac_address(lab_name, "a", "m"),
                     domxml.tap_name(lab_name, "a", "m"), rate_mbit=100)
    here, there = bytes([10, 66, 0, 1]), bytes([10, 66, 0, 2])
    fabric.build(plan)
    try:
        states = taps.prepare(lab_name, "a", [nic])
        assert Path(f"/proc/sys/net/ipv6/conf/{nic.tap}/disable_ipv6").read_text().strip() == "1"
        fd = open_tap(nic.tap)
        taps.plug(lab_name, "a", [nic], {"m": nic.address}, states)
        port = fabric.find_port(lab_name, "a", "m")  # the tap, under the port's name
        assert port.name == fabric.port_name("a", "m")
        assert arp_answered(fd, nic.mac, here, there)
        assert port.rate_mbit == 100 and "tbf" in tc_qdiscs(lab_name, port.name), "the standing rate"
        linkfaults.link_down(lab_name, "a", "m")
        assert not arp_answered(fd, nic.mac, here, there)
        os.close(fd)  # power off: qemu is gone; power on: out to the root namespace and back
        states = taps.prepare(lab_name, "a", [nic])
        assert states == {"m": "down"}
        fd = open_tap(nic.tap)
        taps.plug(lab_name, "a", [nic], {"m": nic.address}, states)
        assert not arp_answered(fd, nic.mac, here, there), "link_down must hold across a power cycle"
        linkfaults.link_up(lab_name, "a", "m")
        assert arp_answered(fd, nic.mac, here, there)
        assert "tbf" in tc_qdiscs(lab_name, port.name), "the standing rate survives the power cycle"
        os.close(fd)
    finally:
        fabric.destroy(lab_name)
    assert taps.remove_leftovers(lab_name) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    assert nic.tap not in links
