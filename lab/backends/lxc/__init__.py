"""The LXC backend: nodes as LXC system containers (Debian package ``lxc``).

``backend`` is the ``Backend`` implementation; ``config`` names, paths and config
text; ``host`` the host-side cgroup, mount and memory plumbing; ``reap`` the child
processes LXC leaves behind. Nothing outside this package imports it: the lab engine
gets it by name from ``lab.backends``.
"""

from __future__ import annotations

from lab.backends.lxc.backend import LxcBackend
from lab.backends.lxc.config import LAB_ROOT, container_name, lab_dir

__all__ = ["LAB_ROOT", "LxcBackend", "container_name", "lab_dir"]
