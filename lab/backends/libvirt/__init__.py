"""The libvirt backend: nodes as qemu VMs (Debian packages ``libvirt-daemon``,
``libvirt-daemon-driver-qemu``, ``qemu-system-x86``, ``qemu-utils``; ``libvirt-python``).

``backend`` is the ``Backend`` implementation; ``domxml`` names and the domain XML;
``vmimage`` + ``recipe`` the VM variant of the node image; ``disk`` each node's overlay
and identity; ``taps`` its NICs on the fabric; ``agent`` commands through the guest
agent; ``daemon`` the connection (and libvirtd/virtlogd started when nothing runs them).
Nothing outside this package imports it: the lab engine gets it by name from ``lab.backends``.
"""

from __future__ import annotations

from lab.backends.libvirt.backend import LibvirtBackend

__all__ = ["LibvirtBackend"]
