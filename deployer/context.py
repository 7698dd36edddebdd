"""What every deploy step gets: inventory, cloud options, transport, secrets, CA, templates,
and helpers that keep steps idempotent (write-if-changed, restart-if-changed) and
failures explained (journal tail of the unit that failed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import jinja2

from deployer.errors import DeployError
from deployer.inventory import Inventory
from deployer.model import Cloud
from deployer.pki import CA, Secrets
from deployer.transport import LabTransport, Result

TEMPLATES = Path(__file__).parent / "templates"
T = TypeVar("T")
_JINJA = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                            keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True, autoescape=False)


def render(template: str, **values: Any) -> str:
    """Render ``deployer/templates/<template>``; an undefined variable is an error."""
    return _JINJA.get_template(template).render(**values)


@dataclass
class Context:
    inv: Inventory
    cloud: Cloud
    t: LabTransport
    secrets: Secrets
    ca: CA
    say: Callable[[str], None] = print
    changes: list[str] = field(default_factory=list)
    component: str = ""

    def put(self, node: str, path: str, content: str, *, mode: int = 0o644, owner: str = "root:root") -> bool:
        """Write a file if its content, mode or owner differ; True (and recorded) if it did."""
        changed = self.t.put(node, path, content, mode=mode, owner=owner)
        if changed:
            self.changes.append(f"{node}:{path}")
        return changed

    def template(self, node: str, path: str, template: str, *, mode: int = 0o644, owner: str = "root:root",
                 **values: Any) -> bool:
        return self.put(node, path, render(template, **values), mode=mode, owner=owner)

    def sh(self, node: str, script: str, *, step: str = "", timeout: float = 120, check: bool = True,
           input: str | None = None) -> Result:
        return self.t.run(node, ["/bin/sh", "-ec", script], step=step or f"{self.component}: shell",
                          timeout=timeout, check=check, input=input)

    def changed(self, what: str) -> None:
        """Record a change that was not a file write (a bootstrap, a cluster join)."""
        self.changes.append(what)

    def service(self, node: str, unit: str, *, restart: bool = False) -> None:
        """Enable the unit (so a power-cycled node starts it) and make sure it runs; restart
        it when its configuration changed. Fails with the unit's journal tail."""
        active = self.t.run(node, ["systemctl", "is-active", "--quiet", unit], check=False).ok
        # `is-enabled` is fooled by Alias= links the image keeps (chronyd.service, garbd.service):
        # what starts a unit at boot is a *.wants link, so look for that.
        wants = f"/etc/systemd/system/*.wants/{unit if '.' in unit else unit + '.service'}"
        enabled = self.t.run(node, ["/bin/sh", "-c", f"ls {wants} >/dev/null 2>&1"], check=False).ok
        if not enabled:
            self.t.run(node, ["systemctl", "enable", "--quiet", unit], step=f"{self.component}: enable {unit}")
        if active and not restart:
            return
        verb = "restart" if active else "start"
        done = self.t.run(node, ["systemctl", verb, unit], check=False, timeout=180)
        if not done.ok:
            detail = done.stderr.strip() or f"exit {done.returncode}"
            raise DeployError(node, f"{self.component}: {verb} {unit}", detail, self.journal(node, unit))
        self.changed(f"{node}:{verb} {unit}")

    def journal(self, node: str, unit: str, lines: int = 30) -> str:
        done = self.t.run(node, ["journalctl", "-u", unit, "-n", str(lines), "--no-pager", "-o", "short-precise"],
                          check=False)
        return done.stdout

    def wait(self, what: str, probe: Callable[[], bool], *, timeout: float = 60, node: str = "",
             unit: str = "", interval: float = 0.25) -> float:
        """Poll ``probe`` until true; return seconds waited. On timeout the error names what
        was awaited (and the unit's journal tail when given)."""
        start = time.monotonic()
        while not probe():
            if time.monotonic() - start > timeout:
                raise DeployError(node or "lab", f"{self.component}: waiting for {what}",
                                  f"not reached after {timeout:.0f} s", self.journal(node, unit) if unit else "")
            time.sleep(interval)
        return time.monotonic() - start

    def parallel(self, items: Iterable[T], fn: Callable[[T], Any]) -> None:
        """Run ``fn`` on every item at once (one thread each); the first failure is raised."""
        items = list(items)
        if len(items) <= 1:
            for item in items:
                fn(item)
            return
        with ThreadPoolExecutor(max_workers=len(items)) as pool:
            for future in [pool.submit(fn, item) for item in items]:
                future.result()
