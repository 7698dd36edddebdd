"""The state file of a lab: what was asked for and what exists, so any later process
(``stacklab down`` after the harness was SIGKILLed, ``stacklab fault`` from another
shell) can act on the lab.

State lives in ``/run/stacklab/<lab>/state.json`` (gone with a reboot, like the
namespaces it describes). Writes are atomic (write + rename); a per-lab lock file
keeps two processes from changing one lab at once.

>>> s = LabState(lab="demo", backend="lxc", source="scenarios/labs/ha.yaml")
>>> LabState.from_json(s.to_json()).lab
'demo'
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lab.errors import LabError, UsageError
from lab.modelbase import check_lab_name

RUN_DIR = Path(os.environ.get("STACKLAB_RUN_DIR", "/run/stacklab"))


@dataclasses.dataclass
class LabState:
    lab: str
    backend: str
    source: str
    phase: str = "creating"  # creating -> up; "creating" after a crash means half-built
    topology: dict[str, Any] = dataclasses.field(default_factory=dict)
    topology_hash: str = ""
    image: str = ""
    nodes: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # name -> roles, addresses
    faults: list[dict[str, Any]] = dataclasses.field(default_factory=list)  # active faults, for heal
    pid: int = dataclasses.field(default_factory=os.getpid)
    created_at: float = dataclasses.field(default_factory=time.time)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)  # node order is the topology's

    @classmethod
    def from_json(cls, text: str) -> LabState:
        data = json.loads(text)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def checked(lab: str) -> str:
    """``lab`` if it is a valid lab name; UsageError otherwise. Every path of a lab is
    built from its name and ``down`` removes such paths recursively as root: a name like
    ``../../etc`` must never get that far."""
    try:
        return check_lab_name(lab)
    except ValueError as e:
        raise UsageError(str(e)) from None


def lab_run_dir(lab: str) -> Path:
    return RUN_DIR / checked(lab)


def state_path(lab: str) -> Path:
    return lab_run_dir(lab) / "state.json"


def save(state: LabState) -> None:
    path = state_path(state.lab)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(state.to_json())
    os.replace(tmp, path)


def load(lab: str) -> LabState | None:
    """The lab's state, or None when it has none (never created, or already down)."""
    path = state_path(lab)
    try:
        return LabState.from_json(path.read_text())
    except FileNotFoundError:
        return None
    except (ValueError, TypeError) as e:
        raise LabError(f"state file {path} is unreadable ({e}); `stacklab down {lab}` removes the lab anyway") from e


def remove(lab: str) -> None:
    """Remove the lab's run dir: state, and whatever else lives there (secrets, CA)."""
    shutil.rmtree(lab_run_dir(lab), ignore_errors=True)


def labs_with_state() -> set[str]:
    if not RUN_DIR.is_dir():
        return set()
    return {p.parent.name for p in RUN_DIR.glob("*/state.json")}


@contextlib.contextmanager
def locked(lab: str, timeout: float = 120.0) -> Iterator[None]:
    """Hold the lab's lock; another process working on the same lab makes us wait."""
    checked(lab)
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    # The lock lives beside (not inside) the lab's dir, so remove() can delete the dir.
    fd = os.open(RUN_DIR / f".{lab}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LabError(f"lab '{lab}' is busy: another stacklab process holds "
                                   f"{RUN_DIR}/.{lab}.lock for more than {timeout:.0f} s") from None
                time.sleep(0.1)
        yield
    finally:
        os.close(fd)


def forget_lock(lab: str) -> None:
    """Remove the lab's lock file once the lab is gone (a lab leaves no file behind)."""
    with contextlib.suppress(FileNotFoundError):
        (RUN_DIR / f".{checked(lab)}.lock").unlink()
