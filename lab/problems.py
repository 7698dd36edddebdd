"""Problems found in a model: a YAML path, a message and a severity.

Every semantic check in stacklab returns a list of these instead of raising, so a
file with five mistakes reports all five at once. The loader in ``stacklab`` turns
the path into ``FILE:LINE: yaml.path: message``.

>>> Problem(("topology", "networks", "mgmt", "cidr"), "overlaps network 'storage'").dotted()
'topology.networks.mgmt.cidr'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or suspicious, when ``warning``) with a model."""

    path: Path
    message: str
    warning: bool = False

    def dotted(self) -> str:
        """The YAML path as users write it: ``steps[2].fault.node``."""
        return dotted(self.path)

    def under(self, prefix: Path) -> Problem:
        """The same problem, found in a sub-model that sits at ``prefix``."""
        return Problem(prefix + self.path, self.message, self.warning)


def dotted(path: Path) -> str:
    """Render a path; the empty path is the document root.

    >>> dotted(("steps", 2, "fault"))
    'steps[2].fault'
    >>> dotted(())
    '(root)'
    """
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(root)"


def allowed(values: Iterable[str]) -> str:
    """The 'allowed: a, b, c' tail that every enum-like error ends with."""
    return "allowed: " + ", ".join(sorted(values))


def errors_only(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that make a file invalid (warnings excluded)."""
    return [p for p in problems if not p.warning]
