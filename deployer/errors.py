"""Errors of the deployer: a failed step names node, step, command, exit code and the
last lines of the service's journal, so the user sees why without opening a shell."""

from __future__ import annotations

from lab.errors import LabError


class DeployError(LabError):
    """A deploy step failed; the deploy stops here."""

    def __init__(self, node: str, step: str, detail: str, journal: str = "") -> None:
        message = f"{node}: {step}: {detail}"
        if journal.strip():
            message += "\n--- journal tail ---\n" + journal.rstrip()
        super().__init__(message)
        self.node, self.step = node, step
