"""What turns the container node image into a VM node image (the VM variant's recipe).

This module is the recipe only; :mod:`lab.backends.libvirt.vmimage` runs it and caches
the result. The variant's hash covers the container image's hash and this file's text
(:func:`fingerprint`), so editing it rebuilds the VM variant and never the container image.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

#: A kernel with its initramfs (direct kernel boot), udev (device units, NIC renaming
#: by .link files), and the guest agent that carries commands without a network route.
VM_PACKAGES = ["linux-image-amd64", "udev", "qemu-guest-agent"]

#: Free space in each node's root filesystem beyond what the image uses (sparse: only
#: what a node writes takes room, in its own overlay).
HEADROOM_BYTES = 6 * 2**30

#: Kernel command line of every node: root is the bare ext4 of the disk (no partition
#: table), boot messages go to the serial console the backend logs to a file.
KERNEL_CMDLINE = "root=/dev/vda rw console=ttyS0 panic=-1 systemd.show_status=auto"


def fingerprint() -> str:
    """Hash of this recipe's text."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


#: Runs inside a copy of the container image's rootfs (lab.image.chroot_script).
VM_SH = r"""
printf '#!/bin/sh\n# stacklab VM variant build: postinsts start nothing\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d
DPKG="-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold -o Dpkg::Options::=--force-unsafe-io"
apt-get update
apt-get -y $DPKG install --no-install-recommends @PACKAGES@
rm -f /usr/sbin/policy-rc.d
rm -rf /var/lib/apt/lists/*
printf '/dev/vda\t/\text4\trw,noatime,errors=remount-ro\t0\t1\n' > /etc/fstab
# The lab writes each node's .link (name by MAC) and .network (address, MTU) files into
# its overlay before boot; networkd applies them.
mkdir -p /etc/systemd/system/multi-user.target.wants /etc/systemd/system/sockets.target.wants
ln -sfn /lib/systemd/system/systemd-networkd.service /etc/systemd/system/multi-user.target.wants/
ln -sfn /lib/systemd/system/systemd-networkd.socket /etc/systemd/system/sockets.target.wants/
# The guest agent carries every command the lab runs: wanted at boot (its unit waits for
# its virtio port), whether or not a udev rule starts it too.
ln -sfn /lib/systemd/system/qemu-guest-agent.service /etc/systemd/system/multi-user.target.wants/
mkdir -p /etc/systemd/network
# `stacklab shell` is the serial console: root is logged in there, as lxc-attach would be.
mkdir -p /etc/systemd/system/serial-getty@ttyS0.service.d
printf '[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200,38400,9600 %%I $TERM\n' \
    > /etc/systemd/system/serial-getty@ttyS0.service.d/stacklab.conf
ls /boot/vmlinuz-* /boot/initrd.img-*
"""


def vm_script() -> str:
    return VM_SH.replace("@PACKAGES@", " ".join(VM_PACKAGES))
