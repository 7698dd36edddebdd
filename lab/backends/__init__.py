"""Node backends by name; each lives in its own package ``lab/backends/<name>/``.

A backend is imported on use (``get``), so code outside ``lab/backends/<name>/`` never
imports one: it asks for a ``Backend`` by name and talks to the interface in
``lab.backends.base``. Adding a backend is its package plus one line here.

>>> sorted(BACKENDS)
['libvirt', 'lxc']
"""

from __future__ import annotations

import importlib

from lab.backends.base import Backend
from lab.errors import UsageError

BACKENDS = {"lxc": "lab.backends.lxc:LxcBackend"}  # name -> "module:Class"
BACKENDS["libvirt"] = "lab.backends.libvirt:LibvirtBackend"
DEFAULT = "lxc"


def get(name: str) -> Backend:
    if name not in BACKENDS:
        raise UsageError(f"unknown backend '{name}'; allowed: {', '.join(sorted(BACKENDS))}")
    module, cls = BACKENDS[name].split(":")
    backend: Backend = getattr(importlib.import_module(module), cls)()
    return backend


def every() -> list[Backend]:
    """One of each backend: for discovery of labs that left no state file."""
    return [get(name) for name in sorted(BACKENDS)]
