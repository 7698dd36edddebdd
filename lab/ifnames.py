"""Kernel interface names of a lab's fabric: short enough for the kernel, unique per lab.

Linux interface names hold at most 15 characters (IFNAMSIZ 16 with the NUL). Inside a
node the names are the network's plus ``0`` (``mgmt0``, at most 9); in the lab's
fabric namespace each network has a bridge ``br-<network>`` and each attachment a
veth ``<node>-<network>``. Node names may be longer than that budget allows
(Sausage Cloud's ``compute5`` on ``overlay``): then the port is the node name cut
to 8 characters plus a hash of the full (node, network) pair, still readable in
``ip link`` and unique; its ifalias carries the full names anyway.

>>> port_name("ctl1", "mgmt")
'ctl1-mgmt'
>>> port_name("compute5", "overlay")
'compute5-739a52'
"""

from __future__ import annotations

import hashlib

IFNAMSIZ = 15  # kernel interface-name limit (16 bytes with the NUL)
_CUT = 8  # characters of the node name kept in a hashed port name
_HASH = IFNAMSIZ - _CUT - 1


def bridge_name(network: str) -> str:
    """The fabric bridge of a network (``br-mgmt``); node names end in a digit, so no clash."""
    return f"br-{network}"


def port_name(node: str, network: str) -> str:
    """Fabric-side veth name: ``<node>-<network>`` if it fits in 15 characters, else the
    first 8 characters of the node, ``-`` and 6 hex digits of the pair's hash."""
    name = f"{node}-{network}"
    if len(name) <= IFNAMSIZ:
        return name
    digest = hashlib.sha1(f"{node}/{network}".encode()).hexdigest()[:_HASH]
    return f"{node[:_CUT]}-{digest}"


def node_ifname(network: str) -> str:
    """Node-side interface name: stable and meaningful (``mgmt0``)."""
    return f"{network}0"
