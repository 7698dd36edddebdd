"""Run long host commands with a heartbeat, a log and an explained failure.

The image build runs commands that take minutes (debootstrap, apt-get). A user must
see that something is alive, and a failure must show the command and what it printed
last, never a bare ``CalledProcessError``.

Example::

    out = run_logged(["debootstrap", ...], label="debootstrap", progress=print)
"""

from __future__ import annotations

import collections
import os
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from lab.errors import CommandError

Progress = Callable[[str], None]

#: How many output lines a failure message quotes.
TAIL_LINES = 30


def _reader(stream: TextIO, lines: queue.Queue[str | None]) -> None:
    """Pump a pipe into a queue so the caller can wait on it with a timeout."""
    for line in stream:
        lines.put(line.rstrip("\n"))
    lines.put(None)


def _fail(argv: list[str], label: str, rc: int | None, tail: collections.deque[str],
          why: str) -> CommandError:
    """Build the error a failed command raises: what ran, why it failed, the tail."""
    text = "\n".join(tail)
    msg = (f"{label} failed ({why}): {shlex.join(argv)}\n"
           f"--- last {len(tail)} lines of output ---\n{text}")
    return CommandError(msg, argv=argv, returncode=rc, output_tail=text)


def run_logged(argv: list[str], *, label: str, progress: Progress | None = None,
               log: Path | None = None, heartbeat: float = 10.0,
               timeout: float | None = None, env: dict[str, str] | None = None,
               input: str | None = None) -> str:
    """Run ``argv`` (stderr merged into stdout), return its output.

    Every ``heartbeat`` seconds ``progress`` gets a line with the elapsed time and the
    last output line, so a multi-minute apt-get is visibly alive. The full output is
    appended to ``log`` when given. Non-zero exit or ``timeout`` raises
    :class:`CommandError` naming the command, with the output tail.
    """
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                                text=True, errors="replace", env=env)
    except FileNotFoundError as exc:
        raise _fail(argv, label, None, tail, f"{exc.filename} not found") from exc
    if input is not None:
        threading.Thread(target=_feed, args=(proc, input), daemon=True).start()
    try:
        with open(log or os.devnull, "a", encoding="utf-8") as logf:
            out = _pump(proc, logf, tail, label, progress, heartbeat, timeout)
        rc = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if out is None:
        raise _fail(argv, label, None, tail, f"timed out after {timeout:.0f} s")
    if rc != 0:
        raise _fail(argv, label, rc, tail, f"exit {rc}")
    return "\n".join(out)


def _pump(proc: subprocess.Popen[str], logf: TextIO, tail: collections.deque[str],
          label: str, progress: Progress | None, heartbeat: float,
          timeout: float | None) -> list[str] | None:
    """Collect output lines, log them, beat the heartbeat; None on timeout."""
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_reader, args=(proc.stdout, lines), daemon=True).start()
    out: list[str] = []
    start = time.monotonic()
    next_beat = start + heartbeat
    while True:
        now = time.monotonic()
        if timeout is not None and now - start > timeout:
            return None
        try:
            line = lines.get(timeout=max(0.05, min(next_beat - now, 1.0)))
        except queue.Empty:
            line = ""
        if line is None:
            return out
        if line:
            tail.append(line)
            out.append(line)
            logf.write(line + "\n")
        if progress and time.monotonic() >= next_beat:
            last = tail[-1][:100] if tail else ""
            progress(f"  ... {label}: {time.monotonic() - start:.0f} s  {last}")
            next_beat = time.monotonic() + heartbeat


def _feed(proc: subprocess.Popen[str], data: str) -> None:
    """Write stdin from a thread so a chatty child never deadlocks on a full pipe."""
    assert proc.stdin is not None
    try:
        proc.stdin.write(data)
        proc.stdin.close()
    except BrokenPipeError:
        pass


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists (and is not a zombie we already reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
