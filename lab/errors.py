"""Errors raised by the lab layer.

Every failure the lab reports to a user is a :class:`LabError` (or a subclass) whose
message says what was attempted and why it failed, e.g.::

    raise PreflightError("debootstrap not found: apt-get install debootstrap")
"""

from __future__ import annotations


class LabError(Exception):
    """A lab operation failed; ``str(err)`` is a complete, user-facing explanation."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PreflightError(LabError):
    """The host lacks something the lab needs (a Debian package, root, a kernel feature)."""


class CommandError(LabError):
    """A host command failed or timed out; the message holds the command and its output tail."""

    def __init__(self, message: str, *, argv: list[str], returncode: int | None,
                 output_tail: str) -> None:
        super().__init__(message)
        self.argv = argv
        self.returncode = returncode
        self.output_tail = output_tail


class NodeBootError(LabError):
    """One or more nodes did not reach systemd running/degraded in time."""


class UsageError(LabError):
    """The command names something that does not exist or is not allowed (exit code 2, like a bad file)."""
