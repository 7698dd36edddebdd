"""Oversized hostile files, generated at test time (the repo stays small); their golden
messages are committed under ``tests/unit/data/invalid/generated/NAME.err`` and name
the file as ``generated/NAME.yaml`` (the tests run from a temporary directory).

Each maker writes one file that must cost the validator almost nothing to refuse.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from stacklab.yamlsrc import MAX_BYTES

LAB = """name: big
topology:
  networks:
    mgmt: {cidr: 10.0.0.0/24}
  nodes:
    ctl: {count: 3, roles: [controller], networks: [mgmt]}
"""


def too_big(path: Path) -> None:
    """Valid YAML (comments), one line past the size limit."""
    line = "# " + "x" * 77 + "\n"
    path.write_text(LAB + line * (MAX_BYTES // len(line) + 1))


def sparse_10g(path: Path) -> None:
    """10 GB by stat, nothing on disk: refused from stat alone, never read."""
    path.write_text(LAB)
    os.truncate(path, 10 * 2**30)


def huge_scalar(path: Path) -> None:
    path.write_text(LAB + "summary: " + "lol" * 60_000 + "\n")


def huge_key(path: Path) -> None:
    path.write_text(LAB + "k" * 5000 + ": 1\n")


def many_values(path: Path) -> None:
    """A flow sequence of 50 000 items in 100 KB: bounded by the node count."""
    path.write_text(LAB + "summary: [" + ", ".join(["1"] * 50_000) + "]\n")


def many_unknown_keys(path: Path) -> None:
    """900 unknown keys (under the value bound): every one a problem, the report capped."""
    path.write_text(LAB + "".join(f"extra{i}: {i}\n" for i in range(900)))


def too_many_keys(path: Path) -> None:
    """3000 keys: past the value bound, refused while composing."""
    path.write_text(LAB + "".join(f"extra{i}: {i}\n" for i in range(3000)))


def deep_flow(path: Path) -> None:
    """10 000 nested '[': past Python's recursion limit if the composer were unbounded."""
    path.write_text(LAB + "summary: " + "[" * 10_000 + "]" * 10_000 + "\n")


def fifo(path: Path) -> None:
    """A named pipe: reading it would block forever."""
    os.mkfifo(path)


def long_lines(path: Path) -> None:
    """One 200 KB line of spaces before a value: under every bound, refused by the schema."""
    path.write_text(LAB + "summary:" + " " * 200_000 + "1\n")


GENERATED: dict[str, Callable[[Path], None]] = {
    f.__name__.replace("_", "-"): f
    for f in (too_big, sparse_10g, huge_scalar, huge_key, many_values, many_unknown_keys, too_many_keys, deep_flow,
              fifo, long_lines)
}
