"""How the deployer reaches a node: run a command, write a file (only when it changed).

``LabTransport`` goes through the lab backend (lxc-attach); an SSH transport for
libvirt VMs or existing clusters would implement the same three methods.

``put`` compares checksums first and reports whether it changed anything: that is
what makes every step idempotent and lets a second deploy say "nothing changed".
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass
from typing import Protocol

from deployer.errors import DeployError
from lab import engine


@dataclass(frozen=True)
class Result:
    node: str
    argv: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0


class Transport(Protocol):
    def run(self, node: str, argv: list[str], *, input: str | None = None, timeout: float = 120,
            check: bool = True, step: str = "") -> Result: ...

    def put(self, node: str, path: str, content: str, *, mode: int = 0o644, owner: str = "root:root") -> bool: ...

    def get(self, node: str, path: str) -> str | None: ...


class LabTransport:
    """Transport over a stacklab lab (``lab.engine.run``)."""

    def __init__(self, lab: engine.LabRef) -> None:
        self.lab = engine.open_lab(lab)  # once: a deploy runs hundreds of commands

    def run(self, node: str, argv: list[str], *, input: str | None = None, timeout: float = 120,
            check: bool = True, step: str = "") -> Result:
        done = self.lab.run(node, argv, input=input, timeout=timeout)
        result = Result(node, argv, done.returncode, done.stdout, done.stderr)
        if check and not result.ok:
            tail = "\n".join((result.stderr or result.stdout).strip().splitlines()[-15:])
            raise DeployError(node, step or argv[0], f"`{shlex.join(argv)}` exited {result.returncode}\n{tail}")
        return result

    def sh(self, node: str, script: str, **kw: object) -> Result:
        return self.run(node, ["/bin/sh", "-ec", script], **kw)  # type: ignore[arg-type]

    def put(self, node: str, path: str, content: str, *, mode: int = 0o644, owner: str = "root:root") -> bool:
        digest = hashlib.sha256(content.encode()).hexdigest()
        probe = f"stat -c '%a %U:%G' {shlex.quote(path)} && sha256sum {shlex.quote(path)}"
        have = self.run(node, ["/bin/sh", "-c", probe], check=False)
        if have.ok and have.stdout.split()[:3] == [f"{mode:o}", owner, digest]:
            return False
        user, _, group = owner.partition(":")
        tmp = f"{path}.stacklab-new"
        # Written beside the target and renamed: a reader never sees half a file.
        # Parent dirs get the usual 0755 (a service reading its config as its own user must
        # traverse them); the file itself is created under umask 077 until chmod sets its mode.
        script = (f"mkdir -p $(dirname {shlex.quote(path)}); umask 077; cat > {shlex.quote(tmp)}; "
                  f"chown {shlex.quote(user)}:{shlex.quote(group or user)} {shlex.quote(tmp)}; "
                  f"chmod {mode:o} {shlex.quote(tmp)}; mv {shlex.quote(tmp)} {shlex.quote(path)}")
        self.run(node, ["/bin/sh", "-ec", script], input=content, step=f"write {path}")
        return True

    def get(self, node: str, path: str) -> str | None:
        done = self.run(node, ["cat", path], check=False)
        return done.stdout if done.ok else None
