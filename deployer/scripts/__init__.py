"""Scripts the deployer runs INSIDE lab nodes (``/usr/bin/python3``, only what the image
has: openstacksdk comes with python3-openstackclient). Each reads one JSON object on
stdin (secrets stay out of argv) and prints one JSON line.

>>> "def main" in source("neutron_register")
True
"""

from __future__ import annotations

from pathlib import Path

DIR = Path(__file__).parent


def source(name: str) -> str:
    """The text of ``deployer/scripts/<name>.py``."""
    return (DIR / f"{name}.py").read_text()
