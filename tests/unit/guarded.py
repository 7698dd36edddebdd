"""Validate files under a hard resource guard: the golden error tests' harness.

A regression in the YAML bounds (aliases expanding again, an unbounded composer) must
fail a test, not eat the machine. So validation runs in a child process with an
address-space limit (RLIMIT_AS), a CPU-time limit per file (ITIMER_VIRTUAL: counts
only our own CPU, so a busy shared machine does not make it flaky) and a wall-clock
timeout for the whole child. The child reports one JSON line per file: exit code,
stderr, seconds and peak RSS (which the bench prints; tests assert only outcomes).

    python -m tests.unit.guarded FILE...       # JSON lines on stdout
    python -m tests.unit.guarded --naive FILE  # yaml.safe_load + json.dumps: proves the guard fires
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ADDRESS_SPACE = 512 * 2**20  # the validator needs ≈ 60 MB; billion laughs needs gigabytes
CPU_SECONDS_PER_FILE = 5.0
WALL_TIMEOUT = 600.0  # the whole child, generous: the machine is shared and may be busy


@dataclass
class Outcome:
    file: str
    code: int
    stderr: str
    stdout: str
    seconds: float
    peak_rss_kib: int


def validate_guarded(files: list[str], cwd: Path, *, naive: bool = False) -> dict[str, Outcome]:
    """Run ``stacklab validate`` on each file in one guarded child; outcomes by file.

    A file missing from the result is one the child died on (the guard fired). With
    ``naive`` the child expands the file as a plain PyYAML user would instead."""
    argv = [sys.executable, "-m", "tests.unit.guarded", *(["--naive"] if naive else []), *files]
    proc = subprocess.run(argv, cwd=cwd, capture_output=True,
                          text=True, timeout=WALL_TIMEOUT, check=False,
                          env={"PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PATH": "/usr/bin:/bin"})
    outcomes = [Outcome(**json.loads(line)) for line in proc.stdout.splitlines() if line.startswith("{")]
    found = {o.file: o for o in outcomes}
    for missing in (f for f in files if f not in found):
        found[missing] = Outcome(missing, -1, f"guarded child died (exit {proc.returncode}): "
                                 f"{proc.stderr[-2000:]}", "", 0.0, 0)
    return found


class CpuTimeout(Exception):
    """The per-file CPU budget ran out."""


def _on_timer(signum: int, frame: FrameType | None) -> None:
    raise CpuTimeout(f"more than {CPU_SECONDS_PER_FILE} s of CPU")


def _naive_main(argv: list[str]) -> int:
    """What loading used to amount to: every alias expanded into its own copy."""
    import json as _json

    import yaml

    with open(argv[-1], encoding="utf-8") as f:
        print(len(_json.dumps(yaml.safe_load(f))))
    return 0


def _validate_one(path: str, naive: bool) -> Outcome:
    from stacklab.cli import main

    err, out = io.StringIO(), io.StringIO()
    start = time.perf_counter()
    signal.setitimer(signal.ITIMER_VIRTUAL, CPU_SECONDS_PER_FILE)
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            code = (_naive_main if naive else main)(["validate", path])
    except (MemoryError, CpuTimeout, RecursionError) as e:
        code, err = -2, io.StringIO(f"guard fired: {type(e).__name__}: {e}")
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        # Out of memory, redirect_*'s own __exit__ may fail before it restores the streams.
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return Outcome(path, code, err.getvalue(), out.getvalue(), seconds, peak)


def _child(args: list[str]) -> None:
    naive = args[:1] == ["--naive"]
    files = args[1:] if naive else args
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))
    signal.signal(signal.SIGVTALRM, _on_timer)
    import stacklab.cli  # noqa: F401  # imported before the first timer: not a file's cost

    for path in files:
        print(json.dumps(_validate_one(path, naive).__dict__), flush=True)


if __name__ == "__main__":
    _child(sys.argv[1:])
